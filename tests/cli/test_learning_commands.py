"""`dataset from-reviews` and `promote` on a user's mistake: one line saying what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.test_review_plot import one_line


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driver_routing.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_promote_a_folder_without_a_model_says_what_to_give(tmp_path: Path) -> None:
    assert "give a trained model's folder" in one_line(run("promote", str(tmp_path)))


def test_promote_on_aws_needs_all_three_settings(tmp_path: Path) -> None:
    line = one_line(run("promote", str(tmp_path), "--role-arn", "arn:aws:iam::1:role/r"))
    assert "--role-arn, --image-uri and --bucket" in line


def test_from_reviews_with_a_time_it_cannot_read_says_which_forms_it_takes() -> None:
    line = one_line(run("dataset", "from-reviews", "--since", "last tuesday"))
    assert "--since" in line and "7d" in line
