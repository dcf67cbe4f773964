"""Alarms and the dashboard: moto's CloudFormation creates dashboards but skips alarms, which are put
with boto3 from the same properties and then compared with the template."""

from __future__ import annotations

import json
from typing import Any

from local.deploy.deployed import Deployed

# CloudFormation alarm properties that PutMetricAlarm takes under the same names.
_ALARM_PROPERTIES = (
    "AlarmName",
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Metrics",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
)
_NUMBERS = {"Period": int, "EvaluationPeriods": int, "Threshold": float}


def _alarm(deployed: Deployed, props: dict[str, Any]) -> dict[str, Any]:
    p = deployed.resolve(props)
    return {k: _NUMBERS.get(k, lambda v: v)(p[k]) for k in _ALARM_PROPERTIES if k in p}


def _existing(deployed: Deployed, name: str) -> dict[str, Any] | None:
    alarms = deployed.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0] if alarms else None


def apply_alarm(deployed: Deployed, name: str, props: dict[str, Any]) -> None:
    wanted = _alarm(deployed, props)
    if _differences(_existing(deployed, wanted["AlarmName"]), wanted):
        deployed.client("cloudwatch").put_metric_alarm(**wanted)


def verify_alarm(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    wanted = _alarm(deployed, props)
    return [f"{name}: {d}" for d in _differences(_existing(deployed, wanted["AlarmName"]), wanted)]


def _differences(have: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    if have is None:
        return [f"no alarm {wanted['AlarmName']}"]
    checked = ("MetricName", "Namespace", "Threshold", "ComparisonOperator", "EvaluationPeriods", "Period")
    found = [
        f"{k} is {have.get(k)!r}, template wants {wanted.get(k)!r}"
        for k in checked
        if have.get(k) != wanted.get(k)
    ]
    # A metric-math alarm: the same queries, each the same expression or metric.
    if _queries(have.get("Metrics")) != _queries(wanted.get("Metrics")):
        found.append(
            f"Metrics are {_queries(have.get('Metrics'))}, template wants {_queries(wanted.get('Metrics'))}"
        )
    return found


def _queries(metrics: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [
        (q["Id"], q.get("Expression") or q.get("MetricStat", {}).get("Metric", {}).get("MetricName", ""))
        for q in metrics or []
    ]


def verify_dashboard(deployed: Deployed, name: str, props: dict[str, Any]) -> list[str]:
    p = deployed.resolve(props)
    try:
        body = deployed.client("cloudwatch").get_dashboard(DashboardName=p["DashboardName"])["DashboardBody"]
    except Exception as error:  # moto answers a missing dashboard with an error
        return [f"{name}: dashboard {p['DashboardName']!r} unreadable ({type(error).__name__})"]
    return [] if json.loads(body) == json.loads(p["DashboardBody"]) else [f"{name}: dashboard body differs"]
