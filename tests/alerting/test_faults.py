"""A sink alerting may not write to: nothing is committed past the alert, /healthz says why,
and once the fault is fixed the alerts appear (real broker, the real service code path with an
injected failing topic: tests/alerting/faulty.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer

from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import AlertReader, health, produce
from tests.conftest import ROOT, ServiceProcess, free_port, settings_env, wait_for

pytestmark = pytest.mark.kafka

RULES = """
rules:
  - name: per-article
    kinds: [military_buildup]
    repeat_interval: 6h
"""


class FaultyService(ServiceProcess):
    """`python -m tests.alerting.faulty` (the service with a failing sink) as a subprocess."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.name = "alerting (faulty sink)"
        self.env = env
        self.log_path = log_path
        self.metrics_port = int(env["BRINK_METRICS_PORT"])
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.alerting.faulty"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )


def dead_letters(settings: Settings) -> list[Any]:
    c = KafkaConsumer(
        settings.topics.deadletter,
        group_id=f"dlq-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        **settings.kafka_python(),
    )
    try:
        return list(c)
    finally:
        c.close()


@pytest.mark.parametrize("topic", ["alerts", "by_group", "deadletter"])
def test_a_sink_that_refuses_writes_blocks_commits_and_turns_healthz_503_and_loses_nothing(
    settings: Settings, group_id: str, start_service: Any, tmp_path: Path, topic: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    flag = tmp_path / "deny"
    flag.touch()
    env = settings_env(
        settings,
        BRINK_RULES_PATH=str(rules),
        BRINK_METRICS_PORT=str(free_port()),
        BRINK_STATE_DIR=str(tmp_path / "state"),
        BRINK_TEST_FAIL_FILE=str(flag),
        BRINK_TEST_FAIL_TOPIC=topic,
    )
    faulty = FaultyService(env, tmp_path / "faulty.log")
    reader = AlertReader(settings, group_id)
    try:
        faulty.wait_healthy()
        good = [enriched(f"a{i}", [signal(actor=f"Actor{i}")], at=T0) for i in range(3)]
        if topic == "deadletter":  # a record to dead-letter first, then the good ones
            from kafka import KafkaProducer

            p = KafkaProducer(**settings.kafka_python())
            p.send(settings.topics.enriched, key=b"bad", value=b"{not json", partition=0).get(30)
            p.close()
        produce(settings, good)

        def unhealthy() -> dict[str, Any] | None:
            status, body = health(faulty.url("/healthz"))
            return body if status == 503 else None

        body = wait_for(unhealthy, timeout=60, message="/healthz 503 while the sink refuses")
        assert "TopicAuthorizationFailedError" in orjson.dumps(body).decode()
        assert dead_letters(settings) == [] or topic == "deadletter"
        if topic == "alerts":
            assert reader.poll() == []
            assert dead_letters(settings) == []
    finally:
        faulty.stop()
        reader.close()

    # the fault is fixed (the ACL removed) and the service restarted: nothing was lost
    flag.unlink()
    reader = AlertReader(settings, group_id)
    try:
        start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
        wait_for(
            lambda: {a.articles[0].id for a in reader.poll()} >= {"a0", "a1", "a2"},
            timeout=60,
            message="every alert after the restart",
        )
        if topic == "deadletter":
            wait_for(lambda: dead_letters(settings), message="the dead letter after the restart")
    finally:
        reader.close()
