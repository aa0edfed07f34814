"""Enrichment under attack, as a real process against the real broker: a record that cannot
be produced is dead-lettered alone, the rest of its batch is produced and committed, and
nothing is lost (committed offsets never pass a record that was neither produced nor
dead-lettered)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from shared import codec, deadletter
from shared.schemas import Article, EnrichedArticle
from shared.settings import Settings
from tests.conftest import wait_for
from tests.enrichment.conftest import make_article
from tests.enrichment.test_service import read

pytestmark = pytest.mark.kafka

CALM = "The central bank left interest rates unchanged on Thursday, as expected. "


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` objects deep (orjson encodes at most 254 levels)."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def article_bytes(article: Article, **fields: Any) -> bytes:
    data = article.model_dump(mode="json", by_alias=True)
    data.update(fields)
    return orjson.dumps(data)


def committed_everything(settings: Settings, group: str, topic: str) -> bool:
    """The group's committed offset is the log end on every partition of ``topic``."""
    admin = KafkaAdminClient(**settings.kafka_python())
    consumer = KafkaConsumer(**settings.kafka_python())
    try:
        offsets = admin.list_group_offsets(group)
        if isinstance(offsets.get(group), dict):
            offsets = offsets[group]
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        ends = consumer.end_offsets(parts)
        return all(
            (meta := offsets.get(tp)) is not None and meta.offset == ends[tp] for tp in parts
        )
    finally:
        admin.close()
        consumer.close()


def test_unproducible_records_are_dead_lettered_alone(
    settings: Settings, start_service: Any
) -> None:
    """50 articles over 3 partitions; one would enrich to over a megabyte, one has a ``meta``
    too deep to encode once wrapped in an EnrichedArticle. Before: the agent crashed on the
    first, Faust restarted it, and the batch (and what was fetched with it) was committed but
    never produced. Now: 48 enriched, 2 dead letters with their reasons, all committed."""
    articles = [make_article(f"{CALM} Story number {n}.", f"Rates {n}") for n in range(50)]
    big = make_article(CALM * (950_000 // len(CALM)), "Rates, at length")
    payloads = [(a.id, codec.encode(a)) for a in articles]
    payloads[20] = (big.id, codec.encode(big))
    deep = articles[35]
    payloads[35] = (deep.id, article_bytes(deep, meta=nested(253)))
    producer = KafkaProducer(max_request_size=2_000_000, **settings.kafka_python())
    for key, value in payloads:
        producer.send(settings.topics.articles, key=key.encode(), value=value)
    producer.flush()
    producer.close()
    assert len(payloads[20][1]) > 900_000

    svc = start_service("enrichment", settings, BRINK_ENRICHMENT_BATCH_SIZE="50")
    wanted = {key for key, _ in payloads} - {big.id, deep.id}
    records = read(settings, settings.topics.enriched, len(wanted), timeout=120)
    by_id = {r.key.decode(): codec.decode(r.value, EnrichedArticle) for r in records}
    assert set(by_id) == wanted
    dead = read(settings, settings.topics.deadletter, 2)
    reasons = {r.key.decode(): deadletter.describe(r.headers).reason for r in dead}
    assert reasons == {big.id: "too_large", deep.id: "processing_error"}
    assert {r.key.decode(): r.value for r in dead} == {
        big.id: payloads[20][1],
        deep.id: payloads[35][1],
    }
    group = settings.topic_prefix + "brink-enrichment"
    wait_for(
        lambda: committed_everything(settings, group, settings.topics.articles),
        timeout=30,
        message="every offset of articles committed",
    )
    assert svc.healthy()
