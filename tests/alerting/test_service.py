"""The alerting service on the real broker: `python -m services.alerting` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from shared.schemas import Alert, Modality, SignalKind
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import AlertReader, produce
from tests.alerting.webhook import WebhookServer
from tests.conftest import free_port, metric_value, wait_for

pytestmark = pytest.mark.kafka
H = timedelta(hours=1)

WINDOW_RULES = """
rules:
  - name: per-article
    kinds: [military_buildup]
    repeat_interval: 6h
  - name: three-stories
    type: window
    window: 6h
    min_stories: 3
    repeat_interval: 6h
  - name: corroborated
    type: window
    window: 6h
    min_stories: 1
    min_sources: 3
    repeat_interval: 6h
"""


@pytest.fixture
def reader(settings: Settings, group_id: str) -> Iterator[AlertReader]:
    r = AlertReader(settings, group_id)
    yield r
    r.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A real Prometheus Alertmanager (Debian package) on a free loopback port."""
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: brink\nreceivers:\n  - name: brink\n")
    proc = subprocess.Popen(
        [
            "/usr/bin/prometheus-alertmanager",
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"alertmanager exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    try:
        wait_for(ready, timeout=30, message="alertmanager ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def seed_like() -> list[Any]:
    """Enriched articles shaped like seeds/: buildup, called-for sanctions, expulsion, negatives."""
    buildup = enriched("seed-buildup")
    called_for = enriched(
        "seed-sanctions-called",
        [
            signal(
                SignalKind.SANCTIONS,
                "NATO",
                "Russia",
                modality=Modality.DEMANDED,
                sentence="Western governments called for sanctions against Russia.",
                cue="called for sanctions",
            )
        ],
        at=T0 + 0.2 * H,
    )
    expelled = enriched(
        "seed-expulsion",
        [
            signal(
                SignalKind.DIPLOMATIC_EXPULSION,
                "Poland",
                "Russia",
                sentence="Poland expelled three Russian diplomats on Friday.",
                cue="expelled three Russian diplomats",
            )
        ],
        at=T0 + 0.4 * H,
    )
    denied = enriched(
        "seed-denial",
        [
            signal(
                modality=Modality.NEGATED,
                sentence="The Kremlin said it has no plans to deploy troops.",
                cue="deploy troops",
            )
        ],
        at=T0 + 0.5 * H,
    )
    fans = enriched("seed-army-of-fans", [], at=T0 + 0.6 * H)
    return [buildup, called_for, expelled, denied, fans]


def test_seed_like_articles_yield_the_expected_alerts_on_every_receiver_and_replay_same_ids(
    settings: Settings,
    reader: AlertReader,
    start_service: Any,
    alertmanager: str,
) -> None:
    hook = WebhookServer()
    try:
        svc = start_service(
            "alerting",
            settings,
            BRINK_WEBHOOK_URL=hook.url,
            BRINK_ALERTMANAGER_URL=alertmanager,
        )
        produce(settings, seed_like())
        producer = KafkaProducer(**settings.kafka_python())
        producer.send(settings.topics.enriched, key=b"broken", value=b'{"schema": "nope"')
        producer.flush()
        producer.close()

        expected = {
            ("buildup-or-mobilization", "seed-buildup"),
            ("sanctions-pressure", "seed-sanctions-called"),
            ("sanctions-expulsions", "seed-expulsion"),
        }
        wait_for(lambda: len(reader.poll()) >= 3, timeout=30, message="3 alerts")
        first = reader.poll()
        assert {(a.rule, a.articles[0].id) for a in first} == expected
        assert all(key == a.group.key.encode() for key, a in reader.records)
        by_rule = {a.rule: a for a in first}
        assert (
            by_rule["sanctions-pressure"].severity.rank
            < by_rule["sanctions-expulsions"].severity.rank
        )
        evidence = by_rule["sanctions-pressure"].evidence[0]
        assert evidence.sentence[evidence.start : evidence.end] == "called for sanctions"

        # the broken record went to the dead-letter topic, counted by reason
        wait_for(
            lambda: (
                metric_value(
                    svc.metrics(), "brink_alerting_dead_lettered_total", reason="malformed_json"
                )
                == 1
            ),
            message="dead letter counted",
        )
        wait_for(
            lambda: metric_value(svc.metrics(), "brink_alerting_articles_total") == 5,
            message="5 articles evaluated",
        )
        assert metric_value(svc.metrics(), "brink_alerting_end_to_end_latency_seconds_count") == 3
        dlq = KafkaConsumer(
            settings.topics.deadletter,
            group_id=f"dlq-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            **settings.kafka_python(),
        )
        got: list[Any] = []
        wait_for(
            lambda: got.extend(r for b in dlq.poll(300).values() for r in b) or got,
            message="dead letter on the topic",
        )
        dlq.close()
        assert got[0].value == b'{"schema": "nope"'
        assert ("brink.dlq.stage", b"alerting") in got[0].headers

        # webhook: the alerts as on the topic
        wait_for(lambda: len(hook.bodies) >= 3, message="3 webhook posts")
        assert {b["id"] for b in hook.bodies} == {a.id for a in first}

        # Alertmanager received them (queried through its own API)
        def am_alerts() -> list[Any]:
            with urllib.request.urlopen(alertmanager + "/api/v2/alerts", timeout=5) as r:
                data: list[Any] = json.loads(r.read())
            return data

        wait_for(lambda: len(am_alerts()) >= 3, message="alerts in Alertmanager")
        am = {a["annotations"]["alert_id"]: a for a in am_alerts()}
        assert set(am) == {a.id for a in first}
        pressure = am[by_rule["sanctions-pressure"].id]
        assert pressure["labels"]["alertname"] == "sanctions-pressure"
        assert pressure["labels"]["severity"] == "info"
        assert pressure["labels"]["actor"] == "NATO"
        assert pressure["status"]["state"] == "active"
        svc.stop()

        # (d) replay: a fresh app id over the same input reproduces the same alert ids
        start_service("alerting", settings, BRINK_ALERTING_APP_ID="brink-alerting-replay")
        wait_for(lambda: len(reader.poll()) >= 6, timeout=30, message="replayed alerts")
        replayed = reader.poll()[3:]
        assert sorted(a.id for a in replayed) == sorted(a.id for a in first)
    finally:
        hook.close()


def test_three_sources_of_one_story_give_one_windowed_alert_not_three(
    settings: Settings, reader: AlertReader, start_service: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(WINDOW_RULES)
    svc = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    produce(
        settings,
        [
            enriched("wire-a", source="Wire A"),
            enriched("wire-b", duplicate_of="wire-a", source="Wire B", at=T0 + 0.1 * H),
            enriched("wire-c", duplicate_of="wire-a", source="Wire C", at=T0 + 0.2 * H),
        ],
    )
    # 3 routed articles + 9 contributions (3 articles x 3 rules) evaluated
    wait_for(
        lambda: metric_value(svc.metrics(), "brink_alerting_rule_evaluation_seconds_count") >= 12,
        message="every contribution evaluated",
    )
    text = svc.metrics()
    assert (
        metric_value(text, "brink_alerting_alerts_total", rule="three-stories", severity="warning")
        == 0
    )
    wait_for(lambda: len(reader.poll()) >= 2, message="alerts")
    alerts = {a.rule: a for a in reader.poll()}
    assert set(alerts) == {"per-article", "corroborated"}
    windowed = alerts["corroborated"]
    assert windowed.count == 1
    assert [(a.id, a.duplicates) for a in windowed.articles] == [("wire-a", 2)]
    assert windowed.summary.endswith("reported by 3 sources in 6h (1 story)")
    assert metric_value(text, "brink_alerting_suppressed_total", reason="duplicate") == 2


def test_a_restart_between_two_articles_of_a_group_does_not_re_alert(
    settings: Settings, reader: AlertReader, start_service: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(WINDOW_RULES.split("  - name: corroborated", maxsplit=1)[0])
    first = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    produce(settings, [enriched("s1")])
    wait_for(reader.poll, message="first alert")
    assert [a.rule for a in reader.poll()] == ["per-article"]
    first.stop()

    second = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    produce(settings, [enriched("s2", at=T0 + H), enriched("s3", at=T0 + 2 * H), enriched("s1")])
    # 3 routed articles; s2, s3 and s1 again (a redelivery): 2 contributions each
    wait_for(
        lambda: metric_value(second.metrics(), "brink_alerting_rule_evaluation_seconds_count") >= 9,
        message="every contribution evaluated",
    )
    text = second.metrics()
    assert metric_value(text, "brink_alerting_suppressed_total", reason="throttled") == 2
    assert metric_value(text, "brink_alerting_suppressed_total", reason="duplicate") == 2
    wait_for(lambda: len(reader.poll()) >= 2, message="window alert")
    alerts: list[Alert] = reader.poll()
    # the window remembered s1 from before the restart; per-article did not fire again
    assert [(a.rule, a.count) for a in alerts] == [("per-article", 1), ("three-stories", 3)]
    assert (
        metric_value(text, "brink_alerting_alerts_total", rule="per-article", severity="warning")
        == 0
    )


def test_a_malformed_rules_file_is_refused_at_start_naming_the_line(
    settings: Settings, start_service: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: x\n    type: window\n    min_stories: lots\n")
    svc = start_service("alerting", settings, wait=False, BRINK_RULES_PATH=str(rules))
    assert svc.proc.wait(60) == 2
    assert f"{rules}: line 4: rules.0.min_stories" in svc.log_tail()


def test_a_second_worker_taking_over_the_partitions_forgets_nothing(
    settings: Settings, reader: AlertReader, start_service: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(WINDOW_RULES.split("  - name: corroborated", maxsplit=1)[0])
    first = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    produce(settings, [enriched("s1")])
    wait_for(reader.poll, message="first alert")
    second = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    first.stop()  # the second worker of the group takes over every partition
    # Faust logs "Worker ready" after each rebalance's recovery: the second one is the takeover.
    wait_for(
        lambda: second.log_tail(400).count("Worker ready") >= 2,
        timeout=60,
        message="the takeover rebalance",
    )

    produce(settings, [enriched("s2", at=T0 + H), enriched("s3", at=T0 + 2 * H)])
    wait_for(
        lambda: metric_value(second.metrics(), "brink_alerting_rule_evaluation_seconds_count") >= 6,
        timeout=60,
        message="the second worker evaluated s2 and s3",
    )
    assert (
        metric_value(second.metrics(), "brink_alerting_suppressed_total", reason="throttled") == 2
    )
    wait_for(lambda: len(reader.poll()) >= 2, message="window alert")
    assert [(a.rule, a.count) for a in reader.poll()] == [("per-article", 1), ("three-stories", 3)]
