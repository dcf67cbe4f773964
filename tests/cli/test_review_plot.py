"""`evaluate --reviews --plot` on an install without matplotlib, and --plot without --reviews: one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_evaluate(*args: str, block_matplotlib: bool) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        + (
            "sys.modules['matplotlib'] = None  # as on an install without the extra\n"
            if block_matplotlib
            else ""
        )
        + "from driver_routing.cli import main\n"
        "main(['evaluate'] + sys.argv[1:])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    # click's usage lines aside, as tests/cli/test_errors.py reads them
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("Usage:", "Try "))
    ]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_plot_without_matplotlib_names_the_extra_before_reaching_any_stack(tmp_path: Path) -> None:
    # GIVEN an interpreter without matplotlib, and no stack anywhere
    # WHEN the week is asked for
    result = run_evaluate(
        "--reviews", "--plot", str(tmp_path / "w.png"), "--stack-name", "nowhere", block_matplotlib=True
    )
    # THEN one line says which extra to install, and no file is written
    assert "driver-routing[plot]" in one_line(result)
    assert not (tmp_path / "w.png").exists()


def test_plot_without_reviews_says_to_add_reviews(tmp_path: Path) -> None:
    result = run_evaluate("--plot", str(tmp_path / "w.png"), block_matplotlib=False)
    assert "--reviews" in one_line(result)
