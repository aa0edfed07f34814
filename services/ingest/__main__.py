"""``python -m services.ingest``: settings -> checks -> logging -> metrics -> Kafka worker and
HTTP API. The start-up checks (`shared.preflight`) come before the rest is imported (language
models, MinHash: seconds), so a refused password is reported at once."""

from __future__ import annotations

import logging
import signal
import ssl
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from shared import preflight
from shared.logs import configure
from shared.webserver import Access

if TYPE_CHECKING:
    from services.ingest.worker import IngestWorker

log = logging.getLogger("services.ingest")


def health_report(
    worker: IngestWorker, consumer: threading.Thread
) -> tuple[bool, dict[str, object]]:
    """/healthz: 503 while starting (until the partitions are assigned and caught up), when
    output keeps failing or the broker stays unreachable, and when the consumer thread died."""
    ok, details = worker.report()
    if consumer.ident is not None and not consumer.is_alive() and not worker.stopping:
        ok = False
        details["problems"] = {"consumer": "the consumer thread died (see the log)"}
    return ok, {**details, "articles_remembered": len(worker.dedup)}


def main() -> int:
    settings = preflight.settings_or_exit("ingest")
    configure(settings.log_level)
    access = Access(  # a token (401 without it) and TLS for POST /articles, when configured
        token=settings.http_token,
        certfile=settings.http_certfile,
        keyfile=settings.http_keyfile,
    )
    try:
        access.ssl_context()
    except (OSError, ssl.SSLError) as exc:
        preflight.refuse(
            "ingest",
            f"BRINK_HTTP_CERTFILE={settings.http_certfile} / BRINK_HTTP_KEYFILE="
            f"{settings.http_keyfile}: not a usable PEM certificate and key ({exc})",
        )
    preflight.kafka_or_exit("ingest", settings)  # a security failure: one line, exit 2

    from services.ingest import metrics
    from services.ingest.config import DEFAULT_METRICS_PORT, IngestConfig
    from services.ingest.feeds import FeedPoller
    from services.ingest.http_api import ArticlesApi
    from services.ingest.worker import IngestWorker, RawProducer, group_id
    from shared.lag import LagMonitor
    from shared.metrics import MetricsServer

    config = IngestConfig.from_env()
    metrics.initialise()
    worker = IngestWorker(settings, config)
    # The consumer runs in its own thread so /healthz can say when it died.
    consumer = threading.Thread(target=worker.run, name="ingest-consumer", daemon=True)

    def health() -> tuple[bool, dict[str, object]]:
        return health_report(worker, consumer)

    port = settings.metrics_port or DEFAULT_METRICS_PORT
    metrics_server = MetricsServer(settings.metrics_host, port, health=health).start()
    lag = LagMonitor(settings, group_id(settings), [settings.topics.raw], metrics.LAG).start()
    raw_producer = RawProducer(settings)
    api = ArticlesApi(
        settings.http_host,
        settings.http_port,
        settings.max_body_bytes,
        raw_producer.submit,
        access=access,
    ).start()
    feeds = None
    if config.feeds:
        feeds = FeedPoller(
            config.feeds,
            config.feed_interval_seconds,
            lambda records: raw_producer.submit(records, via="feed"),
            known=lambda article_id: article_id in worker.dedup,
            ready=worker.ready,  # poll once the dedup state is replayed
        )
    log.info(
        "ingest: metrics on %s:%d, POST /articles on %s://%s:%d (%s)",
        settings.metrics_host,
        port,
        "https" if settings.http_certfile else "http",
        settings.http_host,
        api.port,
        "token required" if settings.http_token else "no token",
    )

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        if feeds is not None:
            feeds.start()
            log.info(
                "polling %d feed(s) every %.0f s", len(config.feeds), config.feed_interval_seconds
            )
        consumer.start()
        while consumer.is_alive():
            consumer.join(0.5)  # wakes for signals
        if not worker.stopping:  # it died: stay up so /healthz says so; SIGTERM stops us
            log.error("the consumer thread died; /healthz is 503 until this process is restarted")
            while not worker.stopping:
                worker.wait_stop(1.0)
    finally:
        if feeds is not None:
            feeds.stop()
        api.stop()
        raw_producer.close()
        lag.stop()
        metrics_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
