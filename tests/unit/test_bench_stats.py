"""bench.stats: percentiles, summaries, lost/duplicated accounting, rates and per-stage durations."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bench.stats import (
    account,
    cpu_cores,
    per_second,
    percentile,
    rate,
    stage_durations,
    stage_values,
    summarise,
    summarise_stages,
)


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
    # GIVEN / WHEN
    summary = summarise([10.0, 20.0, 30.0, 40.0])

    # THEN
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
    # GIVEN / WHEN every photo decided once and captured
    accounting = account(["a", "b"], {"a": 1, "b": 1}, {"a", "b"})

    # THEN
    assert (accounting.lost, len(accounting.duplicated)) == (0, 0)


def test_per_second_bins_from_the_start_and_keeps_empty_seconds() -> None:
    assert per_second([100.1, 100.9, 102.5, 99.0], start=100.0) == [2, 0, 1]
    assert per_second([], start=0.0) == []


def test_stage_durations_from_contract_timestamps_and_client_clock() -> None:
    # GIVEN one photo's contract timestamps and the client's wall clock around them
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

    # WHEN
    stages = stage_durations(timeline)

    # THEN each hop is the difference of its two ends, in ms
    assert stages["client_put"] == pytest.approx(15.0, abs=0.01)
    assert stages["s3_event_to_ingested"] == pytest.approx(40.0, abs=0.01)
    assert stages["ingested_to_assessed"] == pytest.approx(60.0, abs=0.01)
    assert stages["assessed_to_decided"] == pytest.approx(20.0, abs=0.01)
    assert stages["decided_to_captured"] == pytest.approx(30.0, abs=0.01)
    assert stages["decided_to_client"] == pytest.approx(10.0, abs=0.01)
    assert stages["upload_to_decision"] == pytest.approx(125.0, abs=0.01)
    assert stages["upload_to_record"] == pytest.approx(145.0, abs=0.01)


def test_summarise_stages_skips_photos_without_a_record() -> None:
    # GIVEN photos uploaded but never captured
    missing: dict[str, datetime | float | None] = {
        "upload_start": 1.0,
        "upload_done": 1.02,
        "captured_at": None,
    }

    # WHEN
    summary = summarise_stages([missing, missing])

    # THEN
    assert summary["client_put"]["count"] == 2
    assert "upload_to_record" not in summary


def test_account_counts_a_key_uploaded_twice_once() -> None:
    # GIVEN the same key listed twice (a retried put) and decided once
    uploaded = ["a", "a", "b"]

    # WHEN
    accounting = account(uploaded, {"a": 1, "b": 1}, ["a", "b"])

    # THEN it is one photo, neither lost nor duplicated
    assert accounting.uploaded == 2
    assert (accounting.lost, accounting.duplicated) == (0, ())


def test_accounting_as_dict_lists_at_most_ten_keys_of_each_kind() -> None:
    # GIVEN 15 photos never decided nor captured and 12 decided three times
    lost = [f"lost-{i:02d}" for i in range(15)]
    twice = [f"dup-{i:02d}" for i in range(12)]
    decisions = dict.fromkeys(twice, 3)

    # WHEN
    report = account([*lost, *twice], decisions, twice).as_dict()

    # THEN the counts are whole and the key lists are cut to the first ten (lost ones sorted)
    assert report["lost"] == 15
    assert report["no_decision"] == 15
    assert report["no_record"] == 15
    assert report["duplicated"] == 12
    assert report["lost_keys"] == sorted(lost)[:10]
    assert report["duplicated_keys"] == twice[:10]


def test_rate_rounds_and_is_zero_without_elapsed_time() -> None:
    assert rate(10, 4.0) == 2.5
    assert rate(1, 3.0) == 0.3
    assert rate(5, 0.0) == 0.0


def test_cpu_cores_divides_cpu_seconds_by_wall_seconds_per_process() -> None:
    # GIVEN a process that used 3 CPU-seconds in 2 s, and one that appeared in between
    before = {"moto": 10.0}
    after = {"moto": 13.0, "ingest": 1.0}

    # WHEN
    cores = cpu_cores(before, after, 2.0)

    # THEN
    assert cores == {"ingest": 0.5, "moto": 1.5}
    assert cpu_cores(before, after, 0.0) == {}


def test_stage_values_skip_photos_where_the_stage_cannot_be_measured() -> None:
    # GIVEN one photo with a record 120 ms after its upload and one without a record
    timelines: list[dict[str, datetime | float | None]] = [
        {"upload_done": 10.0, "captured_at": 10.12},
        {"upload_done": 11.0, "captured_at": None},
    ]

    # WHEN
    values = stage_values(timelines, "upload_to_record")

    # THEN
    assert values == [pytest.approx(120.0, abs=0.01)]
