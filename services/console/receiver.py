"""Receiver mode (``BRINK_CONSOLE_MODE=receiver``): POST each new alert to webhooks.

It reads ``alerts`` in its own consumer group (``BRINK_CONSOLE_RECEIVER_GROUP``) starting at the
*latest* offset the first time, so adding a receiver never re-sends history; afterwards it
resumes from its committed offset (at-least-once: an alert is committed after every URL has
taken it or its retries are spent; receivers de-duplicate by ``id``). Bodies are the alert JSON
(``brink.alert/1``) or, with ``BRINK_CONSOLE_RECEIVER_FORMAT=slack``, a Slack incoming-webhook
message. With ``BRINK_CONSOLE_RECEIVER_SECRET`` set, every POST carries
``X-Brink-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>``.
Email, PagerDuty and Teams go through Alertmanager (docs/alerting.md), not here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import signal
import threading
import time
import urllib.error
import urllib.request
from types import FrameType

import orjson
from kafka import KafkaConsumer

from services.console import metrics
from services.console.config import ConsoleConfig
from shared import codec
from shared.codec import DecodeError
from shared.metrics import MetricsServer
from shared.schemas import Alert
from shared.settings import Settings

log = logging.getLogger(__name__)

RETRIES = 4
BACKOFF_SECONDS = 0.5
EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def sign(secret: str, body: bytes) -> str:
    """The ``X-Brink-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_body(alert: Alert, public_url: str | None = None) -> bytes:
    """A Slack incoming-webhook message: headline, summary, first evidence, link."""
    evidence = alert.evidence[0] if alert.evidence else None
    lines = [f"{EMOJI[alert.severity.value]} *{alert.severity.value.upper()}* {alert.title}"]
    lines.append(alert.summary)
    if evidence is not None:
        lines.append(f"> {evidence.sentence[:300]}")
        lines.append(f"_{evidence.kind.value}: “{evidence.cue}”_")
    link = f"{public_url.rstrip('/')}/alerts/{alert.id}" if public_url else None
    if link:
        lines.append(f"<{link}|Open in the Brink console>")
    text = "\n".join(lines)
    # Slack's own escaping: & < > are control characters in mrkdwn
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if link:
        text = text.replace(
            f"&lt;{link}|Open in the Brink console&gt;", f"<{link}|Open in the Brink console>"
        )
    return orjson.dumps(
        {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
    )


def body_for(alert: Alert, raw: bytes, config: ConsoleConfig) -> bytes:
    return slack_body(alert, config.public_url) if config.receiver_format == "slack" else raw


def post(url: str, body: bytes, secret: str | None, timeout: float = 5.0) -> bool:
    headers = {"Content-Type": "application/json", "User-Agent": "brink-console-receiver"}
    if secret:
        headers["X-Brink-Signature"] = sign(secret, body)
    for attempt in range(RETRIES + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return True
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                log.warning("receiver: %s refused the alert: HTTP %d", url, exc.code)
                return False
        except OSError as exc:
            log.warning("receiver: %s: %s", url, exc)
        if attempt < RETRIES:
            time.sleep(BACKOFF_SECONDS * 2**attempt)
    return False


def run_receiver(settings: Settings, config: ConsoleConfig) -> int:
    if not config.receiver_urls:
        log.error("receiver mode needs BRINK_CONSOLE_RECEIVER_URLS")
        return 2
    stopping = threading.Event()
    assigned = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def health() -> tuple[bool, dict[str, object]]:
        ok = assigned.is_set()
        return ok, {} if ok else {"reason": "joining the group"}

    server = MetricsServer(config.host, config.port, health=health).start()
    group = settings.topic_prefix + config.receiver_group
    consumer = KafkaConsumer(
        settings.topics.alerts,
        group_id=group,
        auto_offset_reset="latest",  # a new receiver starts with the next alert, not history
        enable_auto_commit=False,
        client_id="brink-console-receiver",
        **settings.kafka_python(),
    )
    log.info("receiver: group %s -> %s", group, ", ".join(config.receiver_urls))
    try:
        while not stopping.is_set():
            batch = consumer.poll(timeout_ms=500)
            if consumer.assignment() and not assigned.is_set():
                # Pin the start: resolve (to the end) and commit the positions at once, so a
                # restart before the first alert resumes here rather than at a later "latest".
                for tp in consumer.assignment():
                    consumer.position(tp)
                consumer.commit()
                assigned.set()
            for records in batch.values():
                for r in records:
                    try:
                        alert = codec.decode(r.value, Alert)
                    except DecodeError as exc:
                        log.warning("receiver: skipped %s@%d: %s", r.topic, r.offset, exc)
                        continue
                    body = body_for(alert, r.value, config)
                    for url in config.receiver_urls:
                        ok = post(url, body, config.receiver_secret)
                        metrics.DELIVERIES.labels(result="ok" if ok else "failed").inc()
            if batch:
                consumer.commit()
    finally:
        consumer.close()
        server.stop()
    return 0
