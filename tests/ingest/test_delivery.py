"""A broker that fails is not bad input: ingest re-sends until acknowledged and loses nothing.

The real broker cannot be stopped under other tests, so the producer here is a fake whose sends
fail for a while, passed in where the worker keeps its producer (no network).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from kafka.errors import KafkaTimeoutError

from services.ingest.config import IngestConfig
from services.ingest.dedup import Deduplicator
from services.ingest.worker import IngestWorker, Out
from shared import deadletter
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
