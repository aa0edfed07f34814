"""Consumer lag per partition, for any client: the group's committed offsets against the log end.

Runs in a daemon thread with its own kafka-python clients so it never blocks a service's loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from prometheus_client import Gauge

from shared.settings import Settings

log = logging.getLogger(__name__)


def measure_lag(
    admin: KafkaAdminClient, consumer: KafkaConsumer, group_id: str, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """Lag of ``group_id`` on every partition of ``topics`` (uncommitted partitions count from 0)."""
    committed = admin.list_group_offsets(group_id)
    # kafka-python 3.x answers {group_id: {TopicPartition: OffsetAndMetadata}}
    if isinstance(committed.get(group_id), dict):
        committed = committed[group_id]
    parts = [
        TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
    ]
    ends = consumer.end_offsets(parts) if parts else {}
    lag: dict[TopicPartition, int] = {}
    for tp in parts:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag[tp] = max(0, ends.get(tp, 0) - done)
    return lag


class LagMonitor:
    """Sets ``gauge.labels(topic=..., partition=...)`` every ``interval`` seconds."""

    def __init__(
        self,
        settings: Settings,
        group_id: str,
        topics: list[str],
        gauge: Gauge,
        interval: float = 10.0,
    ) -> None:
        self._settings = settings
        self._group_id = group_id
        self._topics = topics
        self._gauge = gauge
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-monitor", daemon=True)

    def start(self) -> LagMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        admin: KafkaAdminClient | None = None
        consumer: KafkaConsumer | None = None
        while not self._stop.is_set():
            try:
                if admin is None or consumer is None:
                    conf = self._settings.kafka_python()
                    admin = KafkaAdminClient(client_id="brink-lag", **conf)
                    consumer = KafkaConsumer(client_id="brink-lag", **conf)
                for tp, value in measure_lag(admin, consumer, self._group_id, self._topics).items():
                    self._gauge.labels(topic=tp.topic, partition=str(tp.partition)).set(value)
            except KafkaError as exc:  # broker away: try again next round with new clients
                log.warning("consumer lag not measured: %s", exc)
                admin = consumer = None
            self._stop.wait(self._interval)
