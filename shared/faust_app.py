"""One way to build a Faust app for Brink's stream services (enrichment, alerting).

Topics are read and written as raw bytes and decoded with `shared.codec`: no faust.Record
(it adds a ``__faust`` key) and never pickle on the wire. Import this only from services that
run Faust; it imports faust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from shared.settings import Settings


def make_app(settings: Settings, app_id: str, **extra: Any) -> faust.App:
    """A Faust app on the configured cluster, its topics and state prefixed like the settings.

    Brink serves /metrics and /healthz itself (`shared.metrics`), so Faust's web server is off.
    Started as ``faust worker``, Faust turns it back on unless ``--without-web`` is given, and
    would bind 0.0.0.0:6066: the bind address is pinned to ``settings.metrics_host`` for that case.
    """
    datadir = Path(settings.state_dir) / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    conf: dict[str, Any] = dict(
        id=settings.topic_prefix + app_id,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=False,
        web_bind=settings.metrics_host,
        web_host=settings.metrics_host,
        datadir=str(datadir),
        store="memory://",  # tables are rebuilt from their Kafka changelog on start
        table_cleanup_interval=30.0,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
        logging_config=None,
    )
    conf.update(settings.faust_broker())
    conf.update(extra)
    return faust.App(**conf)
