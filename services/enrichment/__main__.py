"""``python -m services.enrichment``: settings -> logging -> spaCy -> metrics -> Faust worker."""

from __future__ import annotations

import logging
import os

from services.enrichment import metrics
from services.enrichment.app import EnrichmentService, worker
from services.enrichment.pipeline import Enricher
from shared.kafka_admin import ensure_topics
from shared.lag import LagMonitor
from shared.logs import configure
from shared.metrics import MetricsServer
from shared.settings import Settings

log = logging.getLogger("services.enrichment")


def main() -> int:
    settings = Settings.from_env()
    configure(settings.log_level)
    batch_size = int(os.environ.get("BRINK_ENRICHMENT_BATCH_SIZE", "32"))
    enricher = Enricher(batch_size=64)
    metrics.initialise()
    ensure_topics(settings)
    service = EnrichmentService(settings, enricher, batch_size=batch_size)

    def health() -> tuple[bool, dict[str, object]]:
        model = f"{enricher.model.name}-{enricher.model.version}"
        return service.started.is_set(), {"model": model, "group": service.group_id}

    port = settings.metrics_port or metrics.DEFAULT_METRICS_PORT
    server = MetricsServer(settings.metrics_host, port, health=health).start()
    lag = LagMonitor(settings, service.group_id, [settings.topics.articles], metrics.LAG).start()
    log.info(
        "enrichment: metrics on %s:%d, group %s", settings.metrics_host, port, service.group_id
    )
    try:
        worker(service, settings.log_level).execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        lag.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
