"""``python -m services.enrichment``: settings -> checks -> logging -> one worker, or a
supervisor of ``BRINK_ENRICHMENT_WORKERS`` workers (default: one per core;
`services.enrichment.supervisor`).

The start-up checks (`shared.preflight`) come before spaCy and Faust are even imported, which
takes seconds: a refused password is reported at once. A worker: spaCy -> metrics -> Faust
worker. The supervisor imports neither spaCy nor Faust.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from services.enrichment import supervisor
from shared import preflight
from shared.kafka_admin import ensure_topics
from shared.logs import configure
from shared.settings import Settings

log = logging.getLogger("services.enrichment")

APP_ID = "brink-enrichment"  # services.enrichment.app.APP_ID, without importing Faust here


def main() -> int:
    settings = preflight.settings_or_exit("enrichment")
    configure(settings.log_level)
    preflight.kafka_or_exit("enrichment", settings)  # a security failure: one line, exit 2
    wanted = supervisor.requested_workers()
    if wanted == 1:
        return run_worker(settings)
    ensure_topics(settings)
    partitions = supervisor.topic_partitions(settings, settings.topics.articles)
    workers = min(wanted, partitions) if partitions else wanted
    if workers < wanted:
        log.warning(
            "%d workers asked for, %s has %d partitions: starting %d (the others would idle)",
            wanted,
            settings.topics.articles,
            partitions,
            workers,
        )
    if workers == 1:
        return run_worker(settings)
    port = settings.metrics_port or 9102  # services.enrichment.metrics.DEFAULT_METRICS_PORT
    sup = supervisor.Supervisor(settings, workers, supervisor.instance_id(APP_ID), port)
    log.info(
        "enrichment: %d worker processes, metrics on %s:%d", workers, settings.metrics_host, port
    )
    return sup.run(settings.topic_prefix + APP_ID)


def run_worker(settings: Settings) -> int:
    """One enrichment process: the spaCy pipeline under a Faust worker."""
    # spaCy and Faust are loaded only where they run, not in the supervisor
    from services.enrichment import bounds, metrics
    from services.enrichment.app import EnrichmentService, worker
    from services.enrichment.pipeline import Enricher
    from shared.faust_app import ensure_app_topics, group_instance_id
    from shared.kafka_admin import leave_group
    from shared.lag import LagMonitor
    from shared.metrics import MetricsServer

    supervisor.die_with_parent()
    index = os.environ.get(supervisor.WORKER_INDEX_ENV)
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

    # a worker of a supervisor: any free loopback port, told to the supervisor by a file
    port = (settings.metrics_port or metrics.DEFAULT_METRICS_PORT) if index is None else 0
    server = MetricsServer(settings.metrics_host, port, health=health).start()
    port = server.port
    if index is not None:
        Path(os.environ[supervisor.PORT_FILE_ENV]).write_text(str(port))
    # a supervisor measures the group's lag once; a worker's copy would count it again
    lag = None
    if index is None:
        lag = LagMonitor(settings, service.group_id, [settings.topics.articles], metrics.LAG)
        lag.start()
    log.info(
        "enrichment%s: metrics on %s:%d, group %s",
        "" if index is None else f" worker {index}",
        settings.metrics_host,
        port,
        service.group_id,
    )
    try:
        worker(service, settings.log_level).execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        leave_group(settings, str(service.group_id), member)  # others take over at once
        if lag is not None:
            lag.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
