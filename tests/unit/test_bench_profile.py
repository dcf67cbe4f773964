"""`bench --profile`'s summary of py-spy's raw samples: where each process's CPU went."""

from __future__ import annotations

from bench.profile import frame_location, package_of, summarise_raw

RAW = [
    # 6 samples: a receive in moto's SQS model, under the WSGI dispatch
    "run (waitress/task.py:10);SQSResponse.receive_message (moto/sqs/responses.py:283);"
    "receive_message (moto/sqs/models.py:1057) 6\n",
    # 3 samples: serialising a response
    "run (waitress/task.py:10);__call__ (moto/moto_server/werkzeug_app.py:5);"
    "dumps (/usr/lib/python3.11/json/encoder.py:200) 3\n",
    # 1 sample: waitress parsing a request on its I/O thread
    "received (/x/.venv/lib/python3.11/site-packages/waitress/parser.py:99) 1\n",
    # 5 samples of a pool thread waiting for work: counted apart
    "run (waitress/task.py:10);Condition.wait (/usr/lib/python3.11/threading.py:320) 5\n",
    "not a sample line\n",
]


def test_a_frame_names_its_function_and_module() -> None:
    # GIVEN raw frames with site-packages and interpreter paths / WHEN read / THEN those are cut off
    assert frame_location("f (/a/site-packages/botocore/serialize.py:12)") == ("f", "botocore/serialize.py")
    assert frame_location("g (/usr/lib/python3.11/json/decoder.py:3)") == ("g", "json/decoder.py")
    assert package_of("moto/sqs/models.py") == "moto.sqs"
    assert package_of("json/decoder.py") == "json"
    assert package_of("threading.py") == "threading"


def test_samples_are_shared_by_package_innermost_and_anywhere_on_the_stack() -> None:
    # GIVEN fifteen samples of one process, five of them waiting / WHEN summarised
    summary = summarise_raw(RAW)

    # THEN the waits are counted apart, and the working samples' innermost frames give the shares
    assert summary["samples"] == 10
    assert summary["waiting_percent"] == 33.3
    assert summary["by_package_percent"] == {"moto.sqs": 60.0, "json": 30.0, "waitress": 10.0}
    assert summary["self_percent"]["moto/sqs/models.py:receive_message"] == 60.0
    # AND a stage (moto's operation handler) counts once per sample it is anywhere on the stack in
    assert summary["stages_percent"] == {"moto/sqs/responses.py:SQSResponse.receive_message": 60.0}
