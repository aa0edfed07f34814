"""The foundation against the real broker: kafka-python, a Faust agent and Kafka's own console tools."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from kafka import KafkaConsumer, KafkaProducer

from shared.codec import decode, encode
from shared.schemas import Article
from shared.settings import Settings
from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.kafka
T0 = datetime(2021, 4, 13, 9, 30, tzinfo=UTC)


def articles(n: int) -> list[Article]:
    return [
        Article(
            id=f"a{i}", title=f"t{i}", body=f"body {i}", received_at=T0, content_hash=f"{i:064d}"
        )
        for i in range(n)
    ]


def consume(settings: Settings, topic: str, group: str, n: int, timeout: float = 30) -> list:
    consumer = KafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **settings.kafka_python(),
    )
    got: list = []
    try:

        def more() -> bool:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend(records)
            return len(got) >= n

        wait_for(more, timeout=timeout, message=f"{n} records on {topic}")
    finally:
        consumer.close()
    return got


def test_kafka_python_round_trip_keeps_keys_order_and_content(
    settings: Settings, group_id: str
) -> None:
    producer = KafkaProducer(**settings.kafka_python())
    sent = articles(20)
    for a in sent:
        producer.send(settings.topics.articles, key=a.id.encode(), value=encode(a))
    producer.flush()
    producer.close()
    got = consume(settings, settings.topics.articles, group_id, len(sent))
    assert sorted((r.key.decode(), decode(r.value, Article)) for r in got) == sorted(
        (a.id, a) for a in sent
    )
    # Keyed by article id: one key always lands on one partition.
    assert len({r.partition for r in got if r.key == b"a3"}) == 1


def test_a_faust_agent_consumes_and_produces_through_the_codec(
    settings: Settings, group_id: str, tmp_path
) -> None:
    env = {
        **os.environ,
        "BRINK_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "BRINK_TOPIC_PREFIX": settings.topic_prefix,
        "BRINK_STATE_DIR": str(tmp_path),
        "ECHO_IN": settings.topics.articles,
        "ECHO_OUT": settings.topics.enriched,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faust",
            "-A",
            "tests.apps.faust_echo",
            "worker",
            "-l",
            "warn",
            "--without-web",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        producer = KafkaProducer(**settings.kafka_python())
        sent = articles(5)
        for a in sent:
            producer.send(settings.topics.articles, key=a.id.encode(), value=encode(a))
        producer.flush()
        producer.close()
        got = consume(settings, settings.topics.enriched, group_id, len(sent), timeout=60)
        assert {decode(r.value, Article) for r in got} == set(sent)
        assert all(b"__faust" not in r.value for r in got)
    finally:
        worker.terminate()
        out, _ = worker.communicate(timeout=30)
        print(out.decode(errors="replace")[-3000:])


def test_kafka_console_consumer_reads_what_python_wrote(settings: Settings) -> None:
    producer = KafkaProducer(**settings.kafka_python())
    producer.send(settings.topics.alerts, key=b"k", value=encode(articles(1)[0]))
    producer.flush()
    producer.close()
    out = subprocess.run(
        [
            str(ROOT / "deploy/kafka/kafka.sh"),
            "tool",
            "console-consumer",
            "--bootstrap-server",
            settings.bootstrap_servers,
            "--topic",
            settings.topics.alerts,
            "--from-beginning",
            "--max-messages",
            "1",
            "--timeout-ms",
            "20000",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("{"))
    assert decode(line.encode(), Article).id == "a0"


def test_topics_are_created_with_the_wanted_partitions(settings: Settings) -> None:
    out = subprocess.run(
        [
            str(ROOT / "deploy/kafka/kafka.sh"),
            "tool",
            "topics",
            "--bootstrap-server",
            settings.bootstrap_servers,
            "--describe",
            "--topic",
            settings.topics.articles,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "PartitionCount: 3" in out.stdout
