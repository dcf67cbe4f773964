"""`bench --profile`: where each stack process spends its CPU, sampled by py-spy from outside.

One `py-spy record` per stack process (moto, the endpoint, the functions, the API) for the whole run,
without pausing it (`--nonblocking`); the raw samples stay in the folder given. py-spy's idle detection
leaves some waiting threads in (a condition's wait, a blocking read, the I/O loop's poll): samples whose
innermost frame is such a wait are counted apart (`waiting_percent`), and the shares below are of the
rest, the samples that were working. The summary per process, in the bench's JSON under `profile`:
- `by_package`: the share whose innermost frame is in each package (moto.sqs, waitress, botocore, the
  standard library's json, ...): what kind of work the CPU went to;
- `self`: the functions most often innermost (where the CPU was);
- `stages`: the share with each of the stack's own stages anywhere on the stack: moto's operation
  handlers (`moto/<service>/responses.py`), the functions' services and clients (`services/`,
  `shared/`), the model server (`model/serving/`), the local stand-ins (`local/`): what it was for.
Sampling costs the host a few percent of a core per process: a profiled run's other figures are not
comparable with an unprofiled one's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

RATE_HZ = 50
TOP = 12
# Innermost frames of a thread that waits rather than works.
WAITS = frozenset(
    {
        "threading.py:Condition.wait",
        "threading.py:Event.wait",
        "selectors.py:_PollLikeSelector.select",
        "selectors.py:EpollSelector.select",
        "socket.py:SocketIO.readinto",
        "ssl.py:SSLSocket.recv_into",
        "urllib3/util/wait.py:poll_wait_for_socket.<locals>.do_poll",
        "waitress/wasyncore.py:poll2",
        "waitress/wasyncore.py:poll",
        "queue.py:Queue.get",
        "time.sleep",
    }
)
_STAGE = re.compile(r"^(?:moto/[^/]+/responses\.py|services/|shared/|model/serving/|local/)")
# "function (path/to/file.py:123)" as py-spy's raw format writes a frame.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*?)(?::\d+)?\)$")
_SITE = re.compile(r".*/(?:site|dist)-packages/")


class ProfilerMissing(RuntimeError):
    """py-spy is not installed (the `bench` extra)."""


def py_spy() -> str:
    """The py-spy program beside this interpreter or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise ProfilerMissing(
            "--profile needs py-spy (the 'bench' extra): pip install 'driver-routing[bench]'"
        )
    return found


def frame_location(frame: str) -> tuple[str, str]:
    """(function, module path) of one raw frame: `_serialize (botocore/serialize.py:12)` gives
    ("_serialize", "botocore/serialize.py"), site-packages and the interpreter's folders cut off."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    path = _SITE.sub("", match.group("file"))
    path = re.sub(r".*/lib/python3\.\d+/", "", path)
    cwd = os.getcwd() + "/"
    return match.group("function"), path.removeprefix(cwd)


def package_of(path: str) -> str:
    """`moto/sqs/models.py` -> "moto.sqs", `json/decoder.py` -> "json", `threading.py` -> "threading"."""
    parts = path.removesuffix(".py").split("/")
    if parts[0] in ("moto", "services", "shared", "local", "model") and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0] or "?"


def summarise_raw(lines: Iterable[str], top: int = TOP) -> dict[str, Any]:
    """The summary of one process's raw samples (`frame;frame;...;innermost COUNT` a line)."""
    by_package: Counter[str] = Counter()
    innermost: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = waiting = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_location(f) for f in stack.split(";")]
        # A thread's name comes first when py-spy is asked for it; frames hold a path.
        frames = [f for f in frames if f[1]]
        if not frames:
            continue
        function, path = frames[-1]
        if f"{path}:{function}" in WAITS:
            waiting += count
            continue
        total += count
        by_package[package_of(path)] += count
        innermost[f"{path}:{function}"] += count
        for name in {f"{p}:{f}" for f, p in frames if _STAGE.match(p)}:
            stages[name] += count

    def shares(counter: Counter[str]) -> dict[str, float]:
        return {name: round(100 * n / total, 1) for name, n in counter.most_common(top)} if total else {}

    return {
        "samples": total,
        "waiting_percent": round(100 * waiting / (total + waiting), 1) if total + waiting else 0.0,
        "by_package_percent": shares(by_package),
        "self_percent": shares(innermost),
        "stages_percent": shares(stages),
    }


class StackProfiler:
    """py-spy on every stack process while the `with` block runs; `summary()` after it."""

    def __init__(
        self, pids: Callable[[], Mapping[str, int]], folder: Path, *, rate_hz: int = RATE_HZ
    ) -> None:
        self._pids = pids
        self._rate_hz = rate_hz
        self._program = py_spy()
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._recorders: dict[str, subprocess.Popen[bytes]] = {}
        self._summary: dict[str, Any] = {}

    def __enter__(self) -> StackProfiler:
        for name, pid in sorted(self._pids().items()):
            self._recorders[name] = subprocess.Popen(
                [
                    self._program,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(self._rate_hz),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(self._folder / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for recorder in self._recorders.values():
            if recorder.poll() is None:
                recorder.send_signal(signal.SIGINT)  # py-spy writes what it sampled, then exits
        for name, recorder in self._recorders.items():
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
            output = self._folder / f"{name}.txt"
            if output.exists():
                with output.open(encoding="utf-8", errors="replace") as lines:
                    self._summary[name] = summarise_raw(lines)

    def summary(self) -> dict[str, Any]:
        return {
            "sampler": f"py-spy record --rate {self._rate_hz} --nonblocking",
            "raw": str(self._folder),
            **self._summary,
        }
