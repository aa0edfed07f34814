"""shared.faust_app for every Faust service: /healthz tells the truth (an agent that crashed,
sends that keep failing, a worker still starting), and every topic exists before the
worker subscribes."""

from __future__ import annotations

import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from faust.types import TP
from kafka import KafkaProducer

from shared.faust_app import FaustHealth, app_topics, group_instance_id, make_app
from shared.settings import Settings
from tests.conftest import ROOT, free_port, settings_env, wait_for

CRASHING_APP = textwrap.dedent(
    """
    import os
    from shared.faust_app import ensure_app_topics, health_of, make_app
    from shared.metrics import MetricsServer
    from shared.settings import Settings

    settings = Settings.from_env()
    app = make_app(settings, "crash-test")
    source = app.topic(os.environ["CRASH_IN"], key_type=bytes, value_type=bytes)

    @app.agent(source)
    async def fragile(stream):
        async for value in stream:
            if value == b"crash":
                raise RuntimeError("poison")

    ensure_app_topics(app, settings)
    MetricsServer("127.0.0.1", settings.metrics_port, health=health_of(app).check).start()
    app.main()
    """
)


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())
    except OSError:
        return 0, {}


@pytest.mark.kafka
def test_healthz_is_503_with_a_reason_after_an_agent_crashed(
    settings: Settings, tmp_path: Path
) -> None:
    """Faust logs "Crashed" and restarts the agent; before, /healthz kept answering 200."""
    import subprocess
    import sys

    port = free_port()
    script = tmp_path / "crash_app.py"
    script.write_text(CRASHING_APP)
    env = settings_env(
        settings,
        BRINK_METRICS_PORT=str(port),
        BRINK_STATE_DIR=str(tmp_path / "state"),
        CRASH_IN=settings.topics.articles,
        PYTHONPATH=str(ROOT),  # a script's own folder comes first on sys.path, not the cwd
    )
    log = (tmp_path / "crash.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, str(script), "worker", "--without-web", "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: healthz(port)[0] == 200, timeout=60, message="healthy")
        producer = KafkaProducer(**settings.kafka_python())
        producer.send(settings.topics.articles, key=b"k", value=b"crash")
        producer.flush()
        producer.close()
        _, body = wait_for(lambda: (h := healthz(port))[0] == 503 and h, timeout=30, message="503")
        assert "crashed" in str(body["reason"]) and "poison" in str(body["reason"])
        assert body["crashes"] == 1
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def fake_app(assigned_topics: tuple[str, ...] = ()) -> Any:
    channel = SimpleNamespace(topics=("articles",))
    return SimpleNamespace(
        agents={"a": SimpleNamespace(channel=channel)},
        tables={},
        conf=SimpleNamespace(id="g", topic_disable_leader=False),
        consumer=SimpleNamespace(topic_partitions=lambda topic: 3),
    )


def test_health_states() -> None:
    health = FaustHealth(fake_app())
    ok, details = health.check()
    assert not ok and str(details["reason"]).startswith("starting: no partition assignment")

    tp = TP("articles", 0)
    health.assigned = {tp}
    ok, details = health.check()
    assert not ok and "catching up" in str(details["reason"])
    health.caught_up = True
    assert health.check()[0]

    for _ in range(FaustHealth.MAX_SEND_FAILURES):
        health.send_failed(RuntimeError("broker away"))
    ok, details = health.check()
    assert not ok and "broker away" in str(details["reason"])
    health.send_ok()
    assert health.check()[0]

    # assigned nothing of the source although the group has no more members than partitions
    health.assigned = {TP("g-__assignor-__leader", 0)}
    health.members = 1
    ok, details = health.check()
    assert not ok and "no partitions of the source topics" in str(details["reason"])
    health.members = 3
    assert not health.check()[0]
    health.members = 4  # more members than partitions: a standby, healthy
    assert health.check()[0]

    health.fatal("batch not finished")
    assert health.check() == (
        False,
        {"crashes": 0, "partitions": 1, "reason": "batch not finished"},
    )


def test_app_topics_lists_sources_sinks_and_the_leader_topic(tmp_path: Path) -> None:
    settings = Settings(topic_prefix="p.", state_dir=str(tmp_path))
    app = make_app(settings, "brink-x")
    source = app.topic("p.in", key_type=bytes, value_type=bytes)
    sink = app.topic("p.out", key_type=bytes, value_type=bytes)

    async def agent(stream: Any) -> None:
        async for _ in stream:
            pass

    app.agent(source, name="x")(agent)
    assert app_topics(app, sink, "p.dlq") == {
        "p.in": None,
        "p.brink-x-__assignor-__leader": 1,
        "p.out": None,
        "p.dlq": None,
    }


def test_group_instance_id_is_stable_per_replica() -> None:
    assert group_instance_id("brink-enrichment", {"BRINK_INSTANCE_ID": "pod-0"}) == "pod-0"
    a = group_instance_id("brink-enrichment", {"BRINK_METRICS_PORT": "9102"})
    b = group_instance_id("brink-enrichment", {"BRINK_METRICS_PORT": "9112"})
    assert a != b and a == group_instance_id("brink-enrichment", {"BRINK_METRICS_PORT": "9102"})
