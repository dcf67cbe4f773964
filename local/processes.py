"""Child processes of the local stack on 127.0.0.1: free ports, readiness, and dying with the parent."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the stack's process dies, so a killed
    test run or a closed terminal leaves no poller consuming someone else's queue later."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:  # not Linux: `stop()` is the only cleanup
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_http(
    url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None, *, need_ok: bool = False
) -> None:
    """Wait until `url` answers (with 200 when `need_ok`: the model server pings 503 while it loads)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode} before it answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            if not need_ok:
                return  # it answered
            time.sleep(0.2)
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


def stop_processes(*processes: subprocess.Popen[bytes] | None, timeout_s: float = 15.0) -> None:
    """SIGTERM every one still running (all at once, so they shut down side by side), then wait for each;
    one that outlives `timeout_s` is killed."""
    running = [p for p in processes if p is not None]
    for process in running:
        if process.poll() is None:
            process.terminate()
    for process in running:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
