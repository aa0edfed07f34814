"""kill -9 of the console while alerts stream in: after a restart the store holds every alert
exactly once (rows and offsets are written in one SQLite transaction)."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shared import codec
from shared.schemas import Alert, AlertArticle, AlertGroup, Evidence, Severity, SignalKind
from shared.settings import Settings
from tests.alerting.factories import T0
from tests.conftest import wait_for
from tests.console.helpers import H, call, console_env, produce

pytestmark = pytest.mark.kafka
N = 600


def make_alert(i: int) -> Alert:
    at = T0 + i * H / 10
    return Alert(
        id=f"alert-{i:04d}",
        rule="per-article",
        severity=Severity.WARNING,
        title=f"Russia → Ukraine: military buildup #{i}",
        summary=f"Russia → Ukraine: military buildup reported by Wire {i}",
        group=AlertGroup(
            key=f"group-{i % 7}",
            actors=["Russia"],
            targets=["Ukraine"],
            kinds=[SignalKind.MILITARY_BUILDUP],
        ),
        articles=[AlertArticle(id=f"article-{i}", title=f"Story {i}", received_at=at)],
        evidence=[
            Evidence(
                article_id=f"article-{i}",
                kind=SignalKind.MILITARY_BUILDUP,
                cue="massed troops",
                sentence="Russia has massed troops near its border with Ukraine.",
                start=11,
                end=24,
            )
        ],
        score=5.0,
        first_seen=at,
        last_seen=at,
        count=1,
        created_at=at,
    )


def stored(base: str) -> int:
    try:
        _, body = call(base, "/healthz")
    except OSError:
        return -1
    return int(body["store"]["alerts"]) if isinstance(body, dict) and "store" in body else -1


def test_kill_9_mid_stream_then_restart_keeps_each_alert_exactly_once(
    settings: Settings, start_service: Any, tmp_path: Path
) -> None:
    env = console_env(BRINK_CONSOLE_EXPLAIN="off", BRINK_STATE_DIR=str(tmp_path / "console"))
    console = start_service("console", settings, **env)
    base = console.url("")
    alerts = [make_alert(i) for i in range(N)]

    def publish() -> None:  # in slices, so the console is killed with records still arriving
        for start in range(0, N, 20):
            produce(
                settings,
                settings.topics.alerts,
                [(a.group.key, codec.encode(a)) for a in alerts[start : start + 20]],
            )
            time.sleep(0.05)

    producer = threading.Thread(target=publish)
    producer.start()
    wait_for(lambda: stored(base) >= 60, timeout=30, message="some alerts stored")
    console.proc.send_signal(signal.SIGKILL)
    console.proc.wait(10)
    killed_at = stored_rows(tmp_path)
    producer.join(60)
    assert killed_at < N, "the console had everything before the kill: nothing was tested"
    # the same alerts again on the topic (a redelivery, a re-raise): still one row each
    produce(settings, settings.topics.alerts, [(a.group.key, codec.encode(a)) for a in alerts[:50]])

    again = start_service("console", settings, wait=False, **env)
    wait_for(lambda: stored(again.url("")) == N, timeout=60, message=f"{N} alerts after restart")
    time.sleep(1.0)  # anything past N would show now
    assert stored_rows(tmp_path) == N
    db = sqlite3.connect(tmp_path / "console" / "console.sqlite3")
    ids = [r[0] for r in db.execute("SELECT id FROM alerts")]
    seqs = [r[0] for r in db.execute("SELECT seq FROM alerts ORDER BY seq")]
    fts = db.execute("SELECT COUNT(*) FROM alerts_fts").fetchone()[0]
    offsets = {
        (t, p): o for t, p, o in db.execute("SELECT topic, partition, next_offset FROM offsets")
    }
    db.close()
    assert sorted(ids) == sorted(a.id for a in alerts)
    assert fts == N  # the search index got each alert once too
    assert sum(o for (t, _), o in offsets.items() if t == settings.topics.alerts) == N + 50

    # the stream's event ids: 1..N, no gap and no repeat (a rolled-back batch took none)
    assert seqs == list(range(1, N + 1))
    # the API pages through all of them once
    seen: list[str] = []
    before = ""
    while True:
        status, page = call(again.url(""), f"/api/alerts?limit=500{before}")
        assert status == 200
        seen += [a["id"] for a in page["alerts"]]
        if page["next_before"] is None:
            break
        before = f"&before={page['next_before']}"
    assert len(seen) == len(set(seen)) == N
    # Server-Sent Events resume after Last-Event-ID: exactly the alerts stored after it
    events = read_stream(again.url("/api/stream"), last_event_id=N - 5, want=5)
    assert [e["seq"] for e in events] == list(range(N - 4, N + 1))


def stored_rows(tmp_path: Path) -> int:
    db = sqlite3.connect(tmp_path / "console" / "console.sqlite3")
    try:
        return int(db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
    finally:
        db.close()


def read_stream(url: str, last_event_id: int, want: int) -> list[dict[str, Any]]:
    """The first ``want`` alert events of an SSE stream resumed after ``last_event_id``."""
    import json
    import urllib.request

    request = urllib.request.Request(url, headers={"Last-Event-ID": str(last_event_id)})
    events: list[dict[str, Any]] = []
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        data = None
        for line in r:
            text = line.decode().rstrip("\n")
            if text.startswith("data: "):
                data = json.loads(text[6:])
            elif text == "" and data is not None:
                events.append(data)
                data = None
                if len(events) >= want:
                    break
    return events
