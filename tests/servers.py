"""Model server subprocesses on free ports: the container, or the container behind the runtime imitation."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from local.processes import HOST, free_port, stop_processes, wait_for_http

REPO = Path(__file__).resolve().parents[1]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]


def start_server(*module_args: str) -> RunningServer:
    """`python -m MODULE [ARGS] --host 127.0.0.1 --port FREE` from the repository root, once /ping is 200."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", *module_args, "--host", HOST, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    url = f"http://{HOST}:{port}"
    try:
        wait_for_http(f"{url}/ping", 60, process, need_ok=True)
    except BaseException:
        stop_server(RunningServer(url, process))
        raise
    return RunningServer(url, process)


def stop_server(server: RunningServer) -> None:
    stop_processes(server.process, timeout_s=10)
