"""`brink publish` against the real broker: one refused record does not lose the ones after it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from shared.limits import MAX_RECORD_BYTES
from shared.settings import Settings
from tests.conftest import ROOT, settings_env, wait_for

pytestmark = pytest.mark.kafka


def test_a_refused_record_does_not_stop_the_records_after_it(
    settings: Settings, tmp_path: Path
) -> None:
    # A topic that takes Brink's largest record but not much more, as a managed Kafka might:
    # the broker refuses the big record below, which poisons an idempotent producer.
    topic = settings.topic_prefix + "publish-limit"
    admin = KafkaAdminClient(**settings.kafka_python())
    try:
        limit = MAX_RECORD_BYTES + 20_000
        admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": str(limit)})]
        )
    finally:
        admin.close()
    big = orjson.dumps({"text": "x" * (MAX_RECORD_BYTES + 50_000)})
    small = [orjson.dumps({"text": f"story {i} of the day"}) for i in range(3)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([small[0], big, small[1], small[2]]) + b"\n")

    out = subprocess.run(
        [sys.executable, "-m", "services.cli.publish", "--topic", topic, str(path)],
        cwd=ROOT,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1, out
    assert "sent: 3, failed: 1" in out.stdout, out
    (failure,) = [ln for ln in out.stderr.splitlines() if ln.startswith("failed: ")]
    assert "mixed.jsonl#2" in failure and "too_large" in failure

    consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka_python())
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got: list[bytes] = []
    try:

        def all_three() -> bool:
            for batch in consumer.poll(timeout_ms=300).values():
                got.extend(r.value for r in batch)
            return len(got) >= 3

        wait_for(all_three, timeout=30, message="the three small records")
    finally:
        consumer.close()
    assert got == small
