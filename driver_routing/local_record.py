"""Where a running local stack says how to reach it, so that commands find it from any folder.

`driver-routing up` holds an exclusive lock on `up.lock` in the state folder for as long as it runs and
writes `stack.json` beside it. The lock dies with the process, whatever kills it: a record whose lock
nobody holds is stale, and a second `up` that cannot take the lock refuses before it starts anything.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def default_state_dir() -> Path:
    """`$DRIVER_ROUTING_STATE_DIR`, else the XDG state folder (`~/.local/state/driver-routing`)."""
    if configured := os.environ.get("DRIVER_ROUTING_STATE_DIR"):
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "driver-routing"


@dataclass(frozen=True)
class StackRecord:
    stack_name: str
    environment: dict[str, str]
    pid: int
    path: Path

    @property
    def aws_url(self) -> str:
        return self.environment.get("AWS_ENDPOINT_URL", "")


class StackAlreadyRunning(RuntimeError):
    """Another `up` holds this state folder."""


def record_path(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def read_record(state_dir: Path) -> StackRecord | None:
    path = record_path(state_dir)
    try:
        data = json.loads(path.read_text())
        return StackRecord(data["stack_name"], dict(data["environment"]), int(data["pid"]), path)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # a half-written or foreign file: as good as none


def write_record(state_dir: Path, stack_name: str, environment: dict[str, str]) -> None:
    payload = {"stack_name": stack_name, "environment": environment, "pid": os.getpid()}
    temporary = record_path(state_dir).with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    temporary.replace(record_path(state_dir))


class StackLock:
    """The exclusive lock a running `up` holds on its state folder."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / "up.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            record = read_record(self._path.parent)
            where = f" (pid {record.pid}, AWS at {record.aws_url})" if record else ""
            raise StackAlreadyRunning(
                f"a local stack is already running from {self._path.parent}{where}; "
                "stop it with Ctrl-C in its terminal, or set DRIVER_ROUTING_STATE_DIR to run a second one"
            ) from None
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None


def is_running(state_dir: Path) -> bool:
    """Whether some process holds the folder's lock (a live `up`), without disturbing it."""
    path = state_dir / "up.lock"
    if not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
