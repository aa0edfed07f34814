"""All of ingest's Kafka I/O (kafka-python): consume articles.raw, produce articles, dead letters
and dedup state, commit offsets only after everything a batch produced is acknowledged.

Why kafka-python and a compacted topic rather than a Faust table: near-duplicate copies of one
story come from different publishers with different keys, so they land on different partitions;
a Faust table is partitioned like its stream and could never compare them. Dedup state is one
global set of first copies, persisted to the compacted topic ``<prefix>brink-ingest-dedup-state``
(key = article id, tombstones for evicted ones) that every instance replays on start and then
tails, so a restart forgets nothing and several instances see each other's first copies.

Failure handling (docs/ingest.md, "Failures"):
- every exception on a record ends in a dead letter (bad input, a bug, output the broker will
  never take) or in a retry (broker unreachable, timeouts) that does not commit, so nothing is
  lost; after ``unhealthy_after_seconds`` of retrying /healthz says 503 and why;
- every Kafka call in the loops (poll, commit, produce, flush, state reads) survives a broker
  that disappears and returns; anything else that escapes rebuilds the clients after a pause;
- a producer that had a fatal error (an idempotent producer refuses everything after one record
  was refused) is replaced, and sizes are checked before sending so the broker never refuses one;
- the consumer is a static group member (``group_instance_id``), so a replica killed with -9 and
  restarted takes its partitions back at once; on a clean stop it removes itself from the group
  so the others take over at once too.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    ClusterAuthorizationFailedError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    UnsupportedForMessageFormatError,
)

from services.ingest import metrics
from services.ingest.config import DEFAULT_METRICS_PORT, IngestConfig, static_member_id
from services.ingest.dedup import Deduplicator, Entry
from services.ingest.normalise import PROCESSING_ERROR, PRODUCE_REFUSED, process
from shared import codec, deadletter, limits
from shared.codec import DecodeError
from shared.kafka_admin import ensure_topics, leave_group
from shared.metrics import queue_wait
from shared.settings import Settings

log = logging.getLogger(__name__)

APP_ID = "brink-ingest"
VIA_HEADER = "brink.via"  # set by the HTTP API on what it writes to articles.raw
INSTANCE_HEADER = "brink.ingest.instance"
TRUNCATED_HEADER = deadletter.PREFIX + "original_bytes"

# The largest record (key + value + headers) ingest hands its producer: under kafka-python's
# max_request_size (1,048,576) and the broker's default max.message.bytes (1,048,588).
MAX_PRODUCE_BYTES = limits.MAX_DEADLETTER_VALUE_BYTES + 16_384

# Errors after which this record will never be accepted, however often it is sent.
RECORD_FATAL: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    InvalidTopicError,
    UnsupportedForMessageFormatError,
    DecodeError,  # includes LimitError: over MAX_PRODUCE_BYTES, never sent
    TypeError,  # not serialisable (kafka-python raises these from send)
    ValueError,
)


def client_conf(settings: Settings) -> dict[str, Any]:
    """Connection settings for ingest's clients: reconnect within 2 s of a broker's return
    (kafka-python backs off up to 30 s by default, which kept output stuck after an outage)."""
    return {**settings.kafka_python(), "reconnect_backoff_max_ms": 2_000}


def group_id(settings: Settings) -> str:
    return settings.topic_prefix + APP_ID


def state_topic(settings: Settings) -> str:
    """Ingest's private changelog, named after its consumer group like Faust's changelogs."""
    return group_id(settings) + "-dedup-state"


def record_size(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> int:
    return len(key or b"") + len(value or b"") + sum(len(k) + len(v) + 8 for k, v in headers) + 64


def is_record_fatal(exc: BaseException | None) -> bool:
    """True when sending this record again can never succeed (too large, unauthorised, ...)."""
    return isinstance(exc, RECORD_FATAL) or (
        isinstance(exc, KafkaError) and not getattr(exc, "retriable", False) and _is_refusal(exc)
    )


def _is_refusal(exc: KafkaError) -> bool:
    name = type(exc).__name__
    return "TooLarge" in name or "Authorization" in name or "InvalidRecord" in name


@dataclass(frozen=True, slots=True)
class Source:
    """The raw record an output came from: dead-lettered instead if its output is refused."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int | None
    offset: int | None


@dataclass(frozen=True, slots=True)
class Out:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    source: Source | None = None


class RawProducer:
    """Writes raw records to articles.raw and waits for the broker's ack (HTTP API, feeds).

    Sizes are checked before sending (`LimitError`), and a producer that had a fatal error is
    replaced: kafka-python's idempotent producer fails every later send once the broker refused
    one record, so one bad request must not turn every later one into a 503.
    """

    def __init__(self, settings: Settings, factory: Callable[[], Any] | None = None) -> None:
        self._topic = settings.topics.raw
        self._factory = factory or (
            lambda: KafkaProducer(
                acks="all", linger_ms=2, max_block_ms=15_000, **client_conf(settings)
            )
        )
        self._lock = threading.Lock()
        self._producer = self._factory()

    def submit(
        self,
        records: Sequence[tuple[bytes | None, bytes]],
        timeout: float = 30.0,
        via: str = "http",
    ) -> None:
        """Send (key, value) pairs marked with where they came from (``brink.via``: http or feed);
        raises `LimitError` for a record over `limits.MAX_RAW_RECORD_BYTES` (nothing is sent)
        and KafkaError if the broker did not acknowledge them all."""
        headers = [(VIA_HEADER, via.encode())]
        for k, v in records:
            limits.check_record_size(
                (k or b"") + v, limit=limits.MAX_RAW_RECORD_BYTES, what="raw record"
            )
        producer = self._producer
        try:
            futures = [
                producer.send(self._topic, key=k, value=v, headers=headers) for k, v in records
            ]
            producer.flush(timeout)
            for f in futures:
                f.get(timeout=0)
        except Exception as exc:
            if is_record_fatal(exc) or (isinstance(exc, KafkaError) and not exc.retriable):
                self._renew(producer, exc)
            raise

    def _renew(self, failed: Any, exc: BaseException) -> None:
        with self._lock:
            if self._producer is not failed:
                return  # another thread replaced it already
            log.warning("raw producer had a fatal error (%s); replacing it", exc)
            metrics.PRODUCER_RESETS.inc()
            with contextlib.suppress(Exception):
                failed.close(0)
            self._producer = self._factory()

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


class Health:
    """What /healthz says: ``starting`` until the consumer has its partitions and has caught up
    (or is idle), then ``running``; a named problem (output not acknowledged, broker unreachable,
    loop failed) makes it unhealthy until it clears. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = "starting"
        self._since: dict[str, float] = {}  # problem -> when it started (monotonic)
        self._detail: dict[str, str] = {}

    def set_state(self, state: str) -> None:
        with self._lock:
            self.state = state

    def failing(self, problem: str, detail: str) -> float:
        """Record that ``problem`` persists; seconds since it started."""
        with self._lock:
            since = self._since.setdefault(problem, time.monotonic())
            self._detail[problem] = detail
            return time.monotonic() - since

    def cleared(self, problem: str) -> None:
        with self._lock:
            self._since.pop(problem, None)
            self._detail.pop(problem, None)

    def report(self, unhealthy_after: float) -> tuple[bool, dict[str, object]]:
        with self._lock:
            now = time.monotonic()
            problems = {
                p: f"{self._detail[p]} (for {now - t:.0f} s)"
                for p, t in self._since.items()
                if now - t >= unhealthy_after or p == "loop"
            }
            ok = self.state == "running" and not problems
            details: dict[str, object] = {"state": self.state}
            if problems:
                details["problems"] = problems
            return ok, details


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.assigned = threading.Event()

    def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("assigned %d partition(s) of articles.raw", len(assigned))
        self.assigned.set()


def _observe_queue_wait(record: Any, polled_at: float) -> None:
    """kafka-python's ``ConsumerRecord.timestamp`` is in milliseconds (-1: none)."""
    timestamp = getattr(record, "timestamp", None)
    wait = queue_wait(timestamp / 1000 if timestamp is not None else None, polled_at)
    if wait is not None:
        metrics.QUEUE_WAIT.observe(wait)


class IngestWorker:
    """The consume -> process -> produce -> commit loop. `run` blocks until `stop` is called."""

    def __init__(
        self, settings: Settings, config: IngestConfig, dedup: Deduplicator | None = None
    ) -> None:
        self.settings = settings
        self.config = config
        self.dedup = (
            dedup
            if dedup is not None
            else Deduplicator(
                config.dedup,
                on_evict=lambda cause, n: metrics.DEDUP_EVICTED.labels(cause=cause).inc(n),
            )
        )
        self.instance = uuid.uuid4().hex[:12].encode()
        self.member_id = static_member_id(config, settings.metrics_port or DEFAULT_METRICS_PORT)
        self.ready = threading.Event()  # dedup state replayed, consumer created (feeds wait on it)
        self.health = Health()
        self._stop = threading.Event()
        self._producer: Any = None
        self._producer_factory: Callable[[], Any] = lambda: KafkaProducer(
            acks="all",
            linger_ms=5,
            batch_size=256 * 1024,
            max_block_ms=10_000,  # send() blocks at most this long without metadata
            **client_conf(self.settings),
        )
        self._state_tail: KafkaConsumer | None = None
        self._consumer: KafkaConsumer | None = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait_stop(self, timeout: float) -> bool:
        return self._stop.wait(timeout)

    def report(self) -> tuple[bool, dict[str, object]]:
        """(healthy?, details) for /healthz."""
        return self.health.report(self.config.unhealthy_after_seconds)

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
                self.health.cleared("broker")
                return
            except KafkaError as exc:
                self.health.failing("broker", f"broker not reachable: {exc}")
                log.warning("broker not reachable (%s); retrying in 2 s", exc)
                self._stop.wait(2.0)

    def _replay_state(self) -> KafkaConsumer:
        """Read the dedup changelog to its end into the deduplicator; keep the consumer to tail it.

        At most ``max_entries`` live entries are held while reading (the oldest go first), so
        replaying a state topic that outgrew the cap cannot exhaust memory.
        """
        consumer = KafkaConsumer(
            client_id="brink-ingest-state",
            enable_auto_commit=False,
            group_id=None,
            # reading the state between batches must not stall the loop for the 30 s default
            request_timeout_ms=10_000,
            **client_conf(self.settings),
        )
        try:
            tp = TopicPartition(state_topic(self.settings), 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            live: dict[str, Entry] = {}
            cap = self.config.dedup.max_entries
            started = time.monotonic()
            while consumer.position(tp) < end and not self._stop.is_set():
                for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                    for r in records:
                        key = r.key.decode()
                        live.pop(key, None)
                        if r.value is not None:
                            live[key] = Entry.from_bytes(r.value)
                            if len(live) > cap:
                                del live[next(iter(live))]
            horizon = time.time() - self.config.dedup.window_seconds
            self.dedup.restore_all(e for e in live.values() if e.seen_at >= horizon)
            self.dedup.take_capped()  # replay only: nothing new to delete
            metrics.DEDUP_ENTRIES.set(len(self.dedup))
            log.info(
                "dedup state: %d articles restored from %s in %.1f s",
                len(self.dedup),
                tp.topic,
                time.monotonic() - started,
            )
            return consumer
        except BaseException:
            consumer.close()
            raise

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        """Consume until `stop`. Never returns on a Kafka error: clients are rebuilt and the
        records that were not acknowledged are read again."""
        delay = 1.0
        try:
            while not self._stop.is_set():
                try:
                    self._session()
                    return
                except Exception as exc:  # a dead broker, or a bug: rebuild, never exit
                    log.exception("ingest loop failed; starting again in %.0f s", delay)
                    self.health.failing(
                        "loop", f"consumer loop failed: {type(exc).__name__}: {exc}"
                    )
                    self.health.set_state("starting")
                    self._close_clients(leave=False)
                    self._stop.wait(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            self.ready.clear()
            self.health.set_state("stopped")

    def _session(self) -> None:
        self._connect()
        if self._stop.is_set():
            return
        self._producer = self._producer_factory()
        self._state_tail = self._replay_state()
        listener = _Assignment()
        self._consumer = consumer = KafkaConsumer(
            group_id=group_id(self.settings),
            group_instance_id=self.member_id,
            client_id=APP_ID,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=500,
            **client_conf(self.settings),
        )
        consumer.subscribe([self.settings.topics.raw], listener=listener)
        self.ready.set()
        self.health.cleared("loop")
        log.info(
            "ingest consuming %s as group %s, static member %s",
            self.settings.topics.raw,
            group_id(self.settings),
            self.member_id,
        )
        next_evict = time.monotonic() + self.config.evict_interval_seconds
        poll_delay = 0.5
        try:
            while not self._stop.is_set():
                try:
                    batch = consumer.poll(timeout_ms=500)
                    self.health.cleared("consumer")
                    poll_delay = 0.5
                except KafkaError as exc:  # broker gone: keep polling, the client reconnects
                    self.health.failing("consumer", f"cannot fetch from the broker: {exc}")
                    log.warning("poll failed (%s); again in %.1f s", exc, poll_delay)
                    self._stop.wait(poll_delay)
                    poll_delay = min(poll_delay * 2, 10.0)
                    continue
                polled_at = time.time()
                self._tail_state(catch_up=bool(batch))
                if batch:
                    started = time.perf_counter()
                    for records in batch.values():
                        for record in records:
                            _observe_queue_wait(record, polled_at)
                    out: list[Out] = []
                    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
                    for tp, records in batch.items():
                        for record in records:
                            out.extend(self.handle(record))
                        offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, None, -1)
                    out.extend(self._tombstones(self.dedup.take_capped()))
                    if not self._deliver(out):
                        break  # stopping mid-outage: uncommitted records are redelivered
                    self._commit(consumer, offsets)
                    metrics.BATCH_PROCESSING.observe(time.perf_counter() - started)
                metrics.DEDUP_ENTRIES.set(len(self.dedup))
                if (
                    self.health.state == "starting"
                    and listener.assigned.is_set()
                    and (not batch or self._caught_up(consumer))
                ):
                    self.health.set_state("running")
                    log.info("ingest caught up with its partitions: healthy")
                if time.monotonic() >= next_evict:
                    self._evict()
                    next_evict = time.monotonic() + self.config.evict_interval_seconds
        finally:
            self._close_clients(leave=self._stop.is_set())

    def _caught_up(self, consumer: KafkaConsumer) -> bool:
        try:
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is None or consumer.position(tp) < high:
                    return False
            return True
        except KafkaError:
            return False

    def _close_clients(self, leave: bool) -> None:
        """Close every client; with ``leave`` (a clean stop) also remove this static member from
        the group, which a static member's close does not do, so others take over at once."""
        self.ready.clear()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close(autocommit=False)
            if leave:
                self._leave_group()
        tail, self._state_tail = self._state_tail, None
        if tail is not None:
            with contextlib.suppress(Exception):
                tail.close()
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(10)

    def _leave_group(self) -> None:
        leave_group(self.settings, group_id(self.settings), self.member_id)

    def handle(self, record: object) -> list[Out]:
        """One raw record -> the records to produce (an article and state, or a dead letter).

        Never raises: whatever goes wrong on a record makes a dead letter of it.
        """
        topics = self.settings.topics
        headers: list[tuple[str, bytes]] = list(getattr(record, "headers", None) or [])
        via = "http" if (VIA_HEADER, b"http") in headers else "kafka"
        metrics.RECEIVED.labels(via=via).inc()
        value: bytes | None = getattr(record, "value", None)
        key: bytes | None = getattr(record, "key", None)
        partition, offset = getattr(record, "partition", None), getattr(record, "offset", None)
        source = Source(key, value, headers, partition, offset)
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
            if verdict.duplicate is not None:
                article = article.model_copy(update={"duplicate": verdict.duplicate})
            encoded = codec.encode(article)
            limits.check_record_size(encoded, limit=limits.MAX_RECORD_BYTES, what="the article")
        except Exception as exc:  # bad input, or domain code that failed on it: dead-letter, go on
            if not isinstance(exc, DecodeError):
                log.exception("processing raw record %s/%s failed", partition, offset)
                exc = DecodeError(PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
            return [self.dead_letter(source, exc.reason, exc.detail)]
        finally:
            metrics.PROCESSING.observe(time.perf_counter() - started)
        out: list[Out] = []
        if verdict.duplicate is not None:
            metrics.DUPLICATES.labels(kind=verdict.duplicate.kind.value).inc()
        if verdict.remembered is not None:
            out.append(
                Out(
                    state_topic(self.settings),
                    article.id.encode(),
                    verdict.remembered.to_bytes(),
                    [(INSTANCE_HEADER, self.instance)],
                    source,
                )
            )
        out.append(Out(topics.articles, article.id.encode(), encoded, [], source))
        return out

    def dead_letter(self, source: Source, reason: str, detail: str) -> Out:
        """The raw record unchanged, with ``brink.dlq.*`` headers; a value too large to carry
        with them is cut to `limits.MAX_DEADLETTER_VALUE_BYTES` (``brink.dlq.original_bytes``)."""
        topics = self.settings.topics
        metrics.DEAD_LETTERED.labels(reason=reason).inc()
        log.warning(
            "dead-lettered %s[%s]@%s: %s", topics.raw, source.partition, source.offset, reason
        )
        dlq_headers = deadletter.headers(
            stage="ingest",
            reason=reason,
            detail=detail,
            topic=topics.raw,
            partition=source.partition,
            offset=source.offset,
            original=source.headers,
        )
        value = source.value
        budget = limits.MAX_DEADLETTER_VALUE_BYTES - len(source.key or b"")
        if value is not None and len(value) > budget:
            dlq_headers.append((TRUNCATED_HEADER, str(len(value)).encode()))
            value = value[: max(budget, 0)]
        return Out(topics.deadletter, source.key, value, dlq_headers, None)

    # ------------------------------------------------------------------ delivery
    def _send(self, o: Out) -> Any:
        """Hand one record to the producer: a future, or the exception that prevented sending."""
        size = record_size(o.key, o.value, o.headers)
        if (
            size > MAX_PRODUCE_BYTES
        ):  # never let the broker refuse for size: it poisons the producer
            return limits.LimitError(limits.TOO_LARGE, f"record of {size} bytes")
        try:
            return self._producer.send(o.topic, key=o.key, value=o.value, headers=o.headers)
        except Exception as exc:  # KafkaTimeoutError (no metadata), or not serialisable
            return exc

    def _wait(self, sent: list[tuple[Out, Any]]) -> bool:
        """Flush until every future is done (not re-sending what the producer still holds, which
        would duplicate it). False when asked to stop first."""
        while True:
            try:
                self._producer.flush(timeout=5)
            except KafkaError as exc:
                log.warning("flush: %s", exc)
            if all(not hasattr(f, "is_done") or f.is_done for _, f in sent):
                return True
            waited = self.health.failing("output", "the broker has not acknowledged output")
            log.warning("output not acknowledged after %.0f s; still waiting", waited)
            if self._stop.is_set():
                return False

    def _renew_producer(self, exc: BaseException) -> None:
        log.warning("producer had a fatal error (%s); replacing it", exc)
        metrics.PRODUCER_RESETS.inc()
        with contextlib.suppress(Exception):
            self._producer.close(0)
        self._producer = self._producer_factory()

    def _refused(self, o: Out, exc: BaseException) -> Out:
        """What to send instead of a record the broker will never take.

        Output of a raw record: a dead letter of that record. A dead letter: the same without its
        value. A dead letter without a value: itself (retried, and /healthz says why: the
        dead-letter topic refuses writes, which only an operator can fix).
        """
        log.error("output to %s refused for good: %s", o.topic, exc)
        reason = limits.TOO_LARGE if "TooLarge" in type(exc).__name__ else PRODUCE_REFUSED
        if isinstance(exc, DecodeError):
            reason = exc.reason
        if o.source is not None:
            return self.dead_letter(
                o.source, reason, f"output refused: {type(exc).__name__}: {exc}"
            )
        if o.topic == self.settings.topics.deadletter and o.value is not None:
            headers = [*o.headers, (TRUNCATED_HEADER, str(len(o.value)).encode())]
            return replace(o, value=None, headers=headers)
        return o

    def _deliver(self, out: Iterable[Out]) -> bool:
        """Produce everything and wait for acks, re-sending what failed until it is acked.

        A record the broker will never take (too large, unauthorised, not serialisable) is
        replaced by a dead letter of its raw record; transient failures are retried with backoff
        (and /healthz goes 503 after ``unhealthy_after_seconds``). Returns False only when asked
        to stop before everything was acknowledged.
        """
        assert self._producer is not None
        pending = list(out)
        delay = 0.5
        careful = False  # after a fatal error: one record at a time, so one cannot poison others
        while pending:
            failed: list[tuple[Out, BaseException]] = []
            for group in [[o] for o in pending] if careful else [pending]:
                sent: list[tuple[Out, Any]] = []
                for o in group:
                    if sent and isinstance(sent[-1][1], KafkaTimeoutError):
                        # no metadata: each send would block max_block_ms again; try later
                        sent.append((o, sent[-1][1]))
                    else:
                        sent.append((o, self._send(o)))
                if not self._wait(sent):
                    return False
                spoilt: BaseException | None = None
                for o, fut in sent:
                    if isinstance(fut, BaseException):
                        exc: BaseException | None = fut
                    elif fut.failed():
                        exc = getattr(fut, "exception", None) or KafkaError("not acknowledged")
                    else:
                        exc = None
                    if exc is None:
                        if o.topic == self.settings.topics.articles:
                            metrics.PUBLISHED.inc()
                        continue
                    failed.append((o, exc))
                    if isinstance(exc, KafkaError) and is_record_fatal(exc):
                        spoilt = exc
                if spoilt is not None:
                    self._renew_producer(spoilt)  # kafka-python fails every later send on it
            if not failed:
                break
            if not careful and any(is_record_fatal(e) for _, e in failed):
                careful = True  # the refusal may have failed the others: re-send each alone
                pending = [o for o, _ in failed]
                continue
            pending, stuck = [], []
            for o, exc in failed:
                instead = self._refused(o, exc) if is_record_fatal(exc) else o
                pending.append(instead)
                if instead is o:
                    stuck.append((o, exc))
            if not stuck:
                continue  # only replacements (dead letters) to send
            metrics.OUTPUT_RETRIES.inc(len(stuck))
            first = stuck[0][1]
            waited = self.health.failing(
                "output", f"output to {stuck[0][0].topic} not acknowledged: {first}"
            )
            log.warning(
                "%d records not acknowledged (%s); retrying in %.1f s (failing for %.0f s)",
                len(stuck),
                first,
                delay,
                waited,
            )
            if self._stop.wait(delay):
                return False
            delay = min(delay * 2, 5.0)
        self.health.cleared("output")
        return True

    def _commit(
        self, consumer: KafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        delay = 0.5
        while True:
            try:
                consumer.commit(offsets)
                self.health.cleared("commit")
                return
            except KafkaError as exc:
                retriable = getattr(exc, "retriable", False)
                log.warning("offset commit failed (%s)%s", exc, "; retrying" if retriable else "")
                # Not retriable (e.g. the group rebalanced): the records come back to whoever
                # owns the partition, and the dedup origin check keeps the first copy a first copy.
                if not retriable:
                    return
                self.health.failing("commit", f"offset commit failing: {exc}")
                if self._stop.wait(delay):
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

    def _tombstones(self, ids: Iterable[str]) -> list[Out]:
        return [
            Out(state_topic(self.settings), i.encode(), None, [(INSTANCE_HEADER, self.instance)])
            for i in ids
        ]

    def _evict(self) -> None:
        gone = self.dedup.evict(time.time())
        if gone:
            log.info("dedup window: forgot %d first copies", len(gone))
            self._deliver(self._tombstones(gone))
