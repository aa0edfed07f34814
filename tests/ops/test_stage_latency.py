"""Per-stage latency histograms (issue 12): every service exports its queue wait (record
timestamp -> consumed) and processing time, and they move when records flow through the
pipeline (real broker, the three services as processes). No timing is asserted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kafka import KafkaProducer

from shared.settings import Settings
from tests.conftest import metric_value, wait_for

pytestmark = pytest.mark.kafka

N_ARTICLES = 6

# service -> (histogram, labels) that must have counted records once articles flowed
HISTOGRAMS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "ingest": [
        ("brink_ingest_queue_wait_seconds", {}),
        ("brink_ingest_batch_processing_seconds", {}),
    ],
    "enrichment": [
        ("brink_enrichment_queue_wait_seconds", {}),
        ("brink_enrichment_processing_seconds", {}),
    ],
    "alerting": [
        ("brink_alerting_queue_wait_seconds", {"agent": "route"}),
        ("brink_alerting_processing_seconds", {"agent": "route"}),
        ("brink_alerting_queue_wait_seconds", {"agent": "evaluate"}),
        ("brink_alerting_processing_seconds", {"agent": "evaluate"}),
    ],
}


def count(text: str, name: str, labels: dict[str, str]) -> float:
    return metric_value(text, name + "_count", **labels)


def test_queue_wait_and_processing_histograms_move_when_articles_flow(
    settings: Settings, corpus: dict[str, dict[str, Any]], start_service
) -> None:  # type: ignore[no-untyped-def]
    services = {name: start_service(name, settings) for name in HISTOGRAMS}
    before = {name: svc.metrics() for name, svc in services.items()}
    for name, series in HISTOGRAMS.items():
        for metric, labels in series:
            # exported (at zero) before any record: rate() and dashboards see them from the start
            assert f"# TYPE {metric} histogram" in before[name], f"{name} lacks {metric}"
            assert count(before[name], metric, labels) == 0, (name, metric, labels)

    conflict = [a for a in corpus.values() if a["subset"] == "reuters_geo_keyword"]
    producer = KafkaProducer(**settings.kafka_python())
    for i, article in enumerate(conflict[:N_ARTICLES]):
        raw = {
            "title": article["title"],
            "text": article["text"],
            "url": f"https://latency.brink.test/{settings.topic_prefix}{i}",
        }
        producer.send(settings.topics.raw, value=json.dumps(raw).encode())
    producer.flush()
    producer.close()

    def moved() -> bool:
        texts = {name: svc.metrics() for name, svc in services.items()}
        return all(
            count(texts[name], metric, labels) > 0
            for name, series in HISTOGRAMS.items()
            for metric, labels in series
        )

    wait_for(moved, timeout=120, interval=1, message="every stage's latency histograms counting")
    after = {name: svc.metrics() for name, svc in services.items()}
    # every raw record and every article is timed once at ingest and at enrichment
    assert count(after["ingest"], "brink_ingest_queue_wait_seconds", {}) == N_ARTICLES
    wait_for(
        lambda: (
            count(services["enrichment"].metrics(), "brink_enrichment_queue_wait_seconds", {})
            == N_ARTICLES
        ),
        timeout=60,
        message="enrichment timed the wait of every article",
    )
    # a histogram's +Inf bucket holds every observation; its sum is a real duration
    for name, series in HISTOGRAMS.items():
        for metric, labels in series:
            n = count(after[name], metric, labels)
            inf = metric_value(after[name], metric + "_bucket", **labels, le="+Inf")
            assert inf == n, (metric, labels)
            assert metric_value(after[name], metric + "_sum", **labels) >= 0
