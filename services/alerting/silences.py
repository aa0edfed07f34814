"""Run-time silences: records on the compacted ``alerts.silences`` topic, read by every worker.

``brink silence`` writes a `Silence` (JSON, key = silence id); a tombstone (null value) for the
same key lifts it. Each alerting worker reads the whole topic from the beginning and then
follows it (no consumer group), so whichever partitions a worker owns, it knows every silence —
the topic plays the part of a global table's changelog. Silences from the rules file are merged
in by the caller.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from services.alerting.rules import Silence
from shared import codec
from shared.codec import DecodeError
from shared.settings import Settings

log = logging.getLogger(__name__)


def ensure_silences_topic(settings: Settings) -> None:
    """Create the silences topic compacted (latest record per silence id kept forever)."""
    admin = KafkaAdminClient(client_id="brink-alerting-admin", **settings.kafka_python())
    try:
        if settings.topics.silences in set(admin.list_topics()):
            return
        topic = NewTopic(
            settings.topics.silences,
            num_partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            topic_configs={"cleanup.policy": "compact"},
        )
        with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter won
            admin.create_topics([topic])
    finally:
        admin.close()


class SilenceBook:
    """Every silence on the topic, kept current by a daemon thread."""

    def __init__(self, settings: Settings, poll_ms: int = 500) -> None:
        self._settings = settings
        self._poll_ms = poll_ms
        self._silences: dict[str, Silence] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()  # set once the topic was read up to its end at start
        self._thread = threading.Thread(target=self._run, name="silences", daemon=True)

    def start(self) -> SilenceBook:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def current(self) -> list[Silence]:
        with self._lock:
            return list(self._silences.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow()
                self._stop.wait(5.0)  # the topic vanished or had no partitions: look again
            except KafkaError as exc:  # broker away: start over, reading from the beginning
                log.warning("silences topic not readable, retrying: %s", exc)
                self._stop.wait(2.0)

    def _follow(self) -> None:
        topic = self._settings.topics.silences
        consumer = KafkaConsumer(
            client_id="brink-alerting-silences",
            group_id=None,
            enable_auto_commit=False,
            **self._settings.kafka_python(),
        )
        try:
            deadline = time.monotonic() + 30
            parts = consumer.partitions_for_topic(topic)
            while not parts and time.monotonic() < deadline and not self._stop.is_set():
                self._stop.wait(0.5)
                parts = consumer.partitions_for_topic(topic)
            tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(tps) if tps else {}
            if not tps:
                log.warning("silences topic %s does not exist; no run-time silences", topic)
                self.ready.set()
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=self._poll_ms).values():
                    for record in records:
                        self._apply(record.key, record.value)
                if not self.ready.is_set() and all(
                    consumer.position(tp) >= ends.get(tp, 0) for tp in tps
                ):
                    log.info("silences loaded: %d active or pending", len(self.current()))
                    self.ready.set()
                if not tps:
                    return
        finally:
            consumer.close()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        sid = key.decode("utf-8", "replace")
        with self._lock:
            if value is None:
                self._silences.pop(sid, None)
                return
            try:
                silence = codec.decode(value, Silence)
            except DecodeError as exc:
                log.warning("silence %s ignored: %s", sid, exc)
                return
            self._silences[sid] = silence.model_copy(update={"id": silence.id or sid})
