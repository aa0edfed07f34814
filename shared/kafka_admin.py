"""Topic creation with the partition counts Brink wants (auto-created topics get the broker default)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.settings import Settings

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings, names: Iterable[str] | None = None) -> list[str]:
    """Create the pipeline's topics that do not exist yet; return the ones created."""
    wanted = list(names) if names is not None else list(settings.topics.all())
    admin = KafkaAdminClient(client_id="brink-admin", **settings.kafka_python())
    try:
        existing = set(admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                n,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
            )
            for n in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter won the race
            admin.create_topics(new)
        log.info("created topics %s", ", ".join(missing))
        return missing
    finally:
        admin.close()
