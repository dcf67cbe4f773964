"""The model's click commands: names for the driver-routing group, and evaluate end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from model.cli import commands, evaluate_command
from model.metadata import ARTIFACTS_DIR, ModelMetadata
from tests.samples import noisy_image
from tests.servers import REPO, RunningServer


def test_commands_for_the_project_group() -> None:
    assert [c.name for c in commands] == ["serve", "train", "evaluate"]


def tiny_set(root: Path) -> Path:
    for label, cls in enumerate(("bicycle", "motorcycle")):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            (root / cls / f"{i}.png").write_bytes(noisy_image(10 * label + i, "PNG", (32, 32)))
        (root / cls / "big.jpg").write_bytes(noisy_image(label, "JPEG", (800, 600)))
    return root


def test_evaluate_against_a_running_endpoint_prints_json_last(
    tmp_path: Path, runtime_endpoint: RunningServer
) -> None:
    data = tiny_set(tmp_path / "set")
    result = CliRunner().invoke(
        evaluate_command, ["--data", str(data), "--endpoint-url", runtime_endpoint.url, "--json"]
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


def test_latency_times_the_running_endpoint_and_the_model_alone(
    tmp_path: Path, model_server: RunningServer
) -> None:
    from model.evaluation.latency import main as latency

    png, jpeg = tmp_path / "thumb.png", tmp_path / "photo.jpg"
    png.write_bytes(noisy_image(1, "PNG", (32, 32)))
    jpeg.write_bytes(noisy_image(2, "JPEG", (1600, 1200)))
    result = CliRunner().invoke(
        latency,
        ["--endpoint-url", model_server.url, "--n", "5", "--png", str(png), "--jpeg", str(jpeg), "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["png_32x32"]["bytes"] == png.stat().st_size
    assert figures["jpeg_12mp"]["bytes"] == jpeg.stat().st_size and figures["jpeg_12mp"]["n"] == 20
    for timed in (figures["png_32x32"]["server_ms"], figures["jpeg_12mp"]["round_trip_ms"]):
        assert 0 < timed["p50"] <= timed["p99"]
    side = ModelMetadata.load(ARTIFACTS_DIR).input_side
    for graph in ("model_only", "model_only_thumbnail"):
        assert figures[graph]["side"] == side and figures[graph]["ms"]["p50"] > 0
    assert "bare_backbone" not in figures


def test_importing_the_commands_loads_no_numeric_or_image_library() -> None:
    """`driver-routing --help` and the serving image's entry point pay only for click."""
    heavy = "{'numpy', 'onnxruntime', 'torch', 'PIL'}"
    probe = f"import sys, model.cli; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
