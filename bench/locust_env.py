"""Locust's own virtual environment, built on first use.

Locust 2.x needs urllib3 2.x (`create_urllib3_context`); the project's environment holds urllib3 1.26,
which botocore allows and checkov (the template scanner) pins exactly. So Locust never shares the
project's environment: `driver-routing bench --api` builds a venv beside the bench's state with one pinned
Locust from the package index and runs it as a subprocess (gevent's monkey-patching stays out of the
stack's process too).
"""

from __future__ import annotations

import subprocess
import venv
from collections.abc import Callable
from pathlib import Path

LOCUST_VERSION = "2.47.0"
DEFAULT_VENV = Path(".driver-routing/locust-venv")


class LocustEnvError(RuntimeError):
    """The venv could not be built; the message says what pip answered."""


def locust_executable(root: Path) -> Path:
    return root / "bin" / "locust"


def _installed(root: Path) -> bool:
    marker = root / "locust-version"
    return (
        locust_executable(root).exists()
        and marker.exists()
        and marker.read_text(encoding="utf-8").strip() == LOCUST_VERSION
    )


def ensure_locust(root: Path = DEFAULT_VENV, echo: Callable[[str], None] = print) -> Path:
    """The `locust` executable of the venv at `root`, building it first when it is missing or stale."""
    if _installed(root):
        return locust_executable(root)
    echo(f"building Locust's own environment in {root} (locust=={LOCUST_VERSION}, once) ...")
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    pip = subprocess.run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", f"locust=={LOCUST_VERSION}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if pip.returncode != 0:
        last = (pip.stderr.strip().splitlines() or ["no output"])[-1]
        raise LocustEnvError(f"pip could not install locust=={LOCUST_VERSION} into {root}: {last}")
    (root / "locust-version").write_text(LOCUST_VERSION + "\n", encoding="utf-8")
    return locust_executable(root)


__all__ = ["DEFAULT_VENV", "LOCUST_VERSION", "LocustEnvError", "ensure_locust"]
