"""The user CLI on a plain install: AWS-facing commands need boto3 and click only; the others say which
extra they need, in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("moto", "samtranslator", "onnxruntime", "numpy", "torch", "waitress", "psutil", "matplotlib")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_the_cli_imports_no_local_stack_model_or_numpy() -> None:
    # GIVEN a fresh interpreter
    # WHEN it imports the CLI and renders the help of every AWS-facing command
    result = run_python(
        "import json, sys\n"
        "from click.testing import CliRunner\n"
        "from driver_routing.cli import main\n"
        "for args in (['--help'], ['upload', '--help'], ['query', '--help'], ['watch', '--help'],"
        " ['status', '--help'], ['redrive', '--help']):\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0, args\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    # THEN none of the heavy or local-only modules was loaded
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("command", "blocked", "extra"), [("up", "samtranslator", "local"), ("serve", "waitress", "serve")]
)
def test_a_command_whose_extra_is_missing_says_which_to_install(
    command: str, blocked: str, extra: str
) -> None:
    # GIVEN an interpreter in which a module of the command's extra cannot be imported
    code = (
        "import sys\n"
        f"sys.modules[{blocked!r}] = None  # import raises ModuleNotFoundError, as on a plain install\n"
        "from driver_routing.cli import main\n"
        f"main([{command!r}] + sys.argv[1:])\n"
    )
    # WHEN the command runs
    result = subprocess.run(
        [sys.executable, "-c", code, *(["--port", "0"] if command == "serve" else [])],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN it fails with one line naming the extra, and no traceback
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"driver-routing[{extra}]" in lines[0] and blocked in lines[0]


def test_help_lists_the_optional_commands_without_loading_them() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['samtranslator'] = None\n"
        "sys.modules['onnxruntime'] = None\n"
        "from click.testing import CliRunner\n"
        "from driver_routing.cli import main\n"
        "print(CliRunner().invoke(main, ['--help']).output)"
    )
    assert result.returncode == 0, result.stderr
    for name in ("up", "demo", "bench", "serve", "train", "evaluate", "upload", "query"):
        assert f"  {name} " in result.stdout
