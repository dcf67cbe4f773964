"""The benchmark's pure parts: percentiles, summaries, lost/duplicated accounting, per-stage durations."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bench.command import account, per_second, stage_durations, summarise_stages
from bench.stats import percentile, summarise


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100

    assert percentile(values, 50) == pytest.approx(50.5, abs=0.01)
    assert percentile(values, 95) == pytest.approx(95.05, abs=0.01)
    assert percentile(values, 99) == pytest.approx(99.01, abs=0.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_percentile_of_unordered_and_tiny_inputs() -> None:
    assert percentile([30.0, 10.0, 20.0], 50) == 20.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summarise_gives_count_mean_percentiles_and_max() -> None:
    summary = summarise([10.0, 20.0, 30.0, 40.0])

    assert summary == {"count": 4, "mean": 25.0, "p50": 25.0, "p95": 38.5, "p99": 39.7, "max": 40.0}
    assert summarise([])["count"] == 0
    assert summarise([])["p99"] is None


def test_account_counts_lost_and_duplicated_per_photo() -> None:
    # GIVEN four uploads: a clean one, one decided twice, one never decided, one decided but not captured
    uploaded = ["a", "b", "c", "d"]
    decisions = {"a": 1, "b": 2, "d": 1, "other-phase": 3}
    records = ["a", "b", "other-phase"]

    # WHEN
    accounting = account(uploaded, decisions, records)

    # THEN
    assert accounting.uploaded == 4
    assert accounting.decided == 3
    assert accounting.captured == 2
    assert accounting.no_decision == ("c",)
    assert set(accounting.no_record) == {"c", "d"}
    assert accounting.lost == 2  # c (neither) counts once, d (no record)
    assert accounting.duplicated == ("b",)
    assert accounting.as_dict()["lost"] == 2


def test_account_of_a_clean_run() -> None:
    accounting = account(["a", "b"], {"a": 1, "b": 1}, {"a", "b"})

    assert (accounting.lost, len(accounting.duplicated)) == (0, 0)


def test_per_second_bins_from_the_start_and_keeps_empty_seconds() -> None:
    assert per_second([100.1, 100.9, 102.5, 99.0], start=100.0) == [2, 0, 1]
    assert per_second([], start=0.0) == []


def test_stage_durations_from_contract_timestamps_and_client_clock() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    t = base.timestamp()
    timeline: dict[str, datetime | float | None] = {
        "upload_start": t - 0.010,
        "upload_done": t + 0.005,
        "uploaded_at": base,
        "ingested_at": base + timedelta(milliseconds=40),
        "assessed_at": base + timedelta(milliseconds=100),
        "decided_at": base + timedelta(milliseconds=120),
        "captured_at": base + timedelta(milliseconds=150),
        "decision_seen": t + 0.130,
    }

    stages = stage_durations(timeline)

    assert stages["client_put"] == pytest.approx(15.0, abs=0.01)
    assert stages["s3_event_to_ingested"] == pytest.approx(40.0, abs=0.01)
    assert stages["ingested_to_assessed"] == pytest.approx(60.0, abs=0.01)
    assert stages["assessed_to_decided"] == pytest.approx(20.0, abs=0.01)
    assert stages["decided_to_captured"] == pytest.approx(30.0, abs=0.01)
    assert stages["decided_to_client"] == pytest.approx(10.0, abs=0.01)
    assert stages["upload_to_decision"] == pytest.approx(125.0, abs=0.01)
    assert stages["upload_to_record"] == pytest.approx(145.0, abs=0.01)


def test_summarise_stages_skips_photos_without_a_record() -> None:
    missing: dict[str, datetime | float | None] = {
        "upload_start": 1.0,
        "upload_done": 1.02,
        "captured_at": None,
    }

    summary = summarise_stages([missing, missing])

    assert summary["client_put"]["count"] == 2
    assert "upload_to_record" not in summary
