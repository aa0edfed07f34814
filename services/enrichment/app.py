"""All of enrichment's Kafka I/O, as a Faust app (``<prefix>brink-enrichment``).

The agent reads ``articles`` as raw bytes, takes batches (``take_events``: up to
``batch_size`` records or whatever arrived within ``within`` seconds, so latency stays well
under a second), decodes them with the shared codec, runs the `Enricher` on the batch in a
worker thread (so the event loop keeps heart-beating while spaCy works), and produces one
EnrichedArticle per article to ``articles.enriched``, keyed by article id.

A record that does not decode, an article that makes the pipeline raise, and a result that
cannot be produced (it cannot be encoded, or is over ``shared.limits.MAX_RECORD_BYTES`` once
capped by `services.enrichment.bounds`, or the broker refuses its size) go unchanged to
``articles.deadletter`` with ``brink.dlq.*`` headers, alone: the rest of the batch is produced.
The batch's offsets are acknowledged only after everything produced for it has been
acknowledged by the broker. Faust acknowledges a ``take_events`` batch whatever happened to it
(the generator's ``finally``), so when a batch cannot be finished (a send failed for another
reason, the worker stops in the middle of it, a bug) the process stops at once
(`shared.faust_app.fail_stop`) rather than commit a loss; the batch is read again on restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from services.enrichment import bounds, metrics
from services.enrichment.pipeline import Enricher
from shared import codec
from shared.codec import DecodeError
from shared.faust_app import fail_stop, health_of, make_app, send_dead_letter
from shared.limits import TOO_LARGE, LimitError
from shared.metrics import queue_wait
from shared.schemas import Article, EnrichedArticle
from shared.settings import Settings

log = logging.getLogger(__name__)

APP_ID = "brink-enrichment"


class EnrichmentService:
    """Builds the Faust app, its topics and the enrich agent around one `Enricher`."""

    def __init__(
        self,
        settings: Settings,
        enricher: Enricher,
        *,
        batch_size: int = 32,
        within: float = 0.1,
        app_id: str = APP_ID,
        instance_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.enricher = enricher
        self.batch_size = batch_size
        self.within = within
        # Ingest bounds bodies by max_body_bytes; an Article around it is a little larger.
        self.max_record_bytes = settings.max_body_bytes * 4 + 65_536
        self.started = threading.Event()
        self.app = make_app(settings, app_id, instance_id=instance_id)
        self.health = health_of(self.app)
        self.stop_process = fail_stop  # replaceable in tests that run the agent in-process
        self.group_id = str(self.app.conf.id)
        topics = settings.topics
        self.source = self.app.topic(topics.articles, key_type=bytes, value_type=bytes)
        self.sink = self.app.topic(topics.enriched, key_type=bytes, value_type=bytes)
        self.deadletter = self.app.topic(topics.deadletter, key_type=bytes, value_type=bytes)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spacy")
        self.app.agent(self.source, name="enrich")(self._agent)
        self.app.task(self._on_started)

    async def _on_started(self) -> None:
        self.started.set()
        log.info("enrichment: model %s %s", self.enricher.model.name, self.enricher.model.version)

    async def _agent(self, stream: Any) -> None:
        async for events in stream.take_events(self.batch_size, within=self.within):
            try:
                await self.process(events)
            except asyncio.CancelledError:
                # The worker is stopping (SIGTERM) while spaCy or the broker works on this
                # batch: its offsets would be acknowledged and committed on the way out.
                self.stop_process("stopped in the middle of a batch; it is read again", code=0)
            except Exception as exc:
                self.health.fatal(f"batch not finished: {exc!r}")
                log.exception("batch of %d not finished", len(events))
                self.stop_process(f"batch of {len(events)} not finished: {exc!r}")

    def enrich_each(self, articles: Sequence[Article]) -> list[EnrichedArticle | Exception]:
        """The batch at once; if that raises, article by article, so one bad article cannot
        take the others with it."""
        if not articles:
            return []
        try:
            return list(self.enricher.enrich(articles))
        except Exception:
            log.exception("batch of %d failed; retrying article by article", len(articles))
        out: list[EnrichedArticle | Exception] = []
        for article in articles:
            try:
                out.extend(self.enricher.enrich([article]))
            except Exception as exc:  # dead-lettered by the caller
                out.append(exc)
        return out

    async def process(self, events: Sequence[Any]) -> None:
        """Enrich, produce and dead-letter one batch; return once the broker has acknowledged
        every record produced for it. Raises only when that cannot be done (the caller stops
        the process): one record's failure is that record's dead letter."""
        started = time.perf_counter()
        taken_at = time.time()
        for event in events:
            wait = queue_wait(getattr(event.message, "timestamp", None), taken_at)
            if wait is not None:
                metrics.QUEUE_WAIT.observe(wait)
        pending: list[tuple[Any, Any]] = []  # (event, send future or None when dead-lettered)
        good: list[tuple[Any, Article]] = []
        for event in events:
            try:
                good.append(
                    (event, codec.decode(event.value, Article, max_bytes=self.max_record_bytes))
                )
            except DecodeError as exc:
                pending.append((None, await self._dead_letter(event, exc.reason, exc.detail)))
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, self.enrich_each, [a for _, a in good])
        for (event, article), result in zip(good, results, strict=True):
            if isinstance(result, Exception):
                log.error("enrichment failed on article %s: %r", article.id, result)
                pending.append(
                    (None, await self._dead_letter(event, metrics.PROCESSING_ERROR, repr(result)))
                )
                continue
            try:
                value, sent = bounds.fit(result)
            except LimitError as exc:
                pending.append((None, await self._dead_letter(event, exc.reason, exc.detail)))
                continue
            except (TypeError, ValueError) as exc:  # orjson: unserialisable, nested too deep
                detail = f"the enriched article cannot be encoded: {exc}"
                pending.append(
                    (None, await self._dead_letter(event, metrics.PROCESSING_ERROR, detail))
                )
                continue
            if sent is not result:
                metrics.CAPPED.inc()
            try:
                fut = await self.sink.send(key=article.id.encode(), value=value)
            except Exception as exc:
                if not _record_too_large(exc):
                    self.health.send_failed(exc)
                    raise
                detail = f"the producer refused: {exc!r}"
                pending.append((None, await self._dead_letter(event, TOO_LARGE, detail)))
                continue
            pending.append((event, fut))
            metrics.ARTICLES.labels(status=sent.status).inc()
            for signal in result.signals:
                metrics.SIGNALS.labels(kind=signal.kind.value).inc()
                if signal.negated:
                    metrics.NEGATED.inc()
        for event, fut in pending:  # acknowledged by the broker before the offsets move on
            try:
                await fut
            except Exception as exc:
                if event is None or not _record_too_large(exc):
                    self.health.send_failed(exc)
                    raise
                # the broker refused this one record's size: its dead letter, not a crash
                await (await self._dead_letter(event, TOO_LARGE, f"the broker refused: {exc!r}"))
            self.health.send_ok()
        metrics.BATCH_SIZE.observe(len(events))
        metrics.PROCESSING.observe(time.perf_counter() - started)

    async def _dead_letter(self, event: Any, reason: str, detail: str) -> Any:
        metrics.DEAD_LETTERED.labels(reason=reason).inc()
        return await send_dead_letter(
            self.deadletter, event, stage="enrichment", reason=reason, detail=detail
        )


def _record_too_large(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: Faust's ProducerSendError) says this one record is
    too large: a property of the record, not of the broker's health."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MessageSizeTooLargeError | RecordTooLargeError):
            return True
        seen = seen.__cause__
    return False


def worker(service: EnrichmentService, loglevel: str) -> faust.Worker:
    """A Faust worker for the service (no Faust web server: Brink serves /metrics itself)."""
    return faust.Worker(service.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
