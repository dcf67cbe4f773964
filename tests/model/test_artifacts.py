"""The committed model: every graph metadata.json names is there, unaltered, within the size budget."""

from __future__ import annotations

import hashlib
import json

from model.inference import ARTIFACTS_DIR, METADATA_FILE

BUDGET_BYTES = 20_000_000  # "at most 20 MB", read in the strict (decimal) sense


def test_each_graph_matches_its_recorded_size_and_sha256() -> None:
    meta = json.loads((ARTIFACTS_DIR / METADATA_FILE).read_text())
    artifacts = [meta["artifact"], meta["thumbnail"]["artifact"]]
    total = 0
    for artifact in artifacts:
        data = (ARTIFACTS_DIR / artifact["file"]).read_bytes()
        assert len(data) == artifact["bytes"]
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
        total += len(data)
    assert total <= BUDGET_BYTES
    digests = "".join(a["sha256"] for a in artifacts)
    assert meta["model_version"].endswith(hashlib.sha256(digests.encode()).hexdigest()[:12])
