"""The model's click commands: names for the driver-routing group, and evaluate end to end."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from model.cli import commands, evaluate_command
from tests.model.conftest import RunningServer
from tests.samples import noisy_image


def test_commands_for_the_project_group() -> None:
    assert [c.name for c in commands] == ["serve", "train", "evaluate", "fetch-data"]


def tiny_set(root: Path) -> Path:
    for label, cls in enumerate(("bicycle", "motorcycle")):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            (root / cls / f"{i}.png").write_bytes(noisy_image(10 * label + i, "PNG", (32, 32)))
        (root / cls / "big.jpg").write_bytes(noisy_image(label, "JPEG", (800, 600)))
    return root


def test_evaluate_against_a_running_endpoint_prints_json_last(
    tmp_path: Path, model_server: RunningServer
) -> None:
    data = tiny_set(tmp_path / "set")
    result = CliRunner().invoke(
        evaluate_command, ["--data", str(data), "--endpoint-url", model_server.url, "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["n"] == 8
    assert 0.0 <= summary["accuracy"] <= 1.0
    assert 0.0 <= summary["below_threshold"] <= 1.0
    assert summary["latency_ms"]["p50"] > 0 and summary["latency_ms"]["p99"] >= summary["latency_ms"]["p50"]
    assert sum(map(sum, summary["confusion"]["rows_true_cols_pred"])) == 8
    assert "accuracy=" in result.output


def test_evaluate_starts_its_own_endpoint(tmp_path: Path) -> None:
    data = tiny_set(tmp_path / "set")
    result = CliRunner().invoke(evaluate_command, ["--data", str(data), "--json", "--threshold", "0.9"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["n"] == 8 and summary["threshold"] == 0.9
