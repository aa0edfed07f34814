"""The console's Kafka I/O: topic creation, the materialising consumer and the writers of
``alerts.silences`` and ``alerts.feedback``.

The materialiser reads ``alerts``, ``articles.enriched``, ``alerts.silences`` and
``alerts.feedback`` with no consumer group: it assigns itself every partition and seeks to the
offsets its store holds (the beginning when it holds none), because those offsets are written in
the same SQLite transaction as the rows (see `services.console.store`). A second console keeps
its own file and reads everything itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from services.console import metrics
from services.console.store import Record, Repository
from shared.settings import Settings

log = logging.getLogger(__name__)

POLL_MS = 200
MAX_RECORDS = 500


def ensure_console_topics(settings: Settings) -> None:
    """Create what the console reads and writes when missing: the pipeline topics it reads,
    and the compacted control topics (silences, feedback) it writes."""
    t = settings.topics
    admin = KafkaAdminClient(client_id="brink-console-admin", **settings.kafka_python())
    try:
        existing = set(admin.list_topics())
        new = []
        for name in (t.alerts, t.enriched, t.silences, t.feedback):
            if name in existing:
                continue
            compact = name in (t.silences, t.feedback)
            new.append(
                NewTopic(
                    name,
                    num_partitions=settings.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs={"cleanup.policy": "compact"} if compact else {},
                )
            )
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter won
                admin.create_topics(new)
    finally:
        admin.close()


class Materialiser:
    """Reads the four topics into the store until `stop`; `ready` is set once it has caught
    up with the end offsets seen at start (then /healthz is 200)."""

    def __init__(self, settings: Settings, store: Repository) -> None:
        self._settings = settings
        self._store = store
        self.ready = threading.Event()
        self._stop = threading.Event()
        self.error: str | None = None

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except KafkaError as exc:  # broker away: reconnect, resume from the stored offsets
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("console: Kafka unavailable, retrying: %s", exc)
                self._stop.wait(2.0)

    def _consume(self) -> None:
        topics = self._store.topics.all
        consumer = KafkaConsumer(
            client_id="brink-console",
            group_id=None,
            enable_auto_commit=False,
            **self._settings.kafka_python(),
        )
        try:
            tps: list[TopicPartition] = []
            deadline = time.monotonic() + 30
            for topic in topics:
                parts = consumer.partitions_for_topic(topic)
                while not parts and time.monotonic() < deadline and not self._stop.is_set():
                    self._stop.wait(0.5)
                    parts = consumer.partitions_for_topic(topic)
                tps += [TopicPartition(topic, p) for p in sorted(parts or ())]
            consumer.assign(tps)
            stored = self._store.offsets()
            for tp in tps:
                at = stored.get((tp.topic, tp.partition))
                if at is None:
                    consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, at)
            ends = consumer.end_offsets(tps)
            log.info("console: reading %d partitions from the stored offsets", len(tps))
            self.error = None
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=POLL_MS, max_records=MAX_RECORDS)
                records = [
                    Record(r.topic, r.partition, r.offset, r.key, r.value)
                    for rs in batch.values()
                    for r in rs
                ]
                if records:
                    started = time.perf_counter()
                    applied = self._store.apply(records)
                    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
                    metrics.RECORDS.inc(len(records))
                    metrics.APPLIED.inc(applied)
                if not self.ready.is_set() and all(consumer.position(tp) >= ends[tp] for tp in tps):
                    log.info("console: caught up (%s)", self._store.counts())
                    self.ready.set()
        finally:
            consumer.close()


def fetch_article(settings: Settings, article_id: str, max_seconds: float = 10.0) -> bytes | None:
    """The newest ``articles.enriched`` record of one article (for an article asked for that the
    store does not hold), or None. Only the article's own partition is read: producers place
    records by the murmur2 hash of the key (kafka-python's, aiokafka's and Java's default
    partitioner), and the topic is keyed by article id."""
    topic = settings.topics.enriched
    key = article_id.encode()
    consumer = KafkaConsumer(
        client_id="brink-console-fetch",
        group_id=None,
        enable_auto_commit=False,
        **settings.kafka_python(),
    )
    found: bytes | None = None
    try:
        parts = sorted(consumer.partitions_for_topic(topic) or ())
        if not parts:
            return None
        tp = TopicPartition(topic, parts[(murmur2(key) & 0x7FFFFFFF) % len(parts)])
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        deadline = time.monotonic() + max_seconds
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300, max_records=2000).values():
                for r in records:
                    if r.key == key and r.value is not None:
                        found = r.value
    finally:
        consumer.close()
    return found


class ControlWriter:
    """Writes analysts' actions to the compacted control topics; `send` returns once the broker
    has the record (so the API answers only for what is on Kafka)."""

    def __init__(self, settings: Settings) -> None:
        self._producer = KafkaProducer(client_id="brink-console", **settings.kafka_python())

    def send(self, topic: str, key: str, value: bytes | None) -> None:
        self._producer.send(topic, key=key.encode(), value=value).get(timeout=30)

    def close(self) -> None:
        self._producer.close()
