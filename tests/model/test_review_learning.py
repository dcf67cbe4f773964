"""Learning from reviews: the export's splits and manifest, what training takes of it, the gate's verdict.

GIVEN capture records (reviewed, routed, waiting) and the photos they name
WHEN they are exported, read for training, and two models' tallies judged
THEN reviewed photos carry the dispatcher's label and the model's answer, held-back and QA photos never
train, the same content gives the same version, and a candidate worse on the same images is refused.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from driver_routing.review_dataset import HOLDOUT, QA, TRAIN, Exported, Shares, export_reviews, split_of
from model.dataset import CLASSES, OTHER, load_samples, training_samples
from model.promotion import Tally, gate_sets, holdout_samples, judge
from model.training.perturb import KINDS
from services.router.domain import decide_review
from shared.contracts import NOT_A_VEHICLE, CaptureRecord, Review
from tests.decisions import BIKE, MOTO, RULES, decided, no_two_wheeler, record_of, sure, unsure

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=7)
SOME = Shares(holdout=0.25, qa=0.5)


class Photos:
    """The bucket: a small PNG per key, except the keys that expired."""

    def __init__(self, gone: frozenset[str] = frozenset()) -> None:
        self.gone = gone

    def read(self, bucket: str, key: str) -> bytes | None:
        if key in self.gone:
            return None
        out = io.BytesIO()
        Image.new("RGB", (32, 32), (len(key) * 7 % 255, 90, 30)).save(out, "PNG")
        return out.getvalue()


def reviewed(name: str, answer: dict[str, float], label: str) -> CaptureRecord:
    waiting = decided(answer, key=f"photos/d-001/{name}.png")
    return record_of(decide_review(waiting, Review(reviewer="pat", label=label), RULES))


def records() -> list[CaptureRecord]:
    return [
        *(reviewed(f"r{i}", unsure(), BIKE if i % 2 else MOTO) for i in range(12)),
        reviewed("car", no_two_wheeler(), NOT_A_VEHICLE),
        *(record_of(decided(sure(), key=f"photos/d-001/ok{i}.png")) for i in range(10)),
        record_of(decided(unsure(), key="photos/d-001/waiting.png")),  # not reviewed yet: stays out
    ]


def export(
    tmp_path: Path,
    *,
    given: list[CaptureRecord] | None = None,
    shares: Shares = SOME,
    gone: frozenset[str] = frozenset(),
) -> Exported:
    return export_reviews(
        given or records(), Photos(gone), tmp_path, since=SINCE, until=UNTIL, source="test", shares=shares
    )


def manifest(path: Path) -> list[dict[str, str]]:
    with (path / "manifest.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_reviewed_photos_carry_the_dispatchers_label_and_what_the_model_said(tmp_path: Path) -> None:
    # GIVEN 13 reviewed photos, 10 routed by the model and one still waiting
    # WHEN they are exported
    exported = export(tmp_path)
    rows = manifest(exported.path)
    # THEN every reviewed photo is there, in train or holdout, under the dispatcher's label
    by_person = [r for r in rows if r["labelled_by"] == "dispatcher:pat"]
    assert len(by_person) == 13 and {r["split"] for r in by_person} == {TRAIN, HOLDOUT}
    assert {r["class"] for r in by_person} == {BIKE, MOTO, "other"}  # "not a vehicle" is other
    assert all(r["model_version"] == "m1" and r["labelled_at"] and r["model_answer"] for r in by_person)
    # AND the QA sample is routed photos only, labelled by the model, never the waiting one
    qa = [r for r in rows if r["split"] == QA]
    assert qa and all(r["labelled_by"] == "model" and r["outcome"] == "routed" for r in qa)
    assert not any(r["photo_key"].endswith("waiting.png") for r in rows)
    for row in rows:
        assert (exported.path / row["split"] / row["class"] / row["filename"]).is_file()


def test_the_same_content_is_the_same_version_and_a_gone_photo_is_counted(tmp_path: Path) -> None:
    # GIVEN the same records exported twice, and once after a photo expired
    given = records()
    first = export(tmp_path / "a", given=given)
    again = export(tmp_path / "b", given=given)
    fewer = export(tmp_path / "c", given=given, gone=frozenset({"photos/d-001/r0.png"}))
    # THEN the version is the content's: equal twice, another without the gone photo, which is counted
    assert first.version == again.version and first.path.name == f"reviews-{first.version}"
    assert fewer.missing == 1 and fewer.version != first.version


def test_splits_are_stable_per_photo_and_follow_the_shares() -> None:
    all_records = records()
    none_held = Shares(holdout=0.0, qa=0.0)
    assert {split_of(r, none_held) for r in all_records if r.review} == {TRAIN}
    assert {split_of(r, Shares(holdout=1.0, qa=1.0)) for r in all_records if r.review} == {HOLDOUT}
    assert [split_of(r, Shares()) for r in all_records] == [split_of(r, Shares()) for r in all_records]


def test_training_takes_the_reviewed_train_rows_only_and_the_gate_the_held_back_ones(tmp_path: Path) -> None:
    # GIVEN an exported dataset beside a base training set
    exported = export(tmp_path / "reviews")
    base = tmp_path / "base"
    for cls in CLASSES:
        (base / "train" / cls).mkdir(parents=True)
        Image.new("RGB", (32, 32)).save(base / "train" / cls / "x.png")
    rows = manifest(exported.path)
    # WHEN training reads it
    samples = training_samples(base, [exported.path])
    # THEN it gets the base and the dispatcher-labelled vehicle photos of the train split, no more
    trained = {s.path.name for s in samples}
    expected = {r["filename"] for r in rows if r["split"] == TRAIN and r["class"] in CLASSES}
    assert trained == expected | {"x.png"}
    assert not trained & {r["filename"] for r in rows if r["split"] in (HOLDOUT, QA)}
    # AND the gate gets the held-back ones, "not a vehicle" as the third answer
    held = holdout_samples(exported.path)
    assert {s.path.name for s in held} == {r["filename"] for r in rows if r["split"] == HOLDOUT}
    assert all(s.label in (0, 1, OTHER) for s in held)
    assert len(load_samples(exported.path, TRAIN)) == len(expected)


def test_the_gate_scores_perturbed_copies_of_the_test_split_the_same_at_every_call(tmp_path: Path) -> None:
    # GIVEN a test split of two pictures
    for cls, colour in zip(CLASSES, ((200, 40, 40), (40, 40, 200)), strict=True):
        (tmp_path / "test" / cls).mkdir(parents=True)
        picture = Image.new("RGB", (32, 32), colour)
        picture.paste((240, 220, 30), (0, 0, 10, 20))  # off centre, so a mirror changes it too
        picture.save(tmp_path / "test" / cls / f"{cls}.png")
    # WHEN the gate's sets are made
    sets = gate_sets(tmp_path, None, [])
    # THEN beside the pictures as sent, one copy of each kind of each, under the picture's label
    assert len(sets["cifar-test"]) == 2
    copies = sets["cifar-test-perturbed"]
    assert len(copies) == 2 * len(KINDS)
    assert sorted(c.label for c in copies) == sorted([0, 1] * len(KINDS))
    # AND each copy is the same file whenever it is read (both models answer the same bytes), unlike the
    # picture as sent
    files = [copy.read() for copy in copies]
    assert files == [copy.read() for copy in copies]
    originals = {image.read() for image in sets["cifar-test"]}
    assert not originals & set(files)
    # AND without them, the test split alone
    assert set(gate_sets(tmp_path, None, [], perturbed=False)) == {"cifar-test"}


def test_the_gate_promotes_a_candidate_no_worse_on_the_same_images() -> None:
    served = {"cifar-test": Tally(200, 2, 13), "photos": Tally(40, 0, 1)}
    assert judge(served, dict(served)).promote
    better = {"cifar-test": Tally(200, 1, 10), "photos": Tally(40, 0, 1)}
    assert judge(served, better) == judge(served, better) and judge(served, better).promote


def test_the_gate_refuses_more_wrong_bays_or_more_reviews() -> None:
    served = {"cifar-test": Tally(200, 2, 13), "photos": Tally(40, 0, 1)}
    more_wrong = {"cifar-test": Tally(200, 3, 10), "photos": Tally(40, 0, 1)}
    verdict = judge(served, more_wrong)
    assert not verdict.promote and verdict.reasons == ["wrong bay: 3 against 2 on the same images"]
    more_review = {"cifar-test": Tally(200, 2, 14), "photos": Tally(40, 0, 1)}
    assert not judge(served, more_review).promote


def test_the_gate_refuses_a_set_beyond_the_served_models_upper_bound_even_when_the_total_is_better() -> None:
    # GIVEN a candidate with fewer reviews in all, but 9 of 40 photos to review against 1 of 40
    served = {"cifar-test": Tally(200, 2, 40), "photos": Tally(40, 0, 1)}
    candidate = {"cifar-test": Tally(200, 2, 20), "photos": Tally(40, 0, 9)}
    # WHEN it is judged
    verdict = judge(served, candidate)
    # THEN the photos' share (22.5%) is over the served model's 95% upper bound (12.9%): refused
    assert not verdict.promote
    assert verdict.reasons == ["review on photos: 22.5%, over the served model's 95% upper bound 12.9%"]
    assert not judge(served, {"photos": Tally(40, 0, 1)}).promote  # not the same sets
