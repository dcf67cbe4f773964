"""A third vehicle class is configuration: a rules file that names `cargo-bike`, and a model that answers
it, are all it takes for the chain to route it, the board to offer it and `evaluate --reviews` to count it.
Nothing outside this test changes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_lambda_powertools import Logger

from driver_routing.live_accuracy import live_accuracy
from services.classifier.bootstrap import build_classifier
from services.router.bootstrap import build_router
from services.router.rules import DEFAULT_RULES, load_rules
from shared.aws.endpoint import VehicleEndpoint
from shared.batching import Outbox
from shared.contracts import CaptureRecord, PhotoJob, Prediction, Route
from tests.api.conftest import DISPATCHER, Api, clear_caches
from tests.fakes import FakeCaptureTable, FakePhotoStore, FakeQueue, FakeTopic, photo_at
from tests.samples import image_bytes
from tests.settings import classifier_settings, router_settings

CARGO = "cargo-bike"
LABELS = "bicycle|motorcycle|cargo-bike|none"


class ThreeClassRuntime:
    """sagemaker-runtime as a model with a third class answers it: one row per image, named classes."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = rows

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        body = json.dumps(self.rows.pop(0)).encode()
        return {"Body": io.BytesIO(body), "CustomAttributes": f"model_version=m-cargo,classes={LABELS}"}


@pytest.fixture
def cargo_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["classes"][CARGO] = {"route": "cargo-radius", "min_confidence": 0.9}
    for index, depot in enumerate(rules["depots"].values()):
        depot["bays"][CARGO] = {"bay": f"C-{index:02d}", "name": "Cargo bay", "radius_km": 6.0}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    monkeypatch.setenv("ROUTING_RULES_PATH", str(path))
    clear_caches()
    return path


def classify_and_route(rules_path: Path, key: str, row: list[float]) -> CaptureRecord:
    """The classifier with the real endpoint adapter, then the router: the record capture would write."""
    store, route_queue, outbox = FakePhotoStore(), FakeQueue(), Outbox()
    endpoint = VehicleEndpoint(ThreeClassRuntime([row]), "vehicle-classifier")
    classifier = build_classifier(
        classifier_settings(), outbox=outbox, store=store, endpoint=endpoint, route_queue=route_queue
    )
    photo = photo_at(key)
    store.put(photo, image_bytes("JPEG", (320, 240)))
    with outbox.for_record("m1"):
        classifier.classify(
            PhotoJob(
                photo=photo, driver_id=key.split("/")[1], content_type="image/jpeg", width=320, height=240
            )
        )
    assert outbox.flush(set()) == {}
    [prediction] = route_queue.sent
    assert isinstance(prediction, Prediction)
    topic = FakeTopic()
    settings = router_settings(rules_path=str(rules_path))
    router = build_router(settings, topic=topic, records=FakeCaptureTable(), logger=Logger(service="router"))
    router.route(prediction)
    [decision] = topic.published
    return CaptureRecord.from_decision(decision)


def test_a_cargo_bike_is_routed_offered_on_the_board_and_counted(api: Api, cargo_rules: Path) -> None:
    # GIVEN rules with a cargo-bike class and a model that answers four numbers
    depot = load_rules(str(cargo_rules)).depots["depot-1"]

    # WHEN the model is sure of a cargo bike
    routed = classify_and_route(cargo_rules, "photos/d-001/cargo.jpg", [0.01, 0.01, 0.97, 0.01])
    # THEN the driver goes to the cargo bay, and the line says so with its number and threshold
    assert (routed.outcome, routed.vehicle_class, routed.bay) == (Route.ROUTED, CARGO, depot.bays[CARGO].bay)
    assert routed.route == "cargo-radius"
    assert routed.probabilities is not None and list(routed.probabilities) == ["bicycle", "motorcycle", CARGO]
    assert api.table.put_once(routed)

    # WHEN the model is unsure between a bicycle and a cargo bike
    unsure = classify_and_route(cargo_rules, "photos/d-002/maybe.jpg", [0.45, 0.02, 0.52, 0.01])
    assert unsure.outcome == Route.MANUAL_REVIEW and unsure.model_answer == CARGO
    assert api.table.put_once(unsure)

    # THEN the board shows the routed one in its bay, said as a cargo bike
    status, board = api.call("GET", "/board", DISPATCHER)
    assert status == 200
    [card] = board["bays"][depot.bays[CARGO].bay]
    assert card["answer"].startswith("cargo bike, 97.")
    # AND the board's review buttons include the new class
    status, config = api.call("GET", "/config.json")
    assert status == 200
    assert CARGO in [choice["label"] for choice in config["review_choices"]]

    # WHEN a dispatcher reviews the unsure one as a cargo bike
    status, result = api.call("POST", f"/reviews/{unsure.photo_id}", DISPATCHER, {"label": CARGO})
    # THEN it goes to the cargo bay, and evaluate --reviews counts the model's answer as agreeing
    assert (status, result["bay"]) == (200, depot.bays[CARGO].bay)
    summary = live_accuracy(api.table.scan())
    assert (summary["reviewed"], summary["agreed"]) == (1, 1)
    assert summary["confusion"][CARGO][CARGO] == 1


def test_a_label_the_rules_do_not_know_is_refused(api: Api, cargo_rules: Path) -> None:
    unsure = classify_and_route(cargo_rules, "photos/d-002/maybe.jpg", [0.45, 0.02, 0.52, 0.01])
    assert api.table.put_once(unsure)
    status, body = api.call("POST", f"/reviews/{unsure.photo_id}", DISPATCHER, {"label": "tricycle"})
    assert status == 400 and CARGO in body["message"]
