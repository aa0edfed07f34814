"""All of enrichment's Kafka I/O, as a Faust app (``<prefix>brink-enrichment``).

The agent reads ``articles`` as raw bytes, takes batches (``take_events``: up to
``batch_size`` records or whatever arrived within ``within`` seconds, so latency stays well
under a second), decodes them with the shared codec, runs the `Enricher` on the batch in a
worker thread (so the event loop keeps heart-beating while spaCy works), and produces one
EnrichedArticle per article to ``articles.enriched``, keyed by article id.

A record that does not decode, or an article that makes the pipeline raise, goes unchanged to
``articles.deadletter`` with ``brink.dlq.*`` headers. The batch's offsets are acknowledged only
after everything produced for it has been acknowledged by the broker.
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

from services.enrichment import metrics
from services.enrichment.pipeline import Enricher
from shared import codec
from shared.codec import DecodeError
from shared.faust_app import make_app, send_dead_letter
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
    ) -> None:
        self.settings = settings
        self.enricher = enricher
        self.batch_size = batch_size
        self.within = within
        # Ingest bounds bodies by max_body_bytes; an Article around it is a little larger.
        self.max_record_bytes = settings.max_body_bytes * 4 + 65_536
        self.started = threading.Event()
        self.app = make_app(settings, app_id)
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
            await self.process(events)

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
        started = time.perf_counter()
        pending: list[Any] = []
        good: list[tuple[Any, Article]] = []
        for event in events:
            try:
                good.append(
                    (event, codec.decode(event.value, Article, max_bytes=self.max_record_bytes))
                )
            except DecodeError as exc:
                pending.append(await self._dead_letter(event, exc.reason, exc.detail))
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, self.enrich_each, [a for _, a in good])
        for (event, article), result in zip(good, results, strict=True):
            if isinstance(result, Exception):
                log.error("enrichment failed on article %s: %r", article.id, result)
                pending.append(
                    await self._dead_letter(event, metrics.PROCESSING_ERROR, repr(result))
                )
                continue
            pending.append(
                await self.sink.send(key=article.id.encode(), value=codec.encode(result))
            )
            metrics.ARTICLES.labels(status=result.status).inc()
            for signal in result.signals:
                metrics.SIGNALS.labels(kind=signal.kind.value).inc()
                if signal.negated:
                    metrics.NEGATED.inc()
        for fut in pending:  # acknowledged by the broker before the offsets move on
            await fut
        metrics.BATCH_SIZE.observe(len(events))
        metrics.PROCESSING.observe(time.perf_counter() - started)

    async def _dead_letter(self, event: Any, reason: str, detail: str) -> Any:
        metrics.DEAD_LETTERED.labels(reason=reason).inc()
        return await send_dead_letter(
            self.deadletter, event, stage="enrichment", reason=reason, detail=detail
        )


def worker(service: EnrichmentService, loglevel: str) -> faust.Worker:
    """A Faust worker for the service (no Faust web server: Brink serves /metrics itself)."""
    return faust.Worker(service.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
