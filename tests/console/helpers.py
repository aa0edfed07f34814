"""The console as a subprocess on the real broker, and what its tests produce and read."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.alerting.rules import RuleSet, load_rules
from shared import codec
from shared.schemas import Alert, EnrichedArticle
from shared.settings import Settings

PORTS = range(39400, 39500)  # this suite's own range on the shared machine


def console_port() -> int:
    """A free port in 39400-39499."""
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 39400-39499")


def console_env(**extra: str) -> dict[str, str]:
    """What `start_service("console", ...)` needs: one port for pages, API and /metrics."""
    port = str(console_port())
    return {"BRINK_METRICS_PORT": port, "BRINK_CONSOLE_PORT": port, **extra}


def call(
    base: str,
    path: str,
    method: str = "GET",
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    request = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            text = r.read()
            status = int(r.status)
    except urllib.error.HTTPError as err:
        text, status = err.read(), int(err.code)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode(errors="replace")


def produce(settings: Settings, topic: str, items: Iterable[tuple[str, bytes | None]]) -> None:
    producer = KafkaProducer(**settings.kafka_python())
    try:
        for key, value in items:
            producer.send(topic, key=key.encode(), value=value)
        producer.flush()
    finally:
        producer.close()


def publish_articles_and_alerts(
    settings: Settings, articles: Iterable[EnrichedArticle], rules: RuleSet | None = None
) -> list[Alert]:
    """Enriched articles on ``articles.enriched`` and the alerts the per-article rules raise for
    them on ``alerts`` (what the alerting service would write), for tests that need no worker."""
    rules = rules or load_rules()
    arts = list(articles)
    alerts = [a for e in arts for a in rules.evaluate_article(e)]
    produce(settings, settings.topics.enriched, [(e.article.id, codec.encode(e)) for e in arts])
    produce(settings, settings.topics.alerts, [(a.group.key, codec.encode(a)) for a in alerts])
    return alerts


def read_topic(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record on ``topic`` now (key, value), without a consumer group."""
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, **settings.kafka_python())
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.key, r.value) for r in records)
    finally:
        consumer.close()
    return out


H = timedelta(hours=1)
