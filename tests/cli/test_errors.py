"""Every user mistake and every unreachable part: one line that says what to do, a non-zero exit code,
and no traceback. Each case runs the CLI as a user would, in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from driver_routing.local_record import StackLock, record_path
from local.processes import free_port
from tests.samples import image_bytes


def cli(
    *args: str, state_dir: Path, endpoint: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "DRIVER_ROUTING_"))}
    env.update(
        {
            "DRIVER_ROUTING_STATE_DIR": str(state_dir),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
        }
    )
    if endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.run(
        [sys.executable, "-m", "driver_routing.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=90,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith(("Usage:", "Try "))
    ]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture(scope="module")
def empty_aws() -> Iterator[str]:
    """A moto server with no stack deployed."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_an_unreachable_endpoint_is_named_with_what_to_do(state_dir: Path) -> None:
    # GIVEN an endpoint where nothing listens
    closed = f"http://127.0.0.1:{free_port()}"
    # WHEN a user queries
    line = one_line_error(cli("query", "--driver-id", "d-001", state_dir=state_dir, endpoint=closed))
    # THEN the line names the endpoint and how to start the local stack
    assert closed in line and "driver-routing up" in line


def test_an_empty_endpoint_variable_is_no_endpoint_not_a_crash(state_dir: Path, empty_aws: str) -> None:
    # GIVEN AWS_ENDPOINT_URL set to nothing, as `export AWS_ENDPOINT_URL=` leaves it
    result = cli("status", state_dir=state_dir, endpoint="")
    # THEN the command fails with one line (no `Invalid endpoint` traceback)
    one_line_error(result)


def test_a_missing_stack_is_said_with_its_name(state_dir: Path, empty_aws: str) -> None:
    line = one_line_error(
        cli("status", "--stack-name", "no-such-stack", state_dir=state_dir, endpoint=empty_aws)
    )
    assert "no-such-stack" in line and "--stack-name" in line


def test_a_stale_record_of_the_local_stack_is_detected(state_dir: Path, tmp_path: Path) -> None:
    # GIVEN a record left by an `up` whose terminal was closed (nobody holds its lock)
    state_dir.mkdir(parents=True)
    record_path(state_dir).write_text(
        json.dumps(
            {
                "stack_name": "driver-routing",
                "pid": 999999,
                "environment": {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
            }
        )
    )
    # WHEN a command runs from another folder
    line = one_line_error(cli("status", state_dir=state_dir, cwd=tmp_path))
    # THEN it says the stack is gone and how to go on, instead of a connection traceback
    assert "no longer running" in line and "driver-routing up" in line


def test_a_second_up_refuses_at_once_and_leaves_the_first_alone(state_dir: Path) -> None:
    # GIVEN a running `up` (it holds the state folder's lock and wrote its record)
    lock = StackLock(state_dir)
    lock.acquire()
    record = json.dumps({"stack_name": "driver-routing", "pid": os.getpid(), "environment": {}})
    record_path(state_dir).write_text(record)
    try:
        # WHEN a second `up` starts
        result = cli(
            "up", "--aws-port", str(free_port()), "--endpoint-port", str(free_port()), state_dir=state_dir
        )
        # THEN it refuses before anything is ready, and the first stack's record is untouched
        line = one_line_error(result)
        assert "already running" in line
        assert "AWS (moto server)" not in result.stdout
        assert record_path(state_dir).read_text() == record
    finally:
        lock.release()


def test_up_on_a_port_in_use_says_which(state_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(
            cli("up", "--aws-port", str(port), "--endpoint-port", str(free_port()), state_dir=state_dir)
        )
    assert str(port) in line and "--aws-port" in line


def test_up_on_the_network_warns_before_anything_starts(state_dir: Path) -> None:
    # GIVEN a running `up` on this state folder, so a second one stops at once
    lock = StackLock(state_dir)
    lock.acquire()
    try:
        # WHEN `up` is asked to listen on the network
        result = cli(
            "up", "--listen", "0.0.0.0", "--public-host", "192.0.2.10", "--aws-port", str(free_port()),
            state_dir=state_dir,
        )  # fmt: skip
    finally:
        lock.release()
    # THEN the first line it prints warns that anyone on the network can reach a stack without TLS
    warning = result.stderr.splitlines()[0]
    assert warning.startswith("warning: listening on 0.0.0.0") and "no TLS" in warning
    assert "anyone on the network" in warning
    assert "already running" in result.stderr and "Traceback" not in result.stderr


def test_up_refuses_a_listen_address_that_is_not_one(state_dir: Path) -> None:
    line = one_line_error(cli("up", "--listen", "my-laptop", state_dir=state_dir))
    assert "--listen" in line and "not an IPv4 address" in line


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01"])
def test_a_time_that_is_not_one_is_a_usage_error(state_dir: Path, since: str) -> None:
    result = cli("query", "--since", since, state_dir=state_dir, endpoint="http://127.0.0.1:1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert since in result.stderr and "--since" in result.stderr


def test_upload_checks_the_driver_id_before_sending(state_dir: Path, tmp_path: Path) -> None:
    photo = tmp_path / "bike.jpg"
    photo.write_bytes(image_bytes("JPEG"))
    result = cli(
        "upload", str(photo), "--driver-id", "bad id!", state_dir=state_dir, endpoint="http://127.0.0.1:1"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--driver-id" in result.stderr and "bad id!" in result.stderr


def test_upload_refuses_a_file_type_the_chain_does_not_take(state_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    result = cli(
        "upload", str(notes), "--driver-id", "d-001", state_dir=state_dir, endpoint="http://127.0.0.1:1"
    )
    assert result.returncode == 2 and "notes.txt" in result.stderr and "Traceback" not in result.stderr


def test_upload_of_an_empty_folder_says_nothing_was_found(state_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(
        "upload", str(empty), "--driver-id", "d-001", state_dir=state_dir, endpoint="http://127.0.0.1:1"
    )
    assert result.returncode == 2 and "no photos" in result.stderr and "Traceback" not in result.stderr


def test_query_needs_something_to_look_for(state_dir: Path) -> None:
    result = cli("query", state_dir=state_dir, endpoint="http://127.0.0.1:1")
    assert result.returncode == 2 and "--photo" in result.stderr and "Traceback" not in result.stderr


def test_version_is_printed(state_dir: Path) -> None:
    result = cli("--version", state_dir=state_dir)
    assert result.returncode == 0 and result.stdout.startswith("driver-routing, version ")


def test_serve_on_a_port_in_use_says_so(state_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_line_error(cli("serve", "--port", str(port), state_dir=state_dir))
    assert f"port {port}" in line and "--port" in line


def test_evaluate_asked_for_a_plot_without_matplotlib_fails_before_it_starts(tmp_path: Path) -> None:
    # GIVEN an interpreter without matplotlib
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from driver_routing.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    data = tmp_path / "data"
    (data / "bicycle").mkdir(parents=True)
    # WHEN evaluate is asked for a confusion PNG
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "evaluate",
            "--data",
            str(data),
            "--confusion-png",
            str(tmp_path / "c.png"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # THEN it fails with one line naming the extra, and writes nothing
    line = one_line_error(result)
    assert "driver-routing[bench]" in line
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_data_is_not_shown_as_required_when_it_has_a_default(state_dir: Path, command: str) -> None:
    result = cli(command, "--help", state_dir=state_dir)
    assert result.returncode == 0
    data_help = result.stdout.split("--data", 1)[1].split("\n  --", 1)[0]
    assert "[required]" not in data_help


@pytest.mark.parametrize(
    ("args", "option"), [(["serve", "--port", "99999"], "--port"), (["up", "--aws-port", "0"], "--aws-port")]
)
def test_a_port_that_cannot_be_one_is_a_usage_error(state_dir: Path, args: list[str], option: str) -> None:
    result = cli(*args, state_dir=state_dir)
    assert result.returncode == 2 and option in result.stderr and "Traceback" not in result.stderr


def test_train_refuses_a_soup_of_no_networks(state_dir: Path) -> None:
    result = cli("train", "--thumbnail-soup", "0", state_dir=state_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--thumbnail-soup" in result.stderr
