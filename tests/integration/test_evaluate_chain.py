"""`evaluate --through-chain` on the running stack, and every photo format end to end through it."""

from __future__ import annotations

import io
from pathlib import Path

from local.stack import LocalStack
from model.dataset import Sample
from model.evaluation.chain import through_chain
from model.evaluation.evaluate import evaluate
from tests.format_samples import format_samples, jpeg, scene

REGION = "us-east-1"


def labelled_set(root: Path) -> Path:
    """Folders named by class, a few images of each in several formats (made here)."""
    for label, seed in (("bicycle", 1), ("motorcycle", 2)):
        folder = root / label
        folder.mkdir(parents=True)
        picture = scene((320, 240), seed=seed)
        (folder / "a.jpg").write_bytes(jpeg(picture))
        out = io.BytesIO()
        picture.resize((32, 32)).save(out, format="PNG")
        (folder / "thumb.png").write_bytes(out.getvalue())
        (folder / "b.webp").write_bytes(
            next(s.data for s in format_samples(picture=picture) if s.name == "webp")
        )
    return root


def test_evaluate_through_the_chain_reads_the_capture_records(stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN a labelled set and a stack the AWS clients point at
    data = labelled_set(tmp_path / "set")

    # WHEN evaluate runs through the chain and, for the same images, against the endpoint alone
    name = stack.config.stack_name
    chained = evaluate(
        data,
        None,
        None,
        "vehicle-classifier",
        None,
        REGION,
        None,
        mode="chain",
        stack_name=name,
        chain_timeout_s=60,
    )
    direct = evaluate(data, None, stack.endpoint_url, "vehicle-classifier", None, REGION, None)

    # THEN every image has an answer from its record, and the chain's figures are the endpoint's
    assert (chained["mode"], chained["n"]) == ("chain", 6)
    assert chained["accuracy"] == direct["accuracy"]
    assert chained["confusion"] == direct["confusion"]
    assert chained["latency_ms"]["p50"] > 0


def test_every_format_is_decided_through_the_chain_as_its_jpeg(stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the same picture uploaded in every accepted format
    assert stack.resources is not None
    samples = format_samples()
    paths = []
    for sample in samples:
        path = tmp_path / f"{sample.name}{sample.extension}"
        path.write_bytes(sample.data)
        paths.append(path)
    reference = tmp_path / "reference.jpg"
    reference.write_bytes(jpeg(samples[0].picture))
    paths.append(reference)

    # WHEN the chain decides them all (it raises if any is rejected or has no record)
    outcomes = through_chain([Sample(p, 0) for p in paths], stack.resources, REGION, 60)

    # THEN each picture gets the probabilities of the JPEG of that picture
    by_name = {o.sample.path.stem: o.probs for o in outcomes}
    same_picture = [s.name for s in samples if s.picture is samples[0].picture]
    assert len(same_picture) >= 10
    for name in same_picture:
        gap = max(abs(a - b) for a, b in zip(by_name[name], by_name["reference"], strict=True))
        assert gap < 0.03, name
