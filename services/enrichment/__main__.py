"""``python -m services.enrichment``: settings -> checks -> logging -> spaCy -> metrics ->
Faust worker. The start-up checks (`shared.preflight`) come before spaCy and Faust are even
imported, which takes seconds: a refused password is reported at once."""

from __future__ import annotations

import logging
import os

from shared import preflight
from shared.logs import configure

log = logging.getLogger("services.enrichment")


def main() -> int:
    settings = preflight.settings_or_exit("enrichment")
    configure(settings.log_level)
    preflight.kafka_or_exit("enrichment", settings)  # a security failure: one line, exit 2

    from services.enrichment import bounds, metrics
    from services.enrichment.app import APP_ID, EnrichmentService, worker
    from services.enrichment.pipeline import Enricher
    from shared.faust_app import ensure_app_topics, group_instance_id
    from shared.kafka_admin import ensure_topics, leave_group
    from shared.lag import LagMonitor
    from shared.metrics import MetricsServer

    batch_size = int(os.environ.get("BRINK_ENRICHMENT_BATCH_SIZE", "32"))
    enricher = Enricher(batch_size=64, max_chars=bounds.MAX_ANALYSED_CHARS)
    metrics.initialise()
    ensure_topics(settings)
    service = EnrichmentService(
        settings,
        enricher,
        batch_size=batch_size,
        instance_id=(member := group_instance_id(APP_ID)),  # static: see docs/enrichment.md
    )
    # every topic the worker touches exists before it subscribes (no fresh-prefix race)
    ensure_app_topics(service.app, settings, service.sink, service.deadletter)

    def health() -> tuple[bool, dict[str, object]]:
        ok, details = service.health.check()
        if not service.started.is_set():
            ok, details["reason"] = False, "starting: the Faust worker is not running yet"
        model = f"{enricher.model.name}-{enricher.model.version}"
        return ok, {"model": model, "group": service.group_id, **details}

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
        leave_group(settings, str(service.group_id), member)  # others take over at once
        lag.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
