"""Accuracy on the labelled development set (tests/data/devset.jsonl: ids and labels; the
texts are read from the corpus). Fails when the verdict's precision, recall or F1, or the
recall of a signal kind, falls below the level reached (floors set a little below it).

Measured (fast two-pass Enricher, 228 articles): P 0.885, R 0.971, F1 0.926 (tp 100, fp 13,
fn 3); kind recall armed_clash 59/60, sanctions 24/27, threat 18/22, military_buildup 11/12,
diplomatic_expulsion 2/2, embargo 1/1.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.cli.analyze import article_from_record
from services.enrichment.pipeline import Enricher
from services.enrichment.scoring import contribution
from shared.schemas import EnrichedArticle

pytestmark = pytest.mark.slow

DEVSET = Path(__file__).resolve().parent.parent / "data" / "devset.jsonl"
FLOORS = {"precision": 0.86, "recall": 0.94, "f1": 0.90}
KIND_FLOORS = {
    "armed_clash": 0.95,
    "sanctions": 0.85,
    "threat": 0.72,
    "military_buildup": 0.8,
    "diplomatic_expulsion": 0.5,
    "embargo": 0.5,
}


@pytest.fixture(scope="module")
def evaluated(
    enricher: Enricher, corpus: dict[str, dict[str, Any]]
) -> list[tuple[dict[str, Any], EnrichedArticle]]:
    labels = [json.loads(line) for line in DEVSET.read_text("utf-8").splitlines() if line.strip()]
    assert len(labels) >= 100, "the development set is missing or truncated"
    received = datetime(2026, 1, 1, tzinfo=UTC)
    articles = [article_from_record(corpus[x["id"]], received_at=received) for x in labels]
    results: list[EnrichedArticle] = []
    for i in range(0, len(articles), 64):
        results.extend(enricher.enrich(articles[i : i + 64]))
    return list(zip(labels, results, strict=True))


def test_verdict_precision_recall_f1(evaluated: list[tuple[dict[str, Any], Any]]) -> None:
    tp = sum(1 for y, r in evaluated if y["escalation"] and r.escalation)
    fp = sum(1 for y, r in evaluated if not y["escalation"] and r.escalation)
    fn = sum(1 for y, r in evaluated if y["escalation"] and not r.escalation)
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    print(
        f"\ndevset verdict: P={precision:.3f} R={recall:.3f} F1={f1:.3f} (tp={tp} fp={fp} fn={fn})"
    )
    assert precision >= FLOORS["precision"]
    assert recall >= FLOORS["recall"]
    assert f1 >= FLOORS["f1"]


def test_recall_per_kind(evaluated: list[tuple[dict[str, Any], Any]]) -> None:
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for y, r in evaluated:
        if not y["escalation"]:
            continue
        got = {s.kind.value for s in r.signals if contribution(s) > 0}
        for kind in y["kinds"]:
            total[kind] += 1
            found[kind] += kind in got
    print("\ndevset kind recall:", {k: f"{found[k]}/{total[k]}" for k in total})
    for kind, floor in KIND_FLOORS.items():
        assert total[kind], f"no {kind} in the development set"
        assert found[kind] / total[kind] >= floor, (kind, found[kind], total[kind])


def test_negatives_by_group(evaluated: list[tuple[dict[str, Any], Any]]) -> None:
    ordinary = [r for y, r in evaluated if y.get("group") == "ordinary_negative"]
    assert ordinary
    assert sum(r.escalation for r in ordinary) == 0, "escalation found in ordinary news"
