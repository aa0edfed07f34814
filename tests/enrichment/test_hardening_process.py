"""The enrichment agent's batch handling with fakes (no broker, no spaCy): one record the
broker refuses for its size is that record's dead letter; any other failed send stops the
process before Faust can acknowledge (and commit) the batch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from services.enrichment.app import EnrichmentService
from shared import codec
from shared.schemas import Article, EnrichedArticle, ModelInfo
from shared.settings import Settings
from tests.enrichment.conftest import RECEIVED, make_article

MODEL = ModelInfo(name="fake", version="0")


class FakeEnricher:
    model = MODEL

    def enrich(self, articles: list[Article]) -> list[EnrichedArticle]:
        return [
            EnrichedArticle(
                article=a, score=0.0, escalation=False, model=MODEL, enriched_at=RECEIVED
            )
            for a in articles
        ]


class FakeTopic:
    """Records sends; the future of a send whose key is in ``fail`` fails with that error."""

    def __init__(self, fail: dict[bytes, BaseException] | None = None) -> None:
        self.fail = fail or {}
        self.sent: list[tuple[bytes, bytes, Any]] = []

    async def send(self, *, key: bytes, value: bytes, headers: Any = None) -> asyncio.Future[Any]:
        self.sent.append((key, value, headers))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if key in self.fail:
            fut.set_exception(self.fail[key])
        else:
            fut.set_result(None)
        return fut


def event(article: Article, offset: int) -> Any:
    value = codec.encode(article)
    message = SimpleNamespace(
        topic="articles",
        partition=0,
        offset=offset,
        key=article.id.encode(),
        value=value,
        headers=[],
    )
    return SimpleNamespace(value=value, message=message)


class StoppedError(Exception):
    pass


def service(tmp_path: Path, sink: FakeTopic, dlq: FakeTopic) -> EnrichmentService:
    svc = EnrichmentService(Settings(state_dir=str(tmp_path)), FakeEnricher())  # type: ignore[arg-type]
    svc.sink, svc.deadletter = sink, dlq  # type: ignore[assignment]

    def stop(reason: str, *, code: int = 70) -> None:
        raise StoppedError(reason, code)

    svc.stop_process = stop  # type: ignore[assignment]
    return svc


def test_a_record_the_broker_refuses_for_its_size_is_dead_lettered_alone(tmp_path: Path) -> None:
    articles = [make_article(f"Body {n}.", f"Title {n}") for n in range(3)]
    refused = articles[1].id.encode()
    sink = FakeTopic({refused: MessageSizeTooLargeError("too big for the broker")})
    dlq = FakeTopic()
    svc = service(tmp_path, sink, dlq)
    asyncio.run(svc.process([event(a, n) for n, a in enumerate(articles)]))
    assert [k for k, _, _ in sink.sent] == [a.id.encode() for a in articles]
    assert [k for k, _, _ in dlq.sent] == [refused]
    assert dict(dlq.sent[0][2])["brink.dlq.reason"] == b"too_large"
    assert svc.health.check()[1].get("crashes") == 0


def test_any_other_failed_send_stops_the_process_before_the_batch_is_acknowledged(
    tmp_path: Path,
) -> None:
    articles = [make_article(f"Body {n}.", f"Title {n}") for n in range(3)]
    sink = FakeTopic({articles[2].id.encode(): KafkaTimeoutError()})
    svc = service(tmp_path, sink, FakeTopic())
    acked: list[int] = []
    acked_when_stopped: list[list[int]] = []
    stop = svc.stop_process

    def stop_and_look(reason: str, *, code: int = 70) -> None:
        acked_when_stopped.append(list(acked))
        stop(reason, code=code)

    svc.stop_process = stop_and_look  # type: ignore[assignment]

    class Stream:
        async def take_events(self, n: int, within: float) -> Any:
            batch = [event(a, i) for i, a in enumerate(articles)]
            try:
                yield batch
            finally:  # what Faust does: acknowledge whatever happened
                acked.extend(e.message.offset for e in batch)

    with pytest.raises(StoppedError) as stopped:
        asyncio.run(svc._agent(Stream()))
    assert "KafkaTimeoutError" in str(stopped.value)
    # fail_stop (os._exit) ends the process here: the generator's finally never runs
    assert acked_when_stopped == [[]]
    ok, details = svc.health.check()
    assert not ok and "batch not finished" in str(details["reason"])
