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
from shared.limits import MAX_DEADLETTER_VALUE_BYTES
from shared.schemas import Article, EnrichedArticle
from shared.settings import Settings
from tests.conftest import wait_for
from tests.enrichment.conftest import make_article
from tests.enrichment.test_service import read

# real broker and real service processes (spaCy loaded in each): minutes in all
pytestmark = [pytest.mark.kafka, pytest.mark.slow]

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


def read_keys(settings: Settings, topic: str, keys: set[str], timeout: float) -> set[str]:
    """Wait until records with every one of ``keys`` are on ``topic`` (a redelivery may have
    written some twice); return the keys seen."""
    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka_python())
    parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    seen: set[str] = set()
    try:

        def all_there() -> bool:
            for batch in consumer.poll(timeout_ms=300).values():
                seen.update(r.key.decode() for r in batch)
            return keys <= seen

        wait_for(all_there, timeout=timeout, message=f"{sorted(keys - seen)} on {topic}")
    finally:
        consumer.close()
    return seen


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
    """50 records over 3 partitions; one article would enrich to over a megabyte, one has a
    ``meta`` too deep to encode once wrapped in an EnrichedArticle, one record is 1,040,000
    bytes of garbage. Before: the agent crashed on the first, Faust restarted it, and the
    batch (and what was fetched with it) was committed but never produced. Now: 47
    enriched, 3 dead letters with their reasons, all committed."""
    articles = [make_article(f"{CALM} Story number {n}.", f"Rates {n}") for n in range(50)]
    big = make_article(CALM * (950_000 // len(CALM)), "Rates, at length")
    payloads = [(a.id, codec.encode(a)) for a in articles]
    payloads[20] = (big.id, codec.encode(big))
    deep = articles[35]
    payloads[35] = (deep.id, article_bytes(deep, meta=nested(253)))
    # not an article, and too large to dead-letter whole once the brink.dlq.* headers are on
    payloads[40] = ("huge", b"x" * 1_040_000)
    producer = KafkaProducer(max_request_size=2_000_000, **settings.kafka_python())
    for key, value in payloads:
        producer.send(settings.topics.articles, key=key.encode(), value=value)
    producer.flush()
    producer.close()
    assert len(payloads[20][1]) > 900_000

    svc = start_service("enrichment", settings, BRINK_ENRICHMENT_BATCH_SIZE="50")
    wanted = {key for key, _ in payloads} - {big.id, deep.id, "huge"}
    records = read(settings, settings.topics.enriched, len(wanted), timeout=120)
    by_id = {r.key.decode(): codec.decode(r.value, EnrichedArticle) for r in records}
    assert set(by_id) == wanted
    dead = read(settings, settings.topics.deadletter, 3)
    reasons = {r.key.decode(): deadletter.describe(r.headers).reason for r in dead}
    assert reasons == {big.id: "too_large", deep.id: "too_deep", "huge": "malformed_json"}
    assert {r.key.decode(): r.value for r in dead} == {
        big.id: payloads[20][1],
        deep.id: payloads[35][1],
        "huge": payloads[40][1][:MAX_DEADLETTER_VALUE_BYTES],
    }
    group = settings.topic_prefix + "brink-enrichment"
    wait_for(
        lambda: committed_everything(settings, group, settings.topics.articles),
        timeout=30,
        message="every offset of articles committed",
    )
    assert svc.healthy()


ESCALATION = (
    "Russia massed thousands of troops near the border with Ukraine and threatened new"
    " sanctions against Kyiv. "
)
NAMES = "France, Germany, Russia, Ukraine, Poland, NATO, Iran, Israel, China, Japan. "


def test_valid_articles_that_enriched_to_megabytes_are_produced_within_the_caps(
    settings: Settings, start_service: Any
) -> None:
    """3,000 escalation sentences enriched to 4.3 MB and 270 KB of entity names to 2.1 MB:
    the agent crashed (and lost its batch). Now both are produced, capped."""
    from services.enrichment import bounds
    from services.enrichment.pipeline import article_text

    sentences = make_article(ESCALATION * 3_000, "Escalation, at length")
    names = make_article(NAMES * (270_000 // len(NAMES)), "Names")
    producer = KafkaProducer(max_request_size=2_000_000, **settings.kafka_python())
    for a in (sentences, names):
        producer.send(settings.topics.articles, key=a.id.encode(), value=codec.encode(a))
    producer.flush()
    producer.close()
    start_service("enrichment", settings)
    records = read(settings, settings.topics.enriched, 2, timeout=120)
    assert all(len(r.value) <= bounds.MAX_RECORD_BYTES for r in records)
    by_id = {r.key.decode(): codec.decode(r.value, EnrichedArticle) for r in records}
    assert set(by_id) == {sentences.id, names.id}
    assert len(by_id[sentences.id].signals) == bounds.MAX_SIGNALS
    assert by_id[sentences.id].escalation is True
    assert len(by_id[names.id].entities) == bounds.MAX_ENTITIES
    for article in (sentences, names):
        text = article_text(article)
        for s in by_id[article.id].signals:
            assert text[s.start : s.end] == s.cue
            assert text[s.sentence_start : s.sentence_end] == s.sentence
        for e in by_id[article.id].entities:
            assert text[e.start : e.end] == e.text


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    import os
    from pathlib import Path

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_sigterm_stops_a_busy_service_within_ten_seconds_and_loses_nothing(
    settings: Settings, start_service: Any
) -> None:
    """spaCy busy on a pathological batch in its worker thread: before, SIGTERM waited for
    the thread (minutes on 500 KB of ``&amp;``). Now the process stops within 10 s and the
    batch it was working on, never committed, is enriched after a restart."""
    import signal
    import subprocess
    import time

    from tests.conftest import free_port

    port = str(free_port())  # the same replica restarts: same port, same static member id
    svc = start_service(
        "enrichment", settings, BRINK_ENRICHMENT_BATCH_SIZE="8", BRINK_METRICS_PORT=port
    )
    warm = make_article(CALM, "Warm-up")
    heavy = [
        make_article("x", "t").model_copy(  # past ingest's limits: as any producer may send it
            update={"title": "&amp;" * 50_000, "body": "Calm body. " + "&amp;" * 50_000}
        )
    ] + [make_article(ESCALATION * (500_000 // len(ESCALATION)), f"Heavy {n}") for n in range(4)]
    producer = KafkaProducer(max_request_size=2_000_000, **settings.kafka_python())
    producer.send(settings.topics.articles, key=warm.id.encode(), value=codec.encode(warm))
    producer.flush()
    read(settings, settings.topics.enriched, 1)
    before = cpu_seconds(svc.proc.pid)
    for a in heavy:
        producer.send(settings.topics.articles, key=a.id.encode(), value=codec.encode(a))
    producer.flush()
    producer.close()
    wait_for(
        lambda: cpu_seconds(svc.proc.pid) - before >= 2.0,
        timeout=60,
        message="the service busy on the heavy batch",
    )
    sent = time.monotonic()
    svc.proc.send_signal(signal.SIGTERM)
    try:
        code = svc.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"enrichment still running 10 s after SIGTERM:\n{svc.log_tail()}")
    print(f"stopped {time.monotonic() - sent:.1f} s after SIGTERM, exit code {code}")
    assert code == 0

    start_service("enrichment", settings, BRINK_METRICS_PORT=port)
    wanted = {a.id for a in heavy}
    assert read_keys(settings, settings.topics.enriched, wanted, timeout=180) >= wanted


def test_restart_after_kill_9_enriches_a_new_article_within_30_seconds(
    settings: Settings, start_service: Any
) -> None:
    """Before, the dead member held its partitions until its session timed out: a restarted
    enrichment did nothing for 47-60 s. With static membership (the same replica restarts
    with the same group.instance.id) it takes them back at once."""
    import time

    from tests.conftest import free_port

    port = str(free_port())
    svc = start_service("enrichment", settings, BRINK_METRICS_PORT=port)
    first, second = make_article(CALM, "Before the kill"), make_article(CALM, "After the kill")
    producer = KafkaProducer(**settings.kafka_python())
    producer.send(settings.topics.articles, key=first.id.encode(), value=codec.encode(first))
    producer.flush()
    read(settings, settings.topics.enriched, 1)
    svc.proc.kill()
    svc.proc.wait()
    restarted = time.monotonic()
    start_service("enrichment", settings, wait=False, BRINK_METRICS_PORT=port)
    producer.send(settings.topics.articles, key=second.id.encode(), value=codec.encode(second))
    producer.flush()
    producer.close()
    seen = read_keys(settings, settings.topics.enriched, {second.id}, timeout=30)
    print(f"recovered: enriched a new article {time.monotonic() - restarted:.1f} s after restart")
    assert seen == {first.id, second.id}


def test_fresh_prefix_starts_each_enrich_an_article(bootstrap: str, start_service: Any) -> None:
    """The service creates its topics (source, sink, dead letter, Faust's leader topic)
    before its worker subscribes, and is healthy only once it has its assignment: no
    start-up race on a prefix nobody has used."""
    import uuid

    for n in range(4):
        fresh = Settings(bootstrap_servers=bootstrap, topic_prefix=f"f{uuid.uuid4().hex[:10]}.")
        svc = start_service("enrichment", fresh)
        article = make_article(CALM, f"Fresh start {n}")
        producer = KafkaProducer(**fresh.kafka_python())
        producer.send(fresh.topics.articles, key=article.id.encode(), value=codec.encode(article))
        producer.flush()
        producer.close()
        records = read(fresh, fresh.topics.enriched, 1, timeout=30)
        assert [r.key.decode() for r in records] == [article.id]
        svc.stop()
