"""``BRINK_ENRICHMENT_WORKERS=2``: one ``python -m services.enrichment`` runs two worker
processes in one consumer group (real broker). They share the partitions of ``articles``; a
worker killed with -9 in the middle of a run is restarted and no article is lost; /healthz
speaks for both; SIGTERM to the supervisor stops them all within 10 s."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections import Counter
from typing import Any

import pytest

from shared.settings import Settings
from tests.conftest import ServiceProcess, metric_value, wait_for
from tests.ops.test_scale_out import articles_from, publish, read_all

pytestmark = pytest.mark.kafka


def health(svc: ServiceProcess) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(svc.url("/healthz"), timeout=5) as r:
            return dict(json.load(r))
    except urllib.error.HTTPError as exc:
        return dict(json.load(exc))


def enriched_by(svc: ServiceProcess, worker: str) -> float:
    text = svc.metrics()
    return sum(
        metric_value(text, "brink_enrichment_articles_total", status=s, worker=worker)
        for s in ("ok", "skipped_language", "empty")
    )


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_two_workers_share_partitions_survive_kill_9_and_stop_together(
    settings: Settings, corpus: dict[str, dict[str, Any]], start_service
) -> None:  # type: ignore[no-untyped-def]
    svc = start_service("enrichment", settings, BRINK_ENRICHMENT_WORKERS="2")
    workers = health(svc)["workers"]
    assert sorted(workers) == ["0", "1"]
    pids = {i: int(w["pid"]) for i, w in workers.items()}
    assert all(alive(p) for p in pids.values())

    articles = articles_from(corpus)  # the 30 shortest, ids scale-<corpus id>
    first, second = articles[:15], articles[15:]
    publish(settings, first)
    wait_for(
        lambda: enriched_by(svc, "0") + enriched_by(svc, "1") >= len(first),
        timeout=120,
        interval=1,
        message="the first articles enriched",
    )
    shares = [enriched_by(svc, "0"), enriched_by(svc, "1")]
    assert all(n > 0 for n in shares), f"one worker got no partition of articles: {shares}"

    # kill -9 a worker while the second half is being enriched
    publish(settings, second)
    os.kill(pids["0"], signal.SIGKILL)
    wait_for(
        lambda: health(svc)["workers"]["0"]["restarts"] == 1,
        timeout=30,
        message="the supervisor restarting worker 0",
    )
    wait_for(svc.healthy, timeout=120, interval=1, message="both workers healthy again")

    def all_out() -> bool:
        return {e.article.id for e in read_all(settings, settings.topics.enriched)} >= {
            a.id for a in articles
        }

    wait_for(all_out, timeout=120, interval=2, message="every article enriched after the kill")
    ids = Counter(e.article.id for e in read_all(settings, settings.topics.enriched))
    assert set(ids) == {a.id for a in articles}  # nothing lost (a redelivery may repeat one)

    # SIGTERM to the supervisor stops every worker with it, within 10 s
    now = {i: int(w["pid"]) for i, w in health(svc)["workers"].items()}
    started = time.monotonic()
    svc.proc.send_signal(signal.SIGTERM)
    code = svc.proc.wait(timeout=15)
    took = time.monotonic() - started
    assert code == 0
    assert not any(alive(p) for p in now.values()), "a worker outlived its supervisor"
    assert took <= 10, f"stopping took {took:.1f} s"
