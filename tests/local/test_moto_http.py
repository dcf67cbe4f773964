"""The local stack's moto server (`python -m local.motoserver`, served by `local.moto_http`): connections
kept open across requests, a long poll served beside other requests, S3 metadata with underscores."""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import psutil
import pytest
import requests

from local.moto_http import preserved_headers
from local.processes import HOST, free_port, stop_processes, wait_for_http
from shared.aws import clients

BUCKET = "moto-http"
LONG_POLL_S = 20


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.motoserver", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{HOST}:{port}"
    try:
        wait_for_http(f"{url}/moto-api/", 60, process)
        yield url
    finally:
        stop_processes(process)


def aws(service: str, url: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_one_connection_serves_request_after_request(moto_url: str) -> None:
    # GIVEN one HTTP/1.1 connection to the server
    connection = http.client.HTTPConnection(HOST, int(moto_url.rsplit(":", 1)[1]), timeout=10)
    connection.connect()
    socket = connection.sock
    try:
        # WHEN three requests are sent on it, one after the other
        answers = []
        for _ in range(3):
            connection.request("GET", "/_local/requests")
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection"), response.will_close))
            response.read()
            # THEN the server left the connection open after each answer
            assert connection.sock is socket
    finally:
        connection.close()
    assert answers == [(200, None, False)] * 3


def open_connections(port: int) -> set[int]:
    """This process's local ports with a connection open to `port`."""
    return {
        c.laddr.port
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    }


def test_the_stacks_clients_keep_one_connection(moto_url: str) -> None:
    # GIVEN the client the stack's functions build (shared.aws.clients)
    port = int(moto_url.rsplit(":", 1)[1])
    before = open_connections(port)
    clients.clear()
    s3 = clients.client("s3", "us-east-1", moto_url)
    s3.create_bucket(Bucket=BUCKET)

    # WHEN it makes twenty calls one after the other
    for index in range(20):
        s3.put_object(Bucket=BUCKET, Key=f"reuse/{index}", Body=b"x")

    # THEN they all went over one new connection, still open
    assert len(open_connections(port) - before) == 1
    clients.clear()


def test_a_long_poll_waits_while_other_requests_are_served(moto_url: str) -> None:
    # GIVEN a receive long-polling an empty queue
    sqs = aws("sqs", moto_url)
    polled = sqs.create_queue(QueueName="moto-http-polled")["QueueUrl"]
    other = sqs.create_queue(QueueName="moto-http-other")["QueueUrl"]
    received: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: received.extend(
            sqs.receive_message(QueueUrl=polled, WaitTimeSeconds=LONG_POLL_S).get("Messages", [])
        )
    )
    poll.start()

    # WHEN other requests are made while it waits
    for index in range(10):
        sqs.send_message(QueueUrl=other, MessageBody=f"other-{index}")
    others = sqs.receive_message(QueueUrl=other, MaxNumberOfMessages=10)["Messages"]
    still_waiting = poll.is_alive()
    sqs.send_message(QueueUrl=polled, MessageBody="for the poll")
    poll.join(LONG_POLL_S + 10)

    # THEN they were answered while the poll still waited, and the poll got the message sent to it
    assert still_waiting
    assert len(others) == 10
    assert [m["Body"] for m in received] == ["for the poll"]


def test_s3_metadata_with_underscores_and_form_fields_arrive(moto_url: str) -> None:
    # GIVEN an object put with metadata whose names have an underscore and a dash
    s3 = aws("s3", moto_url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="meta/put", Body=b"x", Metadata={"photo_id": "p-1", "depot-id": "d-1"})
    # AND an object posted through a presigned form carrying metadata in its policy
    post = s3.generate_presigned_post(
        Bucket=BUCKET,
        Key="meta/form",
        Fields={"x-amz-meta-upload-id": "u-1"},
        Conditions=[{"x-amz-meta-upload-id": "u-1"}],
    )
    posted = requests.post(post["url"], data=post["fields"], files={"file": ("p.jpg", b"y")}, timeout=10)

    # WHEN their metadata is read back
    put_metadata = s3.head_object(Bucket=BUCKET, Key="meta/put")["Metadata"]
    form_metadata = s3.head_object(Bucket=BUCKET, Key="meta/form")["Metadata"]

    # THEN every name and value arrived, named as S3 names them (lower case, the underscore kept)
    assert posted.status_code == 204, posted.text
    assert put_metadata == {"photo_id": "p-1", "depot-id": "d-1"}
    assert form_metadata == {"upload-id": "u-1"}


def test_an_empty_object_is_stored_like_any_other(moto_url: str) -> None:
    # GIVEN boto3's S3 client, which sends `Expect: 100-continue` with every PutObject
    s3 = aws("s3", moto_url)
    s3.create_bucket(Bucket=BUCKET)

    # WHEN an empty object and a one-byte object are put
    for key, body in (("empty", b""), ("one", b"x")):
        s3.put_object(Bucket=BUCKET, Key=f"sizes/{key}", Body=body)

    # THEN both are stored, with their sizes
    sizes = {k: s3.head_object(Bucket=BUCKET, Key=f"sizes/{k}")["ContentLength"] for k in ("empty", "one")}
    assert sizes == {"empty": 0, "one": 1}


def test_an_underscored_header_never_stands_in_for_a_dashed_one() -> None:
    # GIVEN header lines with underscored metadata, one also sent dashed, and an underscored other header
    block = (
        b"Host: x\r\nx-amz-meta-photo_id: p-1\r\nx-amz-meta-depot_id: forged\r\n"
        b"x-amz-meta-depot-id: d-1\r\nx_forwarded_for: 10.0.0.1\r\n\r\n"
    )
    # WHEN the headers moto keeps are picked out
    kept = preserved_headers(block)
    # THEN only the metadata without a dashed twin is kept, under its name as sent
    assert kept == {"X_AMZ_META_PHOTO_ID": ("x-amz-meta-photo_id", "p-1")}


def test_a_pages_preflight_to_cognito_is_allowed(moto_url: str) -> None:
    """The driver's page and the board sign in from the API's origin with a cross-origin POST to the user
    pool: the browser sends a preflight first, and without the allow headers no page can sign in."""
    answer = requests.options(
        moto_url,
        headers={
            "Origin": "http://127.0.0.1:9",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent",
        },
        timeout=10,
    )
    assert answer.status_code < 300
    assert answer.headers.get("Access-Control-Allow-Origin") in ("*", "http://127.0.0.1:9")
    allowed = answer.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "x-amz-target" in allowed or allowed == "*"
