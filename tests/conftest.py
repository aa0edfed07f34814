"""Shared fixtures. Broker tests use the real Kafka that `make test` starts, and fail (never
skip) when it is missing. Each test gets its own topic prefix and consumer group."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.kafka_admin import ensure_topics
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "articles.jsonl"
SEEDS = ROOT / "seeds"


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def bootstrap() -> str:
    servers = os.environ.get("BRINK_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    host, port = servers.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        pytest.fail(f"no Kafka broker at {servers} ({exc}); run `make kafka-up` (make test does)")
    return servers


@pytest.fixture
def settings(bootstrap: str) -> Settings:
    """Settings for one test: its own topic prefix, topics created with 3 partitions."""
    s = Settings(
        bootstrap_servers=bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        partitions=3,
        replication_factor=1,
    )
    ensure_topics(s)
    return s


@pytest.fixture
def group_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def corpus() -> dict[str, dict[str, Any]]:
    """The real news corpus beside the project (read-only, never copied into the repo)."""
    if not CORPUS.exists():
        pytest.fail(f"corpus not found at {CORPUS}")
    with CORPUS.open(encoding="utf-8") as fh:
        return {a["id"]: a for a in map(json.loads, fh)}


@pytest.fixture
def tmp_state(tmp_path: Path) -> Path:
    d = tmp_path / "state"
    d.mkdir()
    return d


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample's value in Prometheus text exposition, read with prometheus_client's own
    parser (0 when the sample is absent): ``metric_value(text, "x_total", reason="empty")``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a service process needs to run with `settings` (BRINK_* variables)."""
    from dataclasses import fields

    env = dict(os.environ)
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is not None:
            env["BRINK_" + f.name.upper()] = str(value)
    # One enrichment process unless a test asks for more (the service's default is one per
    # core): tests read its metrics without a `worker` label, and the machine is shared.
    env.setdefault("BRINK_ENRICHMENT_WORKERS", "1")
    env.update(extra)
    return env


class ServiceProcess:
    """A Brink service (`python -m services.<name>`) run as a real subprocess for a test."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        import subprocess
        import sys

        self.name = name
        self.env = env
        self.log_path = log_path
        self.metrics_port = int(env["BRINK_METRICS_PORT"])
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.metrics_port}{path}"

    def healthy(self) -> bool:
        import urllib.request

        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 90) -> ServiceProcess:
        wait_for(self.healthy, timeout=timeout, interval=0.3, message=f"{self.name} /healthz")
        return self

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as r:
            return str(r.read().decode())

    def log_tail(self, n: int = 60) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self, timeout: float = 30) -> int:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return int(self.proc.returncode)


@pytest.fixture
def start_service(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: start_service("ingest", settings, **extra_env) -> a healthy ServiceProcess.

    Each gets a free metrics port (and HTTP port), its own state dir, and is stopped after the test.
    """
    started: list[ServiceProcess] = []

    def start(name: str, settings: Settings, wait: bool = True, **extra: str) -> ServiceProcess:
        env = settings_env(settings, **extra)
        if "BRINK_METRICS_PORT" not in extra:
            env["BRINK_METRICS_PORT"] = str(free_port())
        if "BRINK_HTTP_PORT" not in extra:
            env["BRINK_HTTP_PORT"] = str(free_port())
        if "BRINK_STATE_DIR" not in extra:
            env["BRINK_STATE_DIR"] = str(tmp_path / f"state-{name}")
        svc = ServiceProcess(name, env, tmp_path / f"{name}-{len(started)}.log")
        started.append(svc)
        return svc.wait_healthy() if wait else svc

    yield start
    for svc in started:
        svc.stop()
