"""Topic creation with the partition counts Brink wants (auto-created topics get the broker
default), and a static group member's leaving on a clean stop."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, MemberToRemove, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

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


def leave_group(settings: Settings, group: str, instance_id: str) -> None:
    """Remove a static member (``group.instance.id``) from its group, which closing its
    consumer does not do: on a clean stop, the others take its partitions at once instead of
    after its session timeout. Best effort: on failure the session timeout frees them."""
    try:
        admin = KafkaAdminClient(client_id="brink-admin", **settings.kafka_python())
    except KafkaError as exc:
        log.warning("could not leave group %s (%s): partitions move after the session", group, exc)
        return
    try:
        admin.remove_group_members(group, [MemberToRemove(group_instance_id=instance_id)])
        log.info("left group %s as static member %s", group, instance_id)
    except Exception as exc:  # best effort, see above
        log.warning("could not leave group %s (%s): partitions move after the session", group, exc)
    finally:
        admin.close()
