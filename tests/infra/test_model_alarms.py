"""The model's alarms and dashboard watch what capture really emits, and their metric math says what the
parameters say.

GIVEN infra/template.yaml and the EMF lines shared/model_metrics.py writes for each kind of decision
WHEN the alarms' and the dashboard's metrics are read, and the alarms' expressions evaluated on counts
THEN every metric they read is one the code emits, and each alarm fires exactly past its threshold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.cfn import Resolver, resources_of_type
from infra.template_file import load_template
from services.router.rules import load_rules
from shared.contracts import NONE, RoutingDecision
from shared.model_metrics import decision_metrics
from tests.decisions import decided, no_two_wheeler, rejected, sure, unsure

MODEL_ALARMS = ("ModelReviewShareAlarm", "ModelNoneShareAlarm", "ModelClassMixAlarm")
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:driver-routing-alarms"
METADATA = Path(__file__).resolve().parents[2] / "model" / "artifacts" / "metadata.json"
Series = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric, sorted dimensions


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def defaults(template: dict[str, Any]) -> Resolver:
    """The template resolved with its parameters' defaults."""
    values = {name: str(p["Default"]) for name, p in template["Parameters"].items() if "Default" in p}
    values |= {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    values |= {"AWS::StackName": "driver-routing", "AWS::URLSuffix": "amazonaws.com"}
    values |= {"AlarmTopic": ALARM_TOPIC}
    return Resolver(values=values, attribute=lambda name, attr: f"{name}.{attr}")


def every_kind_of_decision() -> list[RoutingDecision]:
    classes = list(load_rules().classes)
    return [
        *(decided(sure(name), key=f"photos/d-1/{name}.jpg") for name in classes),
        decided(unsure(), key="photos/d-1/unsure.jpg"),
        decided(no_two_wheeler(), key="photos/d-1/none.jpg"),
        rejected("photos/d-1/bad.jpg"),
    ]


@pytest.fixture(scope="module")
def emitted() -> set[Series]:
    """Every series CloudWatch makes of the EMF lines the code writes, over every kind of decision."""
    found: set[Series] = set()
    for decision in every_kind_of_decision():
        blob: dict[str, Any] = dict(decision_metrics(decision, decision.model_version).serialize_metric_set())
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for dims in directive["Dimensions"]:
                    pairs = tuple(sorted((name, str(blob[name])) for name in dims))
                    found.add((directive["Namespace"], metric["Name"], pairs))
    return found


def alarm(template: dict[str, Any], defaults: Resolver, name: str) -> dict[str, Any]:
    resolved: dict[str, Any] = defaults.resolve(template["Resources"][name]["Properties"])
    return resolved


def stat_series(query: dict[str, Any]) -> Series:
    metric = query["MetricStat"]["Metric"]
    dims = tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
    return metric["Namespace"], metric["MetricName"], dims


def evaluate(queries: list[dict[str, Any]], sums: dict[str, float]) -> float:
    """The alarm's returned expression on an hour's sums, with metric math's IF, FILL and ABS."""
    functions: dict[str, Callable[..., float]] = {
        "IF": lambda condition, then, otherwise: then if condition else otherwise,
        "FILL": lambda value, fill: fill if value is None else value,
        "ABS": abs,
    }
    values: dict[str, Any] = {q["Id"]: sums.get(q["Id"]) for q in queries if "MetricStat" in q}
    returned = None
    for query in queries:
        if "Expression" in query:
            assert re.fullmatch(r"[A-Za-z0-9_ .,()+\-*/>=]+", query["Expression"]), query["Expression"]
            values[query["Id"]] = eval(query["Expression"], {"__builtins__": {}, **functions}, values)
        if query["ReturnData"]:
            returned = values[query["Id"]]
    assert isinstance(returned, float | int)
    return float(returned)


def test_each_model_alarm_reads_only_metrics_capture_emits(
    template: dict[str, Any], defaults: Resolver, emitted: set[Series]
) -> None:
    # GIVEN the three model alarms
    for name in MODEL_ALARMS:
        props = alarm(template, defaults, name)
        # WHEN their metric queries are read
        stats = [stat_series(q) for q in props["Metrics"] if "MetricStat" in q]
        # THEN each is a series the code writes, summed per hour, and the alarm wakes the operator
        assert stats and set(stats) <= emitted, (name, set(stats) - emitted)
        assert {q["MetricStat"]["Period"] for q in props["Metrics"] if "MetricStat" in q} == {3600}
        assert sum(q["ReturnData"] for q in props["Metrics"]) == 1
        assert props["AlarmActions"] == props["OKActions"] == [ALARM_TOPIC]


def test_the_class_mix_alarm_watches_every_class_the_rules_route(
    template: dict[str, Any], defaults: Resolver
) -> None:
    # GIVEN the routing rules' classes (the served model's vehicle classes)
    classes = set(load_rules().classes)
    # WHEN the class mix alarm's queries are read
    props = alarm(template, defaults, "ModelClassMixAlarm")
    watched = {dict(stat_series(q)[2])["class"] for q in props["Metrics"] if "MetricStat" in q}
    # THEN it sums exactly those classes
    assert watched == classes


@pytest.mark.parametrize(
    ("name", "hour", "fires"),
    [
        # default thresholds: review 0.2, none 0.05, drift 0.25 from 0.5; at least 30 answered photos
        ("ModelReviewShareAlarm", {"routed": 75, "review": 20, "none": 5}, True),  # 0.25
        ("ModelReviewShareAlarm", {"routed": 85, "review": 10, "none": 5}, False),  # 0.15
        ("ModelReviewShareAlarm", {"routed": 10, "review": 10, "none": 0}, False),  # too few photos
        ("ModelNoneShareAlarm", {"routed": 90, "review": 4, "none": 6}, True),  # 0.06
        ("ModelNoneShareAlarm", {"routed": 90, "review": 6, "none": 4}, False),  # 0.04
        ("ModelClassMixAlarm", {"bicycle": 80, "motorcycle": 20}, True),  # 0.8: 0.3 off
        ("ModelClassMixAlarm", {"bicycle": 30, "motorcycle": 70}, False),  # 0.3: 0.2 off
        ("ModelClassMixAlarm", {"bicycle": 20}, False),  # too few photos
    ],
)
def test_a_model_alarm_fires_past_its_threshold_and_only_on_enough_photos(
    template: dict[str, Any], defaults: Resolver, name: str, hour: dict[str, float], fires: bool
) -> None:
    # GIVEN an hour's counts of the alarm's series
    props = alarm(template, defaults, name)
    # WHEN its metric math is evaluated with the parameters' defaults
    value = evaluate(props["Metrics"], hour)
    # THEN it crosses the threshold exactly when the hour's share does
    assert (value > float(props["Threshold"])) is fires
    assert props["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_prior_default_is_the_training_data_mix(template: dict[str, Any]) -> None:
    # GIVEN the served model's training set (500 bicycles and 500 motorcycles, the CIFAR-100 train split)
    meta = json.loads(METADATA.read_text())
    # WHEN the template's prior is read
    prior = float(template["Parameters"]["BicyclePrior"]["Default"])
    # THEN it is the bicycles' share of it
    assert meta["training"]["n_train"] == 1000 and prior == 0.5


def dashboard_series(body: dict[str, Any]) -> set[Series]:
    """The dashboard's metric rows, the "..." shorthand expanded (it repeats the row above, then
    replaces its last values)."""
    found: set[Series] = set()
    for widget in body["widgets"]:
        previous: list[str] = []
        for row in widget["properties"].get("metrics", []):
            names = [item for item in row if isinstance(item, str)]
            if not names:
                continue  # an expression
            if names[0] == "...":
                names = previous[: len(previous) - len(names) + 1] + names[1:]
            previous = names
            namespace, metric, *dims = names
            found.add((namespace, metric, tuple(sorted(zip(dims[::2], dims[1::2], strict=True)))))
    return found


def test_the_model_dashboard_shows_series_capture_emits(
    template: dict[str, Any], defaults: Resolver, emitted: set[Series]
) -> None:
    # GIVEN the model dashboard, resolved with the parameters' defaults
    props = defaults.resolve(template["Resources"]["ModelDashboard"]["Properties"])
    body = json.loads(props["DashboardBody"])
    # WHEN its metrics are read
    shown = dashboard_series(body)
    # THEN each is emitted, every outcome is plotted, and the alarm widget names the three alarms
    assert shown and shown <= emitted, shown - emitted
    outcomes = {dict(dims).get("outcome") for _, metric, dims in shown}
    assert {"routed", "review", "none", "rejected"} <= outcomes
    assert any(dict(dims).get("class") == NONE for _, _, dims in shown)
    [alarms] = [w for w in body["widgets"] if w["type"] == "alarm"]
    names = {alarm(template, defaults, name)["AlarmName"] for name in MODEL_ALARMS}
    assert {arn.rsplit(":", 1)[-1] for arn in alarms["properties"]["alarms"]} == names
    assert len(resources_of_type(template, "AWS::CloudWatch::Dashboard")) == 2
