"""``python -m services.alerting``: settings -> checks -> logging -> rules -> metrics -> Faust
worker. The start-up checks (`shared.preflight`) come before Faust is imported, so a refused
password is reported at once."""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from shared import preflight
from shared.logs import configure

if TYPE_CHECKING:
    from services.alerting.config import AlertingConfig
    from services.alerting.delivery import HttpReceiver
    from services.alerting.rules import RuleSet
    from shared.schemas import Alert
    from shared.settings import Settings

log = logging.getLogger("services.alerting")


def receivers(settings: Settings, config: AlertingConfig, rules: RuleSet) -> list[HttpReceiver]:
    from services.alerting import metrics
    from services.alerting.delivery import HttpReceiver, alertmanager_payload, webhook_payload

    out: list[HttpReceiver] = []
    retries, backoff = config.delivery_retries, config.delivery_backoff_seconds
    if settings.webhook_url:
        failures = metrics.DELIVERY_FAILURES.labels(receiver="webhook")
        out.append(
            HttpReceiver(
                "webhook",
                settings.webhook_url,
                webhook_payload,
                failures.inc,
                retries=retries,
                backoff=backoff,
            )
        )
    if settings.alertmanager_url:
        failures = metrics.DELIVERY_FAILURES.labels(receiver="alertmanager")
        url = settings.alertmanager_url.rstrip("/") + "/api/v2/alerts"

        # Alertmanager resolves the alert when its rule's repeat interval has passed.
        def ends_after(alert: Alert) -> timedelta | None:
            rule = rules.by_name.get(alert.rule)
            return rule.repeat_interval if rule is not None else None

        payload = alertmanager_payload(ends_after)
        out.append(
            HttpReceiver(
                "alertmanager", url, payload, failures.inc, retries=retries, backoff=backoff
            )
        )
    return out


def main() -> int:
    settings = preflight.settings_or_exit("alerting")
    configure(settings.log_level)
    preflight.kafka_or_exit("alerting", settings)  # a security failure: one line, exit 2

    from services.alerting import metrics
    from services.alerting.app import AlertingService, worker
    from services.alerting.config import DEFAULT_METRICS_PORT, AlertingConfig
    from services.alerting.rules import RulesError, load_rules
    from services.alerting.silences import SilenceBook, ensure_silences_topic
    from services.alerting.topics import TopicsError, ensure_alerting_topics
    from shared.faust_app import group_instance_id
    from shared.kafka_admin import leave_group
    from shared.lag import LagMonitor
    from shared.metrics import MetricsServer

    config = AlertingConfig.from_env()
    try:
        rules = load_rules(settings.rules_path)
    except RulesError as exc:
        log.error("refusing to start, the rules file is malformed: %s", exc)
        print(f"alerting: refusing to start: {exc}", file=sys.stderr)
        return 2
    metrics.initialise([r.name for r in rules.rules])
    ensure_silences_topic(settings)
    receivers_ = receivers(settings, config, rules)
    book = SilenceBook(settings)
    service = AlertingService(
        settings,
        rules,
        book,
        receivers_,
        app_id=config.app_id,
        config=config,
        instance_id=(member := group_instance_id(config.app_id)),  # static: fast restarts
    )
    try:  # before the worker starts, so Faust never subscribes to a topic not there yet
        ensure_alerting_topics(settings, service.topics())
    except TopicsError as exc:
        log.error("refusing to start: %s", exc)
        print(f"alerting: refusing to start: {exc}", file=sys.stderr)
        return 2
    book.start()
    sinks = [r.start() for r in receivers_]

    def health() -> tuple[bool, dict[str, object]]:
        ok, details = service.health()
        if ok and not book.ready.is_set():
            ok, details = False, {"reason": "reading the silences topic"}
        return ok, {**details, "rules": len(rules.rules), "silences": len(service.silences())}

    port = settings.metrics_port or DEFAULT_METRICS_PORT
    server = MetricsServer(settings.metrics_host, port, health=health).start()
    lag = LagMonitor(settings, service.group_id, [settings.topics.enriched], metrics.LAG).start()
    log.info("alerting: metrics on %s:%d, group %s", settings.metrics_host, port, service.group_id)
    try:
        worker(service, settings.log_level).execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        leave_group(settings, str(service.group_id), member)  # others take over at once
        for sink in sinks:
            sink.stop()
        book.stop()
        lag.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
