"""Receivers: retries with backoff, failures counted, never blocking the caller (local HTTP only)."""

from __future__ import annotations

import json
from datetime import timedelta

from services.alerting.delivery import HttpReceiver, alertmanager_payload, webhook_payload
from services.alerting.rules import load_rules
from shared.schemas import Alert
from tests.alerting.factories import enriched
from tests.alerting.webhook import WebhookServer
from tests.conftest import free_port, wait_for


def alert() -> Alert:
    return load_rules().evaluate_article(enriched("a1"))[0]


def test_webhook_retries_until_it_gets_through() -> None:
    server = WebhookServer(fail=2)
    failures: list[int] = []
    r = HttpReceiver(
        "webhook", server.url, webhook_payload, lambda: failures.append(1), backoff=0.01
    ).start()
    try:
        a = alert()
        r.submit(a)
        wait_for(lambda: r.delivered == 1, timeout=10, message="delivered")
        assert server.calls == 3
        assert server.bodies[0]["id"] == a.id
        assert server.bodies[0]["schema"] == "brink.alert/1"
        assert failures == []
    finally:
        r.stop()
        server.close()


def test_failures_are_counted_after_the_last_retry_and_submit_never_blocks() -> None:
    failures: list[int] = []
    dead = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    r = HttpReceiver(
        "webhook", dead, webhook_payload, lambda: failures.append(1), retries=2, backoff=0.01
    ).start()
    try:
        for _ in range(3):
            r.submit(alert())  # returns at once, whatever the endpoint does
        wait_for(lambda: len(failures) == 3, timeout=10, message="3 failures")
        assert r.delivered == 0
    finally:
        r.stop()


def test_a_full_queue_counts_a_failure_instead_of_waiting() -> None:
    failures: list[int] = []
    r = HttpReceiver(
        "webhook", "http://127.0.0.1:9/", webhook_payload, lambda: failures.append(1), queue_size=1
    )  # not started: nothing drains the queue
    r.submit(alert())
    r.submit(alert())
    assert failures == [1]


def test_alertmanager_payload_has_labels_annotations_and_an_end() -> None:
    a = alert()
    body = json.loads(alertmanager_payload(lambda _a: timedelta(hours=6))(a))
    assert len(body) == 1
    item = body[0]
    assert item["labels"]["alertname"] == a.rule
    assert item["labels"]["severity"] == "warning"
    assert item["labels"]["actor"] == "Russia"
    assert item["annotations"]["alert_id"] == a.id
    assert item["annotations"]["summary"] == a.summary
    assert item["startsAt"].endswith("Z")
    assert item["endsAt"] > item["startsAt"]
