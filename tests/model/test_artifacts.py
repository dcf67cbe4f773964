"""The committed model: every graph metadata.json names is there, unaltered, within the size budget."""

from __future__ import annotations

import hashlib

from model.metadata import ARTIFACTS_DIR, METADATA_FILE, ModelMetadata

BUDGET_BYTES = 20_000_000  # "at most 20 MB", read in the strict (decimal) sense


def test_each_graph_matches_its_recorded_size_and_sha256() -> None:
    meta = ModelMetadata.load(ARTIFACTS_DIR)
    assert meta.thumbnail is not None
    artifacts = [meta.artifact, meta.thumbnail.artifact]
    assert [a.file for a in artifacts] == list(meta.graph_files().values())
    total = 0
    for artifact in artifacts:
        data = (ARTIFACTS_DIR / artifact.file).read_bytes()
        assert len(data) == artifact.bytes
        assert hashlib.sha256(data).hexdigest() == artifact.sha256
        total += len(data)
    assert total <= BUDGET_BYTES
    digests = "".join(a.sha256 for a in artifacts)
    assert meta.model_version.endswith(hashlib.sha256(digests.encode()).hexdigest()[:12])


def test_the_metadata_file_is_exactly_what_the_model_writes() -> None:
    """Reading metadata.json and writing it back gives the same bytes: a retrain writes this format."""
    path = ARTIFACTS_DIR / METADATA_FILE
    assert ModelMetadata.read(path).to_json() == path.read_text()
