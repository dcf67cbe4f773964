"""What the trace of moto's messages (`bench --trace`) says about each photo decided more than once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.phases import Chain
from local.moto_trace import explain, read

MOST_EXPLAINED = 10


def traced_duplicates(path: Path, chain: Chain) -> list[dict[str, Any]]:
    """Per duplicated photo (the first ten): the cause, and the publishes, receives and deletes behind it."""
    keys = [k for phase in (chain.steady, *chain.sweep, chain.burst) for k in phase.accounting.duplicated]
    if not keys or not path.exists():
        return []
    events = list(read(path))
    return [explain(events, key, chain.subscription_queue) for key in keys[:MOST_EXPLAINED]]
