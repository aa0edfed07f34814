"""``python -m services.ingest``: settings -> logging -> metrics -> Kafka worker and HTTP API."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from services.ingest import metrics
from services.ingest.config import DEFAULT_METRICS_PORT, IngestConfig
from services.ingest.feeds import FeedPoller
from services.ingest.http_api import ArticlesApi
from services.ingest.worker import IngestWorker, RawProducer, group_id
from shared.lag import LagMonitor
from shared.logs import configure
from shared.metrics import MetricsServer
from shared.settings import Settings

log = logging.getLogger("services.ingest")


def main() -> int:
    settings = Settings.from_env()
    config = IngestConfig.from_env()
    configure(settings.log_level)
    metrics.initialise()
    worker = IngestWorker(settings, config)

    def health() -> tuple[bool, dict[str, object]]:
        return worker.ready.is_set(), {"articles_remembered": len(worker.dedup)}

    port = settings.metrics_port or DEFAULT_METRICS_PORT
    metrics_server = MetricsServer(settings.metrics_host, port, health=health).start()
    lag = LagMonitor(settings, group_id(settings), [settings.topics.raw], metrics.LAG).start()
    raw_producer = RawProducer(settings)
    api = ArticlesApi(
        settings.http_host, settings.http_port, settings.max_body_bytes, raw_producer.submit
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
        "ingest: metrics on %s:%d, POST /articles on %s:%d",
        settings.metrics_host,
        port,
        settings.http_host,
        api.port,
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
        worker.run()
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
