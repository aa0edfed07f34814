"""The enrichment supervisor without spaCy or a broker: stand-in workers (tiny Python
processes) show how it restarts, gives up, reports health and merges the workers' metrics."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import generate_latest

from services.enrichment import supervisor
from shared.metrics import MetricsServer
from shared.settings import Settings
from tests.conftest import metric_value


@pytest.fixture
def sup(tmp_path: Path) -> Iterator[supervisor.Supervisor]:
    settings = Settings(bootstrap_servers="127.0.0.1:1", state_dir=str(tmp_path))
    s = supervisor.Supervisor(settings, 2, "test", port=0)
    for w in s.workers:
        w.backoff = 0.01  # restarts after 0.01, 0.02, 0.04 ... s instead of 1, 2, 4 ...
    yield s
    s.stop_workers()
    s.server.stop()


def test_workers_default_to_the_cores_and_refuse_nonsense() -> None:
    assert supervisor.requested_workers({}) == supervisor.default_workers() >= 1
    assert supervisor.requested_workers({"BRINK_ENRICHMENT_WORKERS": "3"}) == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit):
            supervisor.requested_workers({"BRINK_ENRICHMENT_WORKERS": bad})


def test_a_worker_that_never_starts_makes_the_supervisor_give_up(
    sup: supervisor.Supervisor,
) -> None:
    sup.command = [sys.executable, "-c", "raise SystemExit(3)"]
    sup.start_workers()
    deadline = time.monotonic() + 60
    code = None
    while code is None and time.monotonic() < deadline:
        code = sup.watch()
        time.sleep(0.05)
    assert code == 1
    worst = max(sup.workers, key=lambda w: w.failed_starts)
    assert worst.failed_starts == supervisor.MAX_FAILED_STARTS
    assert worst.last_exit == 3
    ok, details = sup.health()
    assert not ok and "worker" in str(details["reason"])


def test_a_worker_that_dies_is_started_again(sup: supervisor.Supervisor) -> None:
    sup.command = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup.start_workers()
    first = sup.workers[0]
    assert first.proc is not None
    first.proc.kill()
    first.proc.wait()
    deadline = time.monotonic() + 30
    while first.restarts == 0 and time.monotonic() < deadline:
        assert sup.watch() is None
        time.sleep(0.05)
    assert first.restarts == 1 and first.alive()
    assert sup.workers[1].restarts == 0
    ok, details = sup.health()  # stand-ins serve no /healthz: never healthy
    assert not ok and "starting" in str(details["reason"])


def test_metrics_of_every_worker_labelled_and_lag_only_once(
    sup: supervisor.Supervisor, tmp_path: Path
) -> None:
    servers = []
    for w in sup.workers:
        registry = CollectorRegistry()
        Counter("brink_enrichment_articles", "doc", ["status"], registry=registry).labels(
            status="ok"
        ).inc(w.index + 1)
        Gauge("brink_enrichment_consumer_lag", "doc", ["topic"], registry=registry).labels(
            topic="t"
        ).set(99)
        server = MetricsServer("127.0.0.1", 0, registry=registry).start()
        servers.append(server)
        w.port_file.write_text(str(server.port))
        w.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    sup.lag.labels(topic="t", partition="0").set(7)
    try:
        text = generate_latest(sup.registry).decode()
    finally:
        for server in servers:
            server.stop()
    assert metric_value(text, "brink_enrichment_articles_total", status="ok", worker="0") == 1
    assert metric_value(text, "brink_enrichment_articles_total", status="ok", worker="1") == 2
    assert metric_value(text, "brink_enrichment_consumer_lag", topic="t", partition="0") == 7
    assert "99" not in [line.split()[-1] for line in text.splitlines() if "lag" in line]
    assert metric_value(text, "brink_enrichment_workers") == 2
    assert text.count("# TYPE process_cpu_seconds_total") <= 1
