"""The chaos run: over a thousand uploads with bad inputs, duplicated notifications, a throttling endpoint
and an outage, bursts, and every stage killed: the functions' process SIGKILLed twice (every stage at
once, wherever each was), and each stage's environment crashed once after its handler returned and
before its batch was deleted (the router's crash falls between SNS accepting its decisions and SQS
forgetting their messages). Nothing is lost, and a subscriber queue of the test's own sees each
decision once.

Then the starved phase: photos and repeated notifications while one CPU-burning process per core runs
beside the stack, and four receivers share the subscriber queue, as on a noisy laptop or a CI box.
Nothing is lost or doubled there either; a photo decided twice is explained from moto's trace of its
messages.

Run alone with `make chaos`; its last line is one JSON object with the counts, the starved phase's
under `starved`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from driver_routing.subscription import DecisionSubscription
from local.moto_trace import explain, read
from local.stack import POLLERS, LocalStack
from local.starvation import CpuBurners
from shared.aws import clients
from shared.aws.capture_table import CaptureTable
from tests.samples import bad_uploads, noisy_image, s3_notification
from tests.stacks import running_stack

pytestmark = pytest.mark.chaos

REGION = "us-east-1"
GOOD = 900
BAD_ROUNDS = 12  # x 11 kinds = 132 bad uploads (12.8% of 1,032)
DUPLICATED = 120  # at least this many notifications sent twice (129 in practice: 12.5% of uploads)
MALFORMED_PER_QUEUE = 2
TOO_LARGE_BYTES = 3_000_000
UPLOADS_PER_S = 40
BURST_PER_S = 150  # the uploads just before each fault: the fault hits full queues
BURST_UPLOADS = 60
STAGES = ("ingest", "classifier", "router", "capture")
DEADLINE_S = 900
VISIBILITY_S = 12
MAX_RECEIVES = 5
STARVED_GOOD = 300
STARVED_UPLOADS_PER_S = 20
STARVED_DEADLINE_S = 120  # the burners stop by themselves after this, whatever the test does
# `make chaos` prints this file last: the run's counts as one JSON object on the last line.
RESULT = Path(os.environ.get("CHAOS_RESULT", ".driver-routing/chaos.json"))


@dataclass
class Ledger:
    good: dict[str, str] = field(default_factory=dict)  # key -> etag
    bad: dict[str, str] = field(default_factory=dict)  # key -> expected reason
    malformed: set[str] = field(default_factory=set)  # bodies sent straight to a queue
    events: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(
        "driver-routing-chaos",
        Path(tmp_path_factory.mktemp("chaos")),
        # Short timeouts keep the run inside CI's time: a dead poller's batch is visible again in 12 s,
        # and a poison message reaches its DLQ after 5 receives (one minute). `most_receives` in the
        # counts is the margin: the most receives any photo's message took through the faults.
        parameters={
            "FunctionTimeout": "10",
            "QueueVisibilityTimeout": str(VISIBILITY_S),
            "MaxReceiveCount": str(MAX_RECEIVES),
        },
        function_settings={"ENDPOINT_ATTEMPTS": "3", "MAX_PHOTO_BYTES": str(TOO_LARGE_BYTES)},
        endpoint_args=("--fault-throttle-rate", "0.05", "--enable-fault-injection", "--fault-seed", "7"),
        moto_trace=Path(tmp_path_factory.mktemp("trace")) / "moto-trace.jsonl",
    ) as running:
        yield running


def put(s3: Any, bucket: str, key: str, body: bytes) -> str:
    return str(s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]).strip('"')


def start_outage(stack: LocalStack, seconds: float) -> None:
    request = urllib.request.Request(f"{stack.endpoint_url}/faults/outage?seconds={seconds}", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


def kill_functions(stack: LocalStack) -> None:
    """SIGKILL the process of every execution environment; the test's main thread restarts it through
    `stack.supervise()`."""
    process = stack.pollers[POLLERS]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def crash_stage(stack: LocalStack, stage: str) -> None:
    """Crash that stage's environment after its next handler; wait for a restarted process first."""
    deadline = time.monotonic() + 60
    while stack.pollers[POLLERS].poll() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # a restarted process imports its handlers before it handles SIGUSR1
    stack.crash_environment(stage)


def published_more_than_once(stack: LocalStack) -> int:
    """Photos the router published more than once (its crashes and kills): each extra publish is one
    the FIFO topic had to drop for `published_twice` to stay 0."""
    # The environments share the process's stdout: a line may carry more than one JSON object.
    published = re.compile(r'"message":"decision published".*?"photo_key":"((?:[^"\\]|\\.)*)"')
    text = (stack.log_dir / f"{POLLERS}.log").read_text(errors="replace")
    keys = Counter(published.findall(text))
    return sum(1 for n in keys.values() if n > 1)


def crashes_logged(stack: LocalStack) -> dict[str, int]:
    text = (stack.log_dir / f"{POLLERS}.log").read_text(errors="replace")
    return {stage: text.count(f"environment of {stage} crashed") for stage in STAGES}


def upload_everything(stack: LocalStack, ledger: Ledger, run: str) -> None:
    """Uploads at a steady rate, with the faults scheduled by progress through the run."""
    assert stack.resources is not None
    s3, sqs = clients.client("s3", REGION), clients.client("sqs", REGION)
    bucket, ingest_url = stack.resources.bucket, stack.resources.queues["ingest"].url
    plan: list[tuple[str, Any]] = [("good", i) for i in range(GOOD)]
    for round_ in range(BAD_ROUNDS):
        for bad in bad_uploads(f"chaos-{run}", round_, too_large_bytes=TOO_LARGE_BYTES):
            plan.insert((round_ * 11 + len(ledger.bad)) * 7 % len(plan), ("bad", bad))
            ledger.bad[bad.key] = bad.reason
    # Poison first: it needs maxReceiveCount receives to reach its DLQ, while the uploads go on.
    for name, queue in stack.resources.queues.items():
        for n in range(MALFORMED_PER_QUEUE):
            body = f"malformed message {n} for the {name} queue {{"
            fifo = {"MessageGroupId": f"poison-{n}", "MessageDeduplicationId": f"poison-{run}-{n}"}
            sqs.send_message(
                QueueUrl=queue.url, MessageBody=body, **(fifo if queue.url.endswith(".fifo") else {})
            )
            ledger.malformed.add(body)
    eighth = len(plan) // 8
    faults = {
        eighth: "crash ingest",
        2 * eighth: "kill",
        3 * eighth: "crash classifier",
        4 * eighth: "outage",
        5 * eighth: "crash router",
        6 * eighth: "kill",
        7 * eighth: "crash capture",
    }
    duplicates: list[tuple[str, str, int]] = []
    started = time.monotonic()
    clock = started
    for index, (kind, item) in enumerate(plan):
        fault = faults.get(index, "")
        if fault == "kill":
            kill_functions(stack)
            ledger.events.append(f"SIGKILL of every stage's process at upload {index}")
        elif fault == "outage":
            start_outage(stack, 4)
            ledger.events.append(f"endpoint outage of 4 s at upload {index}")
        elif fault.startswith("crash "):
            crash_stage(stack, fault.split()[1])
            ledger.events.append(f"{fault} after its handler, before the delete, at upload {index}")
        if kind == "good":
            name = (
                f"{item:04d} vélo à {run}.{'png' if item % 5 == 0 else 'jpg'}"
                if item % 9 == 0
                else f"{item:04d}.jpg"
            )
            key = f"photos/chaos-{run}-{item % 40}/{name}"
            body = noisy_image(item, "PNG" if name.endswith("png") else "JPEG")
            etag = put(s3, bucket, key, body)
            ledger.good[key] = etag
            if len(duplicates) < DUPLICATED and item % 7 == 3:
                duplicates.append((key, etag, len(body)))
        elif item.body is None:  # a notification for an object deleted before ingest read it
            sqs.send_message(
                QueueUrl=ingest_url, MessageBody=s3_notification(bucket, item.key, "0" * 32, 100)
            )
        else:
            put(s3, bucket, item.key, item.body)
        if duplicates and index % 9 == 0:  # S3 delivers a notification again, a little later
            key, etag, size = duplicates.pop(0)
            sqs.send_message(QueueUrl=ingest_url, MessageBody=s3_notification(bucket, key, etag, size))
            ledger.events.append("dup")
        bursting = any(0 < at - index <= BURST_UPLOADS for at in faults)
        clock += 1 / (BURST_PER_S if bursting else UPLOADS_PER_S)
        time.sleep(max(0.0, clock - time.monotonic()))
    for key, etag, size in duplicates:
        sqs.send_message(QueueUrl=ingest_url, MessageBody=s3_notification(bucket, key, etag, size))
        ledger.events.append("dup")


def dlq_depth(stack: LocalStack) -> int:
    assert stack.resources is not None
    sqs = clients.client("sqs", REGION)
    return sum(
        int(
            sqs.get_queue_attributes(QueueUrl=q.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        for q in stack.resources.queues.values()
    )


def dlq_bodies(stack: LocalStack) -> list[str]:
    assert stack.resources is not None
    sqs = clients.client("sqs", REGION)
    bodies = []
    for queue in stack.resources.queues.values():
        seen: set[str] = set()
        for _ in range(5):
            for message in sqs.receive_message(
                QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", []):
                if message["MessageId"] not in seen:
                    seen.add(message["MessageId"])
                    bodies.append(message["Body"])
    return bodies


def most_receives(stack: LocalStack, keys: set[str]) -> dict[str, int]:
    """For each work queue, the most times one message of these photos was received (moto's trace)."""
    assert stack.resources is not None and stack.config.moto_trace is not None
    names = {queue.url.rsplit("/", 1)[-1]: name for name, queue in stack.resources.queues.items()}
    most = dict.fromkeys(stack.resources.queues, 0)
    for event in read(stack.config.moto_trace):
        if event["op"] == "receive" and event["queue"] in names and event.get("key") in keys:
            queue = names[event["queue"]]
            most[queue] = max(most[queue], int(event["count"]))
    return most


def test_nothing_lost_nothing_doubled(stack: LocalStack) -> None:
    assert stack.resources is not None
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    decisions: Counter[str] = Counter()
    routes: dict[str, Any] = {}
    with DecisionSubscription(
        clients.client("sqs", REGION), clients.client("sns", REGION), stack.resources.topic_arn
    ) as sub:
        uploader = threading.Thread(target=upload_everything, args=(stack, ledger, run), daemon=True)
        t0 = time.monotonic()
        uploader.start()
        table = CaptureTable(clients.client("dynamodb", REGION), stack.resources.capture_table)
        expected = 0
        while time.monotonic() - t0 < DEADLINE_S:
            with ThreadPoolExecutor(4) as pool:
                for batch in pool.map(lambda _: sub.receive(wait_s=1), range(4)):
                    for decision in batch:
                        decisions[decision.photo.key] += 1
                        routes[decision.photo.key] = decision
            stack.supervise()
            expected = len(ledger.good) + len(ledger.bad)
            decided = len([k for k in decisions if k in ledger.good or k in ledger.bad])
            if not uploader.is_alive() and decided >= expected and dlq_depth(stack) >= len(ledger.malformed):
                break
        uploader.join(timeout=60)
        time.sleep(10)  # late duplicates would arrive now
        for decision in sub.receive(wait_s=2) + sub.receive(wait_s=1):
            decisions[decision.photo.key] += 1
        elapsed = time.monotonic() - t0
    records = Counter(
        r.photo_key for r in table.scan() if f"chaos-{run}" in r.photo_key or "driver!" in r.photo_key
    )
    rejected = {r.photo_key: r.reason for r in table.scan() if r.photo_key in ledger.bad}
    good_routed = {k for k in ledger.good if k in decisions and routes[k].route != "rejected"}
    dlq = dlq_bodies(stack)
    counts: dict[str, Any] = {
        "uploaded_good": len(ledger.good),
        "uploaded_bad": len(ledger.bad),
        "duplicated_notifications": ledger.events.count("dup"),
        "decisions": sum(decisions[k] for k in [*ledger.good, *ledger.bad]),
        "records": sum(records[k] for k in [*ledger.good, *ledger.bad]),
        "rejections": len(rejected),
        "lost": len([k for k in [*ledger.good, *ledger.bad] if not decisions[k] or not records[k]]),
        "duplicated": sum(
            max(0, decisions[k] - 1) + max(0, records[k] - 1) for k in [*ledger.good, *ledger.bad]
        ),
        "dlq": len(dlq),
        "dlq_unexplained": len([b for b in dlq if b not in ledger.malformed]),
        "published_twice": sum(1 for k in [*ledger.good, *ledger.bad] if decisions[k] > 1),
        "records_twice": sum(1 for k in [*ledger.good, *ledger.bad] if records[k] > 1),
        "router_published_again": published_more_than_once(stack),
        "most_receives": most_receives(stack, {*ledger.good, *ledger.bad}),
        "functions_process_killed": stack.restarts[POLLERS],
        "stages_crashed": crashes_logged(stack),
        "faults": [e for e in ledger.events if e != "dup"],
        "seconds": round(elapsed, 1),
    }
    lost = [k for k in [*ledger.good, *ledger.bad] if not decisions[k] or not records[k]]
    if lost or counts["dlq_unexplained"]:
        print("lost (first 10):", lost[:10])
        print("unexplained DLQ bodies (first 3):", [b[:300] for b in dlq if b not in ledger.malformed][:3])
        print("logs:", stack.log_dir)
    print("\n" + json.dumps(counts))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(counts) + "\n")
    assert counts["uploaded_good"] + counts["uploaded_bad"] >= 1000
    assert counts["uploaded_bad"] >= 0.1 * (counts["uploaded_good"] + counts["uploaded_bad"])
    assert counts["duplicated_notifications"] >= 0.1 * (counts["uploaded_good"] + counts["uploaded_bad"])
    assert counts["lost"] == 0
    assert counts["duplicated"] == 0
    assert good_routed == set(ledger.good), "a good photo was rejected"
    assert rejected == ledger.bad, "a bad input got the wrong reason, or none"
    assert counts["dlq"] == len(ledger.malformed) and counts["dlq_unexplained"] == 0
    assert counts["published_twice"] == 0, "a subscriber saw a decision twice"
    assert stack.restarts[POLLERS] == 2
    assert all(n >= 1 for n in counts["stages_crashed"].values()), counts["stages_crashed"]


def duplicates_traced(stack: LocalStack, keys: list[str], sub: DecisionSubscription) -> list[str]:
    """The cause of each photo's second decision, from moto's trace of its messages."""
    if not keys or stack.config.moto_trace is None:
        return []
    events = list(read(stack.config.moto_trace))
    queue = sub.queue_url.rsplit("/", 1)[-1]
    return [f"{key}: {explain(events, key, queue)['cause']}" for key in keys[:5]]


def test_starved_nothing_lost_nothing_doubled(stack: LocalStack) -> None:
    assert stack.resources is not None
    run = uuid.uuid4().hex[:6]
    s3, sqs = clients.client("s3", REGION), clients.client("sqs", REGION)
    bucket, ingest_url = stack.resources.bucket, stack.resources.queues["ingest"].url
    uploaded: dict[str, str] = {}
    decisions: Counter[str] = Counter()
    repeated = 0
    with (
        DecisionSubscription(
            clients.client("sqs", REGION), clients.client("sns", REGION), stack.resources.topic_arn
        ) as sub,
        CpuBurners(max_s=STARVED_DEADLINE_S + 30) as burners,
    ):
        t0 = time.monotonic()
        clock = t0
        # GIVEN photos at a steady rate beside the burners, every eighth notified twice by "S3"
        for item in range(STARVED_GOOD):
            key = f"photos/starved-{run}-{item % 20}/{item:04d}.jpg"
            body = noisy_image(10_000 + item)
            uploaded[key] = put(s3, bucket, key, body)
            if item % 8 == 0:
                sqs.send_message(
                    QueueUrl=ingest_url, MessageBody=s3_notification(bucket, key, uploaded[key], len(body))
                )
                repeated += 1
            clock += 1 / STARVED_UPLOADS_PER_S
            time.sleep(max(0.0, clock - time.monotonic()))
        # WHEN four receivers share the subscriber queue until every photo is decided
        while time.monotonic() - t0 < STARVED_DEADLINE_S:
            with ThreadPoolExecutor(4) as pool:
                for batch in pool.map(lambda _: sub.receive(wait_s=1), range(4)):
                    decisions.update(d.photo.key for d in batch)
            stack.supervise()
            if all(decisions[k] for k in uploaded):
                break
        starved_s = time.monotonic() - t0
        burning = burners.running()
        time.sleep(5)  # late duplicates would arrive now
        for decision in sub.receive(wait_s=2) + sub.receive(wait_s=1):
            decisions[decision.photo.key] += 1
        doubled = [k for k in uploaded if decisions[k] > 1]
        explained = duplicates_traced(stack, doubled, sub)
    table = CaptureTable(clients.client("dynamodb", REGION), stack.resources.capture_table)
    records = Counter(r.photo_key for r in table.scan() if f"starved-{run}" in r.photo_key)
    counts: dict[str, Any] = {
        "cpu_burners": burners.count,
        "burners_running_at_the_end": burning,
        "uploaded": len(uploaded),
        "repeated_notifications": repeated,
        "decisions": sum(decisions[k] for k in uploaded),
        "records": sum(records[k] for k in uploaded),
        "lost": len([k for k in uploaded if not decisions[k] or not records[k]]),
        "duplicated": sum(max(0, decisions[k] - 1) + max(0, records[k] - 1) for k in uploaded),
        "duplicates_traced": explained,
        "seconds": round(starved_s, 1),
        "load_average": round(os.getloadavg()[0], 2),
    }
    print("\nstarved: " + json.dumps(counts))
    result = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({**result, "starved": counts}) + "\n")
    # THEN every photo has one decision and one record, and the host really was starved meanwhile
    assert counts["cpu_burners"] >= 1 and counts["burners_running_at_the_end"] == counts["cpu_burners"]
    assert counts["lost"] == 0, [k for k in uploaded if not decisions[k] or not records[k]][:10]
    assert counts["duplicated"] == 0, explained
