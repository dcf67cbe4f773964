"""The driver's page speaks from one table per language: every language says every sentence, and the
English reasons are the server's own (shared/driver_messages.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.driver_messages import REVIEW_SENTENCES, SENTENCES

STATIC = Path(__file__).resolve().parents[2] / "services" / "api" / "static"
TABLES = sorted(STATIC.glob("lang-*.json"))


def table(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def keys(sentences: dict[str, Any], prefix: str = "") -> set[str]:
    return {
        name
        for key, value in sentences.items()
        for name in (keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"})
    }


def test_the_english_reasons_are_the_servers_sentences() -> None:
    english = table(STATIC / "lang-en.json")
    assert english["reason"] == {reason.value: text for reason, text in SENTENCES.items()}
    assert english["review"] == {reason.value: text for reason, text in REVIEW_SENTENCES.items()}


@pytest.mark.parametrize("path", TABLES, ids=[p.stem for p in TABLES])
def test_every_language_says_every_sentence(path: Path) -> None:
    # GIVEN a language's table WHEN it is compared with English THEN it has the same sentences, none empty
    english, other = table(STATIC / "lang-en.json"), table(path)
    assert keys(other) == keys(english)
    assert all(text.strip() for text in _texts(other))
    assert len(TABLES) >= 3


def _texts(sentences: dict[str, Any]) -> list[str]:
    return [t for v in sentences.values() for t in (_texts(v) if isinstance(v, dict) else [v])]
