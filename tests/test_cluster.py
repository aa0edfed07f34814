"""The three-node cluster from deploy/kafka/kafka.sh: replication factor 3, min.insync.replicas 2,
so acknowledged writes go on when one broker dies, and the broker catches up when it returns."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from tests.conftest import ROOT

pytestmark = pytest.mark.kafka
KAFKA = str(ROOT / "deploy/kafka/kafka.sh")


def kafka(*args: str) -> str:
    return subprocess.run(
        [KAFKA, *args], capture_output=True, text=True, check=True, timeout=180
    ).stdout.strip()


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    servers = kafka("up", "--cluster").splitlines()[-1]
    try:
        yield servers
    finally:
        kafka("down", "--cluster")


def test_writes_survive_the_loss_of_one_broker(cluster: str) -> None:
    topic = f"cluster-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=cluster.split(","))
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])
    described = admin.describe_topics([topic])[0]["partitions"]
    admin.close()
    assert all(len(p["replica_nodes"]) == 3 for p in described)

    producer = KafkaProducer(bootstrap_servers=cluster.split(","), acks="all", retries=10)
    for i in range(10):
        producer.send(topic, key=str(i).encode(), value=b"before").get(timeout=30)
    kafka("stop-node", "2")
    try:
        for i in range(10):  # two in-sync replicas remain: min.insync.replicas=2 still met
            producer.send(topic, key=str(i).encode(), value=b"during").get(timeout=60)
    finally:
        producer.close()
        kafka("start-node", "2")

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=cluster.split(","),
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    values = [r.value for r in consumer]
    consumer.close()
    assert values.count(b"before") == 10
    assert values.count(b"during") == 10
