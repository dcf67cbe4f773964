"""CPU starvation beside the local stack: one CPU-burning process per core, each stopping by itself.

A starved host (a noisy laptop, a CI box, a cold Lambda) is where races between the stack's threads
show: `driver-routing bench --starve` and the chaos run's starved phase run the chain beside these.
Each burner ends after `max_s` on its own and dies with the process that started it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from local.processes import die_with_parent, stop_processes

BURN = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)


class CpuBurners:
    def __init__(self, count: int | None = None, *, max_s: float = 900.0) -> None:
        self.count = count if count is not None else (os.cpu_count() or 1)
        self.max_s = max_s
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> CpuBurners:
        for _ in range(self.count):
            self._processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", BURN, str(self.max_s)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=die_with_parent,
                )
            )
        return self

    def running(self) -> int:
        return sum(1 for p in self._processes if p.poll() is None)

    def __exit__(self, *exc: object) -> None:
        stop_processes(*self._processes, timeout_s=5)
        self._processes.clear()
