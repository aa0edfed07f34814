"""Alerting's topics, created with the right partition counts before the Faust worker starts.

Faust declares its internal topics (``<app id>-by-group`` and the ``groups`` table's changelog)
itself, but it can subscribe before the broker's metadata shows a topic it has just created:
on a fresh topic prefix, 2 of 8 starts logged "Ignoring missing topic
'<prefix>brink-alerting-by-group'" and the evaluate agent never got a partition. So every topic
alerting reads or writes is created here first (kafka-python's admin client), the changelog
compacted like Faust makes it, and a topic that exists with another partition count than the
table needs is refused (the table's partitions must match its source topic's).

When shared.faust_app gains topic pre-creation for every app, `ensure_alerting_topics` can call
that instead; the list of what alerting needs (`AlertingTopic`s) stays here.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.settings import Settings

log = logging.getLogger(__name__)


class TopicsError(RuntimeError):
    """A topic alerting needs exists in a shape it cannot use (another partition count)."""


@dataclass(frozen=True, slots=True)
class AlertingTopic:
    name: str
    partitions: int | None  # None: any count will do (created with the settings' count)
    configs: dict[str, str] = field(default_factory=dict)


def ensure_alerting_topics(
    settings: Settings, topics: Sequence[AlertingTopic], timeout: float = 30.0
) -> list[str]:
    """Create the missing ``topics``, wait until the broker describes every one with all its
    partitions, and check the partition count of those that must match.

    Returns the names created. Raises `TopicsError` when an existing topic has a partition count
    other than the one required, or a topic is still not described after ``timeout`` seconds.
    """
    admin = KafkaAdminClient(client_id="brink-alerting-admin", **settings.kafka_python())
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            new = [
                NewTopic(
                    t.name,
                    num_partitions=t.partitions or settings.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=dict(t.configs),
                )
                for t in missing
            ]
            for topic in new:  # one by one: a concurrent starter may win the race for some
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([topic])
            log.info("created topics %s", ", ".join(t.name for t in missing))
        counts = _partition_counts(admin, [t.name for t in topics], timeout)
        wrong = [
            f"{t.name} has {counts[t.name]} partitions, alerting needs {t.partitions}"
            for t in topics
            if t.partitions is not None and counts[t.name] != t.partitions
        ]
        if wrong:
            raise TopicsError(
                "; ".join(wrong) + " (BRINK_PARTITIONS changed? use a new "
                "BRINK_ALERTING_APP_ID, which starts from fresh state, or restore the count)"
            )
        return [t.name for t in missing]
    finally:
        admin.close()


def _partition_counts(admin: KafkaAdminClient, names: list[str], timeout: float) -> dict[str, int]:
    """Partition count of every topic in ``names``, once the broker describes them all without
    error (a topic just created can take a moment to appear in the metadata)."""
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_topics(names)
        counts = {
            d["name"]: len(d["partitions"])
            for d in described
            if d["error_code"] == 0
            and d["partitions"]
            and all(p["error_code"] == 0 for p in d["partitions"])
        }
        if set(counts) >= set(names):
            return counts
        if time.monotonic() > deadline:
            errors = {d["name"]: d["error_code"] for d in described if d["name"] not in counts}
            raise TopicsError(
                f"topics not ready after {timeout:.0f}s, Kafka error codes {errors}"
                " (29: not authorized to describe the topic)"
            )
        time.sleep(0.2)
