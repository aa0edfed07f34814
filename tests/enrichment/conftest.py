"""Enrichment fixtures: the trained pipeline loaded once per session, and helpers to make
Articles from real corpus text and the seed article."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.cli.analyze import article_from_record
from services.enrichment.pipeline import Enricher
from shared.schemas import Article, EnrichedArticle, Signal
from tests.conftest import SEEDS

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    return Enricher()


def make_article(text: str, title: str = "", published: datetime | None = None) -> Article:
    return article_from_record(
        {"title": title, "text": text, "published_at": (published or RECEIVED).isoformat()},
        received_at=RECEIVED,
    )


def seed_article() -> Article:
    title, body = (SEEDS / "nato-russia-ukraine-troops.txt").read_text("utf-8").split("\n", 1)
    return article_from_record(
        {"title": title.strip(), "text": body.strip(), "published_at": "2021-04-13T08:00:00Z"},
        received_at=RECEIVED,
    )


def corpus_sentence(corpus: dict[str, dict[str, Any]], article_id: str, needle: str) -> str:
    """The sentence (line) of a real corpus article that contains ``needle``."""
    text = corpus[article_id]["text"]
    for line in text.splitlines():
        if needle in line:
            return line.strip()
    raise AssertionError(f"{needle!r} not in corpus article {article_id}")


def one(enricher: Enricher, text: str, title: str = "") -> EnrichedArticle:
    return enricher.enrich([make_article(text, title)])[0]


def kinds(result: EnrichedArticle, *, counting: bool = False) -> set[str]:
    """Kinds of the signals found (only those that raise the score when ``counting``)."""
    from services.enrichment.scoring import contribution

    return {s.kind.value for s in result.signals if not counting or contribution(s) > 0}


def signals_of(result: EnrichedArticle, kind: str) -> list[Signal]:
    return [s for s in result.signals if s.kind.value == kind]
