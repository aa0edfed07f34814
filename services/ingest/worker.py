"""All of ingest's Kafka I/O (kafka-python): consume articles.raw, produce articles, dead letters
and dedup state, commit offsets only after everything a batch produced is acknowledged.

Why kafka-python and a compacted topic rather than a Faust table: near-duplicate copies of one
story come from different publishers with different keys, so they land on different partitions;
a Faust table is partitioned like its stream and could never compare them. Dedup state is one
global set of first copies, persisted to the compacted topic ``<prefix>brink-ingest-dedup-state``
(key = article id, tombstones for evicted ones) that every instance replays on start and then
tails, so a restart forgets nothing and several instances see each other's first copies.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from services.ingest import metrics
from services.ingest.config import IngestConfig
from services.ingest.dedup import Deduplicator, Entry
from services.ingest.normalise import PROCESSING_ERROR, process
from shared import codec, deadletter
from shared.codec import DecodeError
from shared.kafka_admin import ensure_topics
from shared.settings import Settings

log = logging.getLogger(__name__)

APP_ID = "brink-ingest"
VIA_HEADER = "brink.via"  # set by the HTTP API on what it writes to articles.raw
INSTANCE_HEADER = "brink.ingest.instance"


def group_id(settings: Settings) -> str:
    return settings.topic_prefix + APP_ID


def state_topic(settings: Settings) -> str:
    """Ingest's private changelog, named after its consumer group like Faust's changelogs."""
    return group_id(settings) + "-dedup-state"


@dataclass(frozen=True, slots=True)
class Out:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class RawProducer:
    """Writes raw records to articles.raw and waits for the broker's ack (HTTP API, feeds)."""

    def __init__(self, settings: Settings) -> None:
        self._topic = settings.topics.raw
        self._producer = KafkaProducer(acks="all", linger_ms=2, **settings.kafka_python())

    def submit(
        self,
        records: Sequence[tuple[bytes | None, bytes]],
        timeout: float = 30.0,
        via: str = "http",
    ) -> None:
        """Send (key, value) pairs marked with where they came from (``brink.via``: http or feed);
        raises KafkaError if the broker did not acknowledge them all."""
        headers = [(VIA_HEADER, via.encode())]
        futures = [
            self._producer.send(self._topic, key=k, value=v, headers=headers) for k, v in records
        ]
        self._producer.flush(timeout)
        for f in futures:
            f.get(timeout=0)

    def close(self) -> None:
        self._producer.close(5)


def ensure_state_topic(settings: Settings) -> None:
    admin = KafkaAdminClient(client_id="brink-ingest-admin", **settings.kafka_python())
    try:
        if state_topic(settings) in set(admin.list_topics()):
            return
        topic = NewTopic(
            state_topic(settings),
            num_partitions=1,
            replication_factor=settings.replication_factor,
            topic_configs={"cleanup.policy": "compact"},
        )
        with contextlib.suppress(TopicAlreadyExistsError):  # another instance won the race
            admin.create_topics([topic])
    finally:
        admin.close()


class IngestWorker:
    """The consume -> process -> produce -> commit loop. `run` blocks until `stop` is called."""

    def __init__(
        self, settings: Settings, config: IngestConfig, dedup: Deduplicator | None = None
    ) -> None:
        self.settings = settings
        self.config = config
        self.dedup = dedup if dedup is not None else Deduplicator(config.dedup)
        self.instance = uuid.uuid4().hex[:12].encode()
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._producer: KafkaProducer | None = None
        self._state_tail: KafkaConsumer | None = None

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ start-up
    def _connect(self) -> None:
        while not self._stop.is_set():
            try:
                ensure_topics(
                    self.settings,
                    [
                        self.settings.topics.raw,
                        self.settings.topics.articles,
                        self.settings.topics.deadletter,
                    ],
                )
                ensure_state_topic(self.settings)
                return
            except KafkaError as exc:
                log.warning("broker not reachable (%s); retrying in 2 s", exc)
                self._stop.wait(2.0)

    def _replay_state(self) -> KafkaConsumer:
        """Read the dedup changelog to its end into the deduplicator; keep the consumer to tail it."""
        consumer = KafkaConsumer(
            client_id="brink-ingest-state",
            enable_auto_commit=False,
            group_id=None,
            **self.settings.kafka_python(),
        )
        tp = TopicPartition(state_topic(self.settings), 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        live: dict[str, Entry] = {}
        started = time.monotonic()
        while consumer.position(tp) < end and not self._stop.is_set():
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for r in records:
                    key = r.key.decode()
                    if r.value is None:
                        live.pop(key, None)
                    else:
                        live[key] = Entry.from_bytes(r.value)
        horizon = time.time() - self.config.dedup.window_seconds
        self.dedup.restore_all(e for e in live.values() if e.seen_at >= horizon)
        log.info(
            "dedup state: %d articles restored from %s in %.1f s",
            len(self.dedup),
            tp.topic,
            time.monotonic() - started,
        )
        return consumer

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        self._connect()
        if self._stop.is_set():
            return
        self._producer = KafkaProducer(
            acks="all", linger_ms=5, batch_size=256 * 1024, **self.settings.kafka_python()
        )
        self._state_tail = self._replay_state()
        consumer = KafkaConsumer(
            self.settings.topics.raw,
            group_id=group_id(self.settings),
            client_id=APP_ID,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            **self.settings.kafka_python(),
        )
        self.ready.set()
        log.info(
            "ingest consuming %s as group %s", self.settings.topics.raw, group_id(self.settings)
        )
        next_evict = time.monotonic() + self.config.evict_interval_seconds
        try:
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=500)
                self._tail_state(catch_up=bool(batch))
                if batch:
                    out: list[Out] = []
                    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
                    for tp, records in batch.items():
                        for record in records:
                            out.extend(self.handle(record))
                        offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, None, -1)
                    if not self._deliver(out):
                        break  # stopping mid-outage: uncommitted records are redelivered
                    self._commit(consumer, offsets)
                if time.monotonic() >= next_evict:
                    self._evict()
                    next_evict = time.monotonic() + self.config.evict_interval_seconds
        finally:
            self.ready.clear()
            consumer.close()
            if self._state_tail is not None:
                self._state_tail.close()
            self._producer.close(10)

    def handle(self, record: object) -> list[Out]:
        """One raw record -> the records to produce (an article and state, or a dead letter)."""
        topics = self.settings.topics
        headers: list[tuple[str, bytes]] = list(getattr(record, "headers", None) or [])
        via = "http" if (VIA_HEADER, b"http") in headers else "kafka"
        metrics.RECEIVED.labels(via=via).inc()
        value: bytes | None = getattr(record, "value", None)
        key: bytes | None = getattr(record, "key", None)
        partition, offset = getattr(record, "partition", None), getattr(record, "offset", None)
        started = time.perf_counter()
        try:
            article = process(value, datetime.now(UTC), max_bytes=self.settings.max_body_bytes)
            verdict = self.dedup.check(
                article.id,
                article.content_hash,
                article.body,
                article.received_at.timestamp(),
                origin=f"{partition}:{offset}",
            )
        except Exception as exc:  # bad input, or domain code that failed on it: dead-letter, go on
            if not isinstance(exc, DecodeError):
                log.exception("processing raw record %s/%s failed", partition, offset)
                exc = DecodeError(PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
            metrics.DEAD_LETTERED.labels(reason=exc.reason).inc()
            log.warning("dead-lettered %s[%s]@%s: %s", topics.raw, partition, offset, exc.reason)
            dlq_headers = deadletter.headers(
                stage="ingest",
                reason=exc.reason,
                detail=exc.detail,
                topic=topics.raw,
                partition=partition,
                offset=offset,
                original=headers,
            )
            return [Out(topics.deadletter, key, value, dlq_headers)]
        finally:
            metrics.PROCESSING.observe(time.perf_counter() - started)
        out: list[Out] = []
        if verdict.duplicate is not None:
            article = article.model_copy(update={"duplicate": verdict.duplicate})
            metrics.DUPLICATES.labels(kind=verdict.duplicate.kind.value).inc()
        if verdict.remembered is not None:
            out.append(
                Out(
                    state_topic(self.settings),
                    article.id.encode(),
                    verdict.remembered.to_bytes(),
                    [(INSTANCE_HEADER, self.instance)],
                )
            )
        out.append(Out(topics.articles, article.id.encode(), codec.encode(article), []))
        return out

    # ------------------------------------------------------------------ delivery
    def _deliver(self, out: Iterable[Out]) -> bool:
        """Produce everything and wait for acks, re-sending what failed until it is acked.

        Returns False only when asked to stop before everything was acknowledged.
        """
        assert self._producer is not None
        pending = list(out)
        delay = 0.5
        while pending:
            sent = []
            for o in pending:
                try:
                    fut = self._producer.send(o.topic, key=o.key, value=o.value, headers=o.headers)
                except KafkaError as exc:
                    log.warning("produce to %s failed: %s", o.topic, exc)
                    fut = None
                sent.append((o, fut))
            try:
                self._producer.flush(timeout=60)
            except KafkaError as exc:
                log.warning("flush failed: %s", exc)
            failed = []
            for o, fut in sent:
                if fut is None or not fut.is_done or fut.failed():
                    failed.append(o)
                elif o.topic == self.settings.topics.articles:
                    metrics.PUBLISHED.inc()
            if not failed:
                return True
            log.warning("%d records not acknowledged; retrying in %.1f s", len(failed), delay)
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, 10.0)
            pending = failed
        return True

    def _commit(
        self, consumer: KafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        delay = 0.5
        while True:
            try:
                consumer.commit(offsets)
                return
            except KafkaError as exc:
                retriable = getattr(exc, "retriable", False)
                log.warning("offset commit failed (%s)%s", exc, "; retrying" if retriable else "")
                # Not retriable (e.g. the group rebalanced): the records come back to whoever
                # owns the partition, and the dedup origin check keeps the first copy a first copy.
                if not retriable or self._stop.wait(delay):
                    return
                delay = min(delay * 2, 10.0)

    def _tail_state(self, catch_up: bool) -> None:
        """Apply other instances' entries (and tombstones) from the state topic.

        With ``catch_up`` (before a batch is handled) read up to the current end of the topic,
        so a copy is compared with every first copy other instances had acknowledged by then.
        """
        if self._state_tail is None:
            return
        tp = TopicPartition(state_topic(self.settings), 0)
        try:
            end = self._state_tail.end_offsets([tp])[tp] if catch_up else -1
            deadline = time.monotonic() + 2.0
            while True:
                batch = self._state_tail.poll(timeout_ms=0 if end < 0 else 100, max_records=5000)
                for records in batch.values():
                    for r in records:
                        self._apply_state(r)
                if self._state_tail.position(tp) >= end or time.monotonic() > deadline:
                    return
        except KafkaError as exc:
            log.warning("reading dedup state failed: %s", exc)

    def _apply_state(self, r: Any) -> None:
        if (INSTANCE_HEADER, self.instance) in (r.headers or []):
            return  # our own: already applied
        if r.value is None:
            self.dedup.forget(r.key.decode())
        else:
            self.dedup.restore(Entry.from_bytes(r.value))

    def _evict(self) -> None:
        gone = self.dedup.evict(time.time())
        if gone:
            log.info("dedup window: forgot %d first copies", len(gone))
            self._deliver(
                Out(
                    state_topic(self.settings), i.encode(), None, [(INSTANCE_HEADER, self.instance)]
                )
                for i in gone
            )
