"""A broker that fails is not bad input: ingest re-sends until acknowledged and loses nothing.

The real broker cannot be stopped under other tests, so the producer here is a fake whose sends
fail for a while, passed in where the worker keeps its producer (no network).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from services.ingest import worker as worker_module
from services.ingest.config import IngestConfig
from services.ingest.dedup import Deduplicator
from services.ingest.worker import IngestWorker, Out, Source
from shared import deadletter, limits
from shared.settings import Settings


@dataclass
class FakeFuture:
    ok: bool
    is_done: bool = True

    def failed(self) -> bool:
        return not self.ok


@dataclass
class FlakyProducer:
    """Fails the first `outage` sends (as during a broker outage), then acknowledges."""

    outage: int
    calls: int = 0
    acked: list[bytes | None] = field(default_factory=list)

    def send(self, topic: str, key: Any = None, value: Any = None, headers: Any = None) -> Any:
        self.calls += 1
        if self.calls <= self.outage:
            if self.calls % 2:
                raise KafkaTimeoutError("metadata not available")
            return FakeFuture(ok=False)
        self.acked.append(value)
        return FakeFuture(ok=True)

    def flush(self, timeout: float | None = None) -> None:
        return None


def worker(producer: FlakyProducer) -> IngestWorker:
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig())
    w._producer = producer
    return w


def test_failed_sends_are_retried_until_everything_is_acknowledged() -> None:
    producer = FlakyProducer(outage=7)
    w = worker(producer)
    out = [Out("unit.articles", f"k{i}".encode(), f"v{i}".encode(), []) for i in range(5)]
    assert w._deliver(out) is True
    assert sorted(v or b"" for v in producer.acked) == [f"v{i}".encode() for i in range(5)]
    assert producer.calls > 5  # some were sent more than once


def test_stopping_during_an_outage_reports_not_delivered() -> None:
    producer = FlakyProducer(outage=10_000)
    w = worker(producer)
    w.stop()
    assert w._deliver([Out("unit.articles", b"k", b"v", [])]) is False
    assert producer.acked == []


class BrokenDedup(Deduplicator):
    def check(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in dedup")


def test_domain_code_that_fails_dead_letters_the_record_and_goes_on() -> None:
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig(), dedup=BrokenDedup())
    record = SimpleNamespace(
        topic="unit.articles.raw",
        partition=1,
        offset=7,
        key=b"k",
        value=b'{"text": "Troops massed at the border."}',
        headers=[("trace", b"1")],
    )
    (out,) = w.handle(record)
    assert (out.topic, out.key, out.value) == ("unit.articles.deadletter", b"k", record.value)
    info = deadletter.describe(out.headers)
    assert (info.reason, info.partition, info.offset) == ("processing_error", 1, 7)
    assert "RuntimeError: a bug in dedup" in info.detail
    assert ("trace", b"1") in out.headers
    good = IngestWorker(Settings(topic_prefix="unit."), IngestConfig()).handle(record)
    assert [o.topic for o in good] == ["unit.brink-ingest-dedup-state", "unit.articles"]


# ---------------------------------------------------------------- refused records, health
@dataclass
class Done:
    """A completed kafka-python-like future."""

    exception: BaseException | None = None
    is_done: bool = True

    def failed(self) -> bool:
        return self.exception is not None


@dataclass
class Broker:
    """What a real broker acknowledged, and its limit: like the broker with an idempotent
    kafka-python producer, once one record is refused every later send on that producer fails."""

    limit: int = 1000
    acked: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)
    producers: int = 0
    watchdog: Any = None  # called on every send: stops a worker that would retry forever


@dataclass
class PoisonableProducer:
    broker: Broker
    poisoned: bool = False

    def send(self, topic: str, key: Any = None, value: Any = None, headers: Any = None) -> Any:
        if self.broker.watchdog is not None:
            self.broker.watchdog()
        if self.poisoned or len(value or b"") > self.broker.limit:
            self.poisoned = True
            return Done(MessageSizeTooLargeError())
        self.broker.acked.append((topic, value, list(headers or [])))
        return Done()

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


def poisonable_worker(broker: Broker, **config: Any) -> IngestWorker:
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig(**config))

    def factory() -> PoisonableProducer:
        broker.producers += 1
        return PoisonableProducer(broker)

    w._producer_factory = factory
    w._producer = factory()
    calls = 0

    def watchdog() -> None:
        nonlocal calls
        calls += 1
        if calls > 200:
            w.stop()

    broker.watchdog = watchdog
    return w


def source(i: int) -> Source:
    return Source(f"k{i}".encode(), f"raw{i}".encode(), [("trace", b"%d" % i)], 0, i)


def test_a_record_the_broker_refuses_is_dead_lettered_and_later_records_still_arrive() -> None:
    broker = Broker(limit=1000)
    w = poisonable_worker(broker)
    out = [
        Out("unit.articles", b"a1", b"good one", [], source(1)),
        Out("unit.articles", b"a2", b"x" * 5000, [], source(2)),  # the broker refuses it
        Out("unit.articles", b"a3", b"good two", [], source(3)),
        Out("unit.articles", b"a4", b"good three", [], source(4)),
    ]
    assert w._deliver(out) is True
    articles = [v for t, v, _ in broker.acked if t == "unit.articles"]
    assert sorted(v or b"" for v in articles) == [b"good one", b"good three", b"good two"]
    (dlq,) = [(v, h) for t, v, h in broker.acked if t == "unit.articles.deadletter"]
    assert dlq[0] == b"raw2"  # the raw record, unchanged
    info = deadletter.describe(dlq[1])
    assert (info.reason, info.offset) == ("too_large", 2)
    assert broker.producers >= 2  # the spoilt producer was replaced
    # and the replacement keeps working for the next batch
    assert w._deliver([Out("unit.articles", b"a5", b"good four", [], source(5))]) is True
    assert broker.acked[-1][1] == b"good four"


def test_a_record_over_the_produce_limit_is_never_sent() -> None:
    broker = Broker(limit=10_000_000)
    w = poisonable_worker(broker)
    big = b"x" * (limits.MAX_DEADLETTER_VALUE_BYTES + 100_000)
    assert w._deliver([Out("unit.articles", b"a", big, [], source(1))]) is True
    ((topic, value, headers),) = broker.acked
    assert topic == "unit.articles.deadletter" and value == b"raw1"
    assert deadletter.describe(headers).reason == "too_large"


def test_an_oversized_raw_record_is_dead_lettered_cut_to_the_limit() -> None:
    w = IngestWorker(Settings(topic_prefix="unit.", max_body_bytes=100), IngestConfig())
    value = b"x" * (limits.MAX_DEADLETTER_VALUE_BYTES + 40_000)
    (out,) = w.handle(SimpleNamespace(partition=0, offset=1, key=b"k", value=value, headers=[]))
    assert out.value is not None and len(out.value) <= limits.MAX_DEADLETTER_VALUE_BYTES
    assert (worker_module.TRUNCATED_HEADER, str(len(value)).encode()) in out.headers
    assert deadletter.describe(out.headers).reason == "too_large"


def test_health_is_starting_then_503_with_the_reason_while_sends_keep_failing() -> None:
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig(unhealthy_after_seconds=0))
    ok, details = w.report()
    assert (ok, details["state"]) == (False, "starting")
    w.health.set_state("running")
    assert w.report() == (True, {"state": "running"})
    seen: list[tuple[bool, dict[str, object]]] = []

    class Watched(FlakyProducer):
        def send(self, topic: str, key: Any = None, value: Any = None, headers: Any = None) -> Any:
            seen.append(w.report())
            return super().send(topic, key, value, headers)

    w._producer = Watched(outage=3)
    assert w._deliver([Out("unit.articles", b"k", b"v", [])]) is True
    unhealthy = [d for ok, d in seen if not ok]
    assert unhealthy, seen
    problems = unhealthy[-1]["problems"]
    assert isinstance(problems, dict) and "not acknowledged" in problems["output"]
    assert w.report() == (True, {"state": "running"})  # recovered: healthy again


# ---------------------------------------------------------------- the loop and a dying broker
class FakeConsumer:
    """A group consumer whose broker refuses connections on some polls, as when it was killed."""

    script: ClassVar[list[Any]] = []
    commits: ClassVar[list[Any]] = []
    worker: ClassVar[IngestWorker | None] = None
    healthy: ClassVar[list[bool]] = []  # /healthz's verdict at each poll

    def __init__(self, *topics: str, **conf: Any) -> None:
        self.listener: Any = None

    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.listener = listener

    def poll(self, timeout_ms: int = 0, **kwargs: Any) -> Any:
        assert FakeConsumer.worker is not None
        FakeConsumer.healthy.append(FakeConsumer.worker.report()[0])
        if self.listener is not None:
            self.listener.on_partitions_assigned([TopicPartition("unit.articles.raw", 0)])
        if not FakeConsumer.script:
            assert FakeConsumer.worker is not None
            FakeConsumer.worker.stop()
            return {}
        step = FakeConsumer.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def commit(self, offsets: Any = None) -> None:
        FakeConsumer.commits.append(offsets)

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("unit.articles.raw", 0)}

    def highwater(self, tp: TopicPartition) -> int:
        return 2

    def position(self, tp: TopicPartition) -> int:
        return 2

    def close(self, **kwargs: Any) -> None:
        return None


class FakeTail(FakeConsumer):
    def end_offsets(self, tps: Any) -> Any:
        return dict.fromkeys(tps, 0)

    def poll(self, timeout_ms: int = 0, **kwargs: Any) -> Any:
        return {}

    def position(self, tp: TopicPartition) -> int:
        return 0


class FakeAdmin:
    def __init__(self, **conf: Any) -> None:
        return None

    def remove_group_members(self, *args: Any) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None


def test_the_loop_survives_a_broker_that_refuses_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # kill -9 of the broker once made consumer.poll() raise KafkaConnectionError out of run().
    acked = FlakyProducer(outage=0)
    monkeypatch.setattr(worker_module, "KafkaConsumer", FakeConsumer)
    monkeypatch.setattr(worker_module, "KafkaProducer", lambda **conf: acked)
    monkeypatch.setattr(worker_module, "KafkaAdminClient", FakeAdmin)
    monkeypatch.setattr(worker_module, "ensure_topics", lambda *a, **k: None)
    monkeypatch.setattr(worker_module, "ensure_state_topic", lambda *a, **k: None)
    monkeypatch.setattr(IngestWorker, "_replay_state", lambda self: FakeTail())
    tp = TopicPartition("unit.articles.raw", 0)

    def rec(offset: int) -> SimpleNamespace:
        value = b'{"text": "Troops massed at the border, officials said.", "url": "https://x.example/%d"}'
        return SimpleNamespace(
            topic=tp.topic, partition=0, offset=offset, key=None, value=value % offset, headers=[]
        )

    refused = KafkaConnectionError("111 ECONNREFUSED")
    FakeConsumer.script = [refused, {tp: [rec(0)]}, refused, refused, {tp: [rec(1)]}]
    FakeConsumer.commits, FakeConsumer.healthy = [], []
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig())
    FakeConsumer.worker = w
    w.run()  # returns only because the script ends with stop(); raised before
    articles = [v for v in acked.acked if v is not None and b'"schema"' in v]
    assert len(articles) == 2
    assert [o[tp].offset for o in FakeConsumer.commits] == [1, 2]
    # "starting" (503) until assigned and caught up, then healthy
    assert FakeConsumer.healthy[0] is False and FakeConsumer.healthy[-1] is True


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_healthz_is_503_when_the_consumer_thread_died() -> None:
    from services.ingest.__main__ import health_report

    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig())
    w.health.set_state("running")

    def crash() -> None:
        raise MemoryError("simulated")

    thread = threading.Thread(target=crash, daemon=True)
    assert health_report(w, thread)[0] is True  # not started yet
    thread.start()
    thread.join()
    ok, details = health_report(w, thread)
    assert ok is False and "died" in str(details["problems"])
