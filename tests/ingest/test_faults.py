"""Ingest under faults, against real brokers: a refused record, a kill -9 of ingest, and a broker
killed with -9 mid-run (a throwaway broker of the test's own, never the shared one on 9092).

Marked ``fault``: they take minutes; select them with ``pytest -m fault``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from services.ingest.worker import RawProducer
from shared import deadletter
from shared.codec import decode
from shared.kafka_admin import ensure_topics
from shared.schemas import Article
from shared.settings import Settings
from tests.conftest import ROOT, free_port, wait_for

pytestmark = pytest.mark.fault


def story(i: int, tag: str) -> bytes:
    """A synthetic raw article with its own URL (so its own id)."""
    return orjson.dumps(
        {
            "title": f"Report {tag}-{i}",
            "text": f"Dispatch {tag} number {i}: officials said troops moved near the border.",
            "url": f"https://fault.example/{tag}/{i}",
        }
    )


def expected_id(i: int, tag: str) -> str:
    from services.ingest.normalise import article_id, canonical_url

    return article_id(canonical_url(f"https://fault.example/{tag}/{i}"), "")


class Topic:
    """Reads every record of one topic from the beginning (no consumer group)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka_python())
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.records: list[Any] = []

    def read(self) -> list[Any]:
        try:
            for batch in self.consumer.poll(timeout_ms=300).values():
                self.records.extend(batch)
        except Exception:  # the broker is down: read again later
            time.sleep(0.3)
        return self.records

    def close(self) -> None:
        self.consumer.close()


def small_topics(bootstrap: str, limit: int) -> Settings:
    """Settings whose raw and articles topics take at most ``limit`` bytes per record (created
    with that config: altering it later takes effect on the broker a little later)."""
    settings = Settings(bootstrap_servers=bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    admin = KafkaAdminClient(**settings.kafka_python())
    try:
        admin.create_topics(
            [
                NewTopic(t, 3, 1, topic_configs={"max.message.bytes": str(limit)})
                for t in (settings.topics.raw, settings.topics.articles)
            ]
        )
    finally:
        admin.close()
    ensure_topics(settings)
    return settings


# ------------------------------------------------------------------ item 6: a refused record
@pytest.mark.kafka
def test_a_record_the_broker_refuses_does_not_poison_later_sends(
    bootstrap: str, start_service: Any
) -> None:
    # Topics that take at most 100 KB: the broker itself refuses bigger records.
    settings = small_topics(bootstrap, 100_000)

    # The producer the HTTP API and the feeds share.
    raw = RawProducer(settings)
    try:
        with pytest.raises(Exception, match="MessageSizeTooLarge"):
            raw.submit([(b"big", b"Headline\n\n" + b"words " * 30_000)], timeout=20)
        for i in range(5):
            raw.submit([(None, story(i, "raw"))], timeout=20)  # each is acknowledged
    finally:
        raw.close()

    # The worker's producer: a 60 KB raw record becomes a 120 KB article (JSON escapes each '"'),
    # which the articles topic refuses; the records after it still flow.
    svc = start_service("ingest", settings)
    producer = KafkaProducer(**settings.kafka_python())
    big = b"Headline\n\n" + b'"' * 60_000
    producer.send(settings.topics.raw, key=b"big", value=big, partition=0).get(timeout=30)
    for i in range(5, 10):
        producer.send(settings.topics.raw, value=story(i, "raw"), partition=0).get(timeout=30)
    producer.close()

    out, dlq = (
        Topic(settings, settings.topics.articles),
        Topic(settings, settings.topics.deadletter),
    )
    try:
        want = {expected_id(i, "raw") for i in range(10)}
        wait_for(
            lambda: want <= {decode(r.value, Article).id for r in out.read()},
            timeout=60,
            message="every good article after the refused one",
        )
        (refused,) = wait_for(dlq.read, timeout=30, message="the dead letter")
        assert refused.key == b"big" and refused.value == big
        assert deadletter.describe(refused.headers).reason == "too_large"
    finally:
        out.close()
        dlq.close()
    assert svc.healthy()


# ------------------------------------------------------------------ item 7: kill -9 of ingest
@pytest.mark.kafka
def test_ingest_killed_with_9_is_back_at_work_quickly(
    settings: Settings, start_service: Any
) -> None:
    member = f"ingest-test-{uuid.uuid4().hex[:8]}"
    first = start_service("ingest", settings, BRINK_INSTANCE_ID=member)
    producer = KafkaProducer(**settings.kafka_python())
    out = Topic(settings, settings.topics.articles)
    try:
        producer.send(settings.topics.raw, value=story(0, "k9")).get(timeout=30)
        wait_for(out.read, timeout=30, message="the first article")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()

        restarted = time.monotonic()
        start_service("ingest", settings, wait=False, BRINK_INSTANCE_ID=member)
        for i in range(1, 4):  # one per partition (round robin)
            producer.send(settings.topics.raw, value=story(i, "k9"), partition=i % 3)
        producer.flush()
        want = {expected_id(i, "k9") for i in range(1, 4)}
        # The old code waited out the dead member's 45 s session before any partition moved.
        wait_for(
            lambda: want <= {decode(r.value, Article).id for r in out.read()},
            timeout=30,
            message="articles from the restarted ingest",
        )
        print(f"recovered: new articles out {time.monotonic() - restarted:.1f} s after restart")
    finally:
        producer.close()
        out.close()


# ------------------------------------------------------------------ item 5: broker kill -9
class ThrowawayBroker:
    """deploy/kafka/kafka.sh on free ports and a temporary home (jars linked from the cache)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True)
        (home / "libs").symlink_to((ROOT / ".cache" / "kafka" / "libs").resolve())
        self.port = free_port()
        self.env = {
            **os.environ,
            "BRINK_KAFKA_HOME": str(home),
            "BRINK_KAFKA_PORT": str(self.port),
            "BRINK_KAFKA_CONTROLLER_PORT": str(free_port()),
            "BRINK_KAFKA_HEAP": "-Xms128m -Xmx512m",
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kafka(self, *args: str) -> None:
        subprocess.run(
            [str(ROOT / "deploy" / "kafka" / "kafka.sh"), *args],
            env=self.env,
            check=True,
            timeout=180,
            capture_output=True,
        )

    def up(self) -> None:
        self.kafka("up")

    def kill9(self) -> None:
        pid = int((self.home / "single" / "node" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=30, message="broker gone")

    def down(self) -> None:
        self.kafka("down")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ThrowawayBroker]:
    if not (ROOT / ".cache" / "kafka" / "libs").is_dir():
        pytest.fail("no Kafka jars in .cache/kafka/libs: run `make setup`")
    b = ThrowawayBroker(Path(f"/tmp/brink-fault-{uuid.uuid4().hex[:8]}"))
    b.up()
    try:
        yield b
    finally:
        try:
            b.down()
        finally:
            shutil.rmtree(b.home, ignore_errors=True)


def test_ingest_survives_a_broker_killed_with_9_and_loses_nothing(
    broker: ThrowawayBroker, start_service: Any
) -> None:
    settings = Settings(bootstrap_servers=broker.bootstrap, topic_prefix="f.", partitions=3)
    ensure_topics(settings)
    svc = start_service("ingest", settings, BRINK_INGEST_UNHEALTHY_AFTER_SECONDS="5")
    sent: set[str] = set()
    rounds = 3
    for r in range(rounds):
        producer = KafkaProducer(acks="all", **settings.kafka_python())
        for i in range(150):  # enough that ingest is often still at work when the broker dies
            producer.send(settings.topics.raw, value=story(i, f"r{r}"))
            sent.add(expected_id(i, f"r{r}"))
        producer.flush(60)
        producer.close(5)
        broker.kill9()  # while ingest is still working through the round's records
        assert svc.proc.poll() is None, svc.log_tail()
        time.sleep(3)  # an outage, not a wait: ingest's poll and commit meet ECONNREFUSED
        assert svc.proc.poll() is None, svc.log_tail()
        broker.up()
        assert svc.proc.poll() is None, svc.log_tail()

    out = Topic(settings, settings.topics.articles)
    try:
        wait_for(
            lambda: sent <= {decode(r.value, Article).id for r in out.read()},
            timeout=180,
            interval=0.5,
            message=f"all {len(sent)} articles after {rounds} broker kills",
        )
    finally:
        out.close()
    svc.wait_healthy(timeout=120)  # and it never exited (healthy() fails if it did)
    assert "ECONNREFUSED" in svc.log_path.read_text()  # it did meet the dead broker
