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
