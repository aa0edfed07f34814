"""Alert receivers beyond the topic: a JSON webhook and Prometheus Alertmanager's API.

Each receiver owns a bounded queue and a daemon thread, so a slow or dead endpoint never
blocks the stream: `submit` never waits. A delivery is retried with exponential backoff; one
that still fails (or finds the queue full) is reported through ``on_failure`` and dropped —
the alerts topic stays the record of truth.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta

import orjson

from shared import codec
from shared.schemas import Alert

log = logging.getLogger(__name__)

Payload = Callable[[Alert], bytes]


def webhook_payload(alert: Alert) -> bytes:
    """The alert exactly as on the topic (schema brink.alert/1)."""
    return codec.encode(alert)


def alertmanager_payload(
    ends_after: Callable[[Alert], timedelta | None] = lambda _a: None,
) -> Payload:
    """A list with one Alertmanager v2 alert; it resolves ``ends_after(alert)`` after creation."""

    def build(alert: Alert) -> bytes:
        labels = {
            "alertname": alert.rule,
            "severity": alert.severity.value,
            "group_key": alert.group.key,
            "actor": ", ".join(alert.group.actors),
            "target": ", ".join(alert.group.targets),
            "kind": ",".join(k.value for k in alert.group.kinds),
            "service": "brink",
        }
        annotations = {
            "summary": alert.summary,
            "title": alert.title,
            "alert_id": alert.id,
            "evidence": "\n".join(e.sentence for e in alert.evidence[:3]),
            "articles": "\n".join(a.url or a.id for a in alert.articles[:10]),
        }
        item: dict[str, object] = {
            "labels": {k: v for k, v in labels.items() if v},
            "annotations": {k: v for k, v in annotations.items() if v},
            "startsAt": _rfc3339(alert.created_at),
        }
        ends = ends_after(alert)
        if ends is not None and ends.total_seconds() > 0:
            item["endsAt"] = _rfc3339(alert.created_at + ends)
        if alert.articles and alert.articles[0].url:
            item["generatorURL"] = alert.articles[0].url
        return orjson.dumps([item])

    return build


def _rfc3339(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class HttpReceiver:
    """POSTs each submitted alert as JSON to ``url`` from a background thread."""

    def __init__(
        self,
        name: str,
        url: str,
        payload: Payload,
        on_failure: Callable[[], None],
        *,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 5.0,
        queue_size: int = 10_000,
    ) -> None:
        self.name = name
        self.url = url
        self._payload = payload
        self._on_failure = on_failure
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"deliver-{name}", daemon=True)
        self.delivered = 0
        self.failed = 0

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def submit(self, alert: Alert) -> None:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._fail(alert, "queue full")

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued for up to ``timeout`` seconds, then stop."""
        self._stopping.set()
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _fail(self, alert: Alert, why: str) -> None:
        self.failed += 1
        self._on_failure()
        log.warning("%s: alert %s not delivered to %s: %s", self.name, alert.id, self.url, why)

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            self._deliver(alert)

    def _deliver(self, alert: Alert) -> None:
        body = self._payload(alert)
        why = ""
        for attempt in range(self._retries + 1):
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "brink-alerting"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    if 200 <= response.status < 300:
                        self.delivered += 1
                        return
                    why = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                why = f"HTTP {exc.code}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the receiver refuses this payload: retrying will not help
            except (OSError, TimeoutError) as exc:
                why = str(exc)
            if attempt < self._retries and not self._stopping.is_set():
                time.sleep(min(self._max_backoff, self._backoff * 2**attempt))
        self._fail(alert, why)
