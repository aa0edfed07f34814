"""Producing enriched articles and reading alerts on the real broker, for alerting tests."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from shared import codec
from shared.schemas import Alert, EnrichedArticle
from shared.settings import Settings


def produce(settings: Settings, articles: Iterable[EnrichedArticle]) -> None:
    producer = KafkaProducer(**settings.kafka_python())
    try:
        for a in articles:
            producer.send(
                settings.topics.enriched, key=a.article.id.encode(), value=codec.encode(a)
            )
        producer.flush()
    finally:
        producer.close()


class AlertReader:
    """Reads the alerts topic from the beginning; `poll()` returns everything read so far."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self.records: list[tuple[bytes | None, Alert]] = []
        self._consumer = KafkaConsumer(
            settings.topics.alerts,
            group_id=group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **settings.kafka_python(),
        )

    def poll(self) -> list[Alert]:
        for batch in self._consumer.poll(timeout_ms=300).values():
            self.records.extend((r.key, codec.decode(r.value, Alert)) for r in batch)
        return [a for _, a in self.records]

    def close(self) -> None:
        self._consumer.close()


def health(url: str) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a service's /healthz; (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status), orjson.loads(r.read())
    except urllib.error.HTTPError as err:
        return int(err.code), orjson.loads(err.read())
    except OSError:
        return 0, {}
