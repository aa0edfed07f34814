"""Scale-out: two enrichment workers in one consumer group share the partitions of `articles`
and, together, put every article in `articles.enriched` exactly once (real broker)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from shared.codec import decode, encode
from shared.schemas import Article, EnrichedArticle
from shared.settings import Settings
from tests.conftest import wait_for

pytestmark = pytest.mark.kafka

N_ARTICLES = 30


def articles_from(corpus: dict[str, dict[str, Any]]) -> list[Article]:
    """The N shortest English-category corpus articles, as ingest would have written them."""
    picked = sorted(corpus.values(), key=lambda a: (len(a["text"]), a["id"]))[:N_ARTICLES]
    now = datetime.now(UTC)
    return [
        Article(
            id=f"scale-{a['id']}",
            title=a.get("title") or "",
            body=a["text"],
            received_at=now,
            language="en",
            content_hash=hashlib.sha256((a.get("title", "") + a["text"]).encode()).hexdigest(),
        )
        for a in picked
    ]


def group_members(settings: Settings, group: str) -> int:
    """Members of `group` once it is Stable (0 while it rebalances or does not exist)."""
    admin = KafkaAdminClient(client_id="scale-test", **settings.kafka_python())
    try:
        description = admin.describe_groups([group])[group]  # kafka-python 3: dicts
        stable = description["group_state"] == "Stable"
        return len(description["members"]) if stable else 0
    finally:
        admin.close()


def processed(metrics: str) -> float:
    return sum(
        float(v)
        for v in re.findall(r"^brink_enrichment_articles_total\{[^}]*\} (\S+)$", metrics, re.M)
    )


def read_all(settings: Settings, topic: str) -> list[EnrichedArticle]:
    consumer = KafkaConsumer(
        client_id="scale-test", enable_auto_commit=False, **settings.kafka_python()
    )
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[EnrichedArticle] = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(decode(r.value, EnrichedArticle) for r in records)
        return out
    finally:
        consumer.close()


def publish(settings: Settings, articles: list[Any]) -> None:
    """Each article to partition ``i % partitions``, so every partition gets its share."""
    producer = KafkaProducer(**settings.kafka_python())
    for i, article in enumerate(articles):
        producer.send(
            settings.topics.articles,
            key=article.id.encode(),
            value=encode(article),
            partition=i % settings.partitions,
        )
    producer.flush()
    producer.close()


def test_two_enrichment_workers_share_partitions_and_enrich_each_article_once(
    settings: Settings, corpus: dict[str, dict[str, Any]], start_service
) -> None:  # type: ignore[no-untyped-def]
    first = start_service("enrichment", settings)
    second = start_service("enrichment", settings)
    group = settings.topic_prefix + "brink-enrichment"
    wait_for(
        lambda: group_members(settings, group) == 2,
        timeout=90,
        interval=1,
        message=f"consumer group {group} stable with two members",
    )

    articles = articles_from(corpus)
    publish(settings, articles)

    wait_for(
        lambda: processed(first.metrics()) + processed(second.metrics()) >= N_ARTICLES,
        timeout=120,
        interval=1,
        message=f"{N_ARTICLES} articles enriched by the two workers",
    )
    by_worker = [processed(first.metrics()), processed(second.metrics())]
    assert all(n > 0 for n in by_worker), f"one worker got no partition: {by_worker}"
    assert sum(by_worker) == N_ARTICLES

    ids = Counter(e.article.id for e in read_all(settings, settings.topics.enriched))
    assert set(ids) == {a.id for a in articles}
    assert [i for i, n in ids.items() if n != 1] == []
