"""One way to build a Faust app for Brink's stream services (enrichment, alerting).

Topics are read and written as raw bytes and decoded with `shared.codec`: no faust.Record
(it adds a ``__faust`` key) and never pickle on the wire. Import this only from services that
run Faust; it imports faust.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import faust

from shared import deadletter
from shared.settings import Settings

log = logging.getLogger(__name__)

# Faust's fetcher long-polls the consumer with ``getmany(timeout=1.0)``
# (faust/transport/consumer.py, Consumer._drain_messages): after the flow is stopped, a poll
# already under way has returned within this long.
FETCH_SETTLE_SECONDS = 1.5


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
    app = faust.App(**conf)
    app.on_rebalance_complete.connect(rewind_uncommitted_partitions)  # type: ignore[arg-type]
    return app


async def rewind_uncommitted_partitions(sender: faust.App, **_: Any) -> None:
    """After a rebalance's table recovery, re-read stream partitions the group never committed.

    Work-around for faust-streaming 0.15.3 / aiokafka 0.14.0 leaving records that arrive during
    a takeover unread until a restart (docs/alerting.md, "State, partitions, restarts"). While
    a worker with tables recovers them, its fetcher polls with Faust's live set of active
    partitions; when that set is empty (everything paused), aiokafka's
    ``Fetcher.fetched_records`` returns the records of *every* partition, and Faust's
    ``Consumer.getmany`` drops those of the paused stream partitions — the position has moved
    past them all the same. Faust then seeks the stream partitions back to their committed
    offsets, but aiokafka's ``seek_to_committed`` only seeks when the committed offset is
    above 0: a partition the group has never committed (one that had no records before the
    takeover) stays past the dropped records.

    Faust sends ``on_rebalance_complete`` just before it resumes the stream partitions, seeks
    and turns the flow back on (``Recovery.on_recovery_completed``). Here the flow is stopped,
    a poll already under way is let finish, and every assigned stream partition without a
    committed offset is sought to its earliest offset (what ``auto_offset_reset="earliest"``
    means for it); Faust's own seek and flow resume follow. Apps without tables, whose flow
    stays stopped through the rebalance (``Recovery._resume_streams``), are left alone.
    """
    app = sender
    if not app.tables or app.conf.consumer_auto_offset_reset != "earliest":
        return
    consumer: Any = app.consumer
    generation = app.consumer_generation_id
    consumer.stop_flow()  # no new poll until Faust's resume_flow() after its own seek
    await asyncio.sleep(FETCH_SETTLE_SECONDS)
    if app.consumer_generation_id != generation:
        return  # another rebalance started; its recovery comes back here
    changelogs = set(app.tables.changelog_topics)
    try:
        committed = await consumer.seek_to_committed()
        never = [
            tp
            for tp in consumer.assignment()
            if tp.topic not in changelogs and not committed.get(tp)
        ]
        if not never:
            return
        earliest = await consumer.earliest_offsets(*never)
        await consumer.seek_wait({tp: earliest[tp] for tp in never if tp in earliest})
    except Exception:  # never let the work-around break a rebalance: Faust carries on
        log.exception("could not rewind uncommitted partitions after a rebalance")
        return
    log.info(
        "rewound %d never-committed partition(s) to their earliest offset after a rebalance",
        len(never),
    )


async def send_dead_letter(topic: Any, event: Any, *, stage: str, reason: str, detail: str) -> Any:
    """Send ``event``'s record unchanged (key, value, headers) to the dead-letter ``topic``.

    Adds the ``brink.dlq.*`` headers, logs topic/partition/offset, and returns the send's
    future so the caller can wait for the broker's acknowledgement before committing.
    """
    msg = event.message
    log.warning(
        "dead letter from %s[%d]@%d: %s: %s", msg.topic, msg.partition, msg.offset, reason, detail
    )
    headers = deadletter.headers(
        stage=stage,
        reason=reason,
        detail=detail,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        original=[(k, bytes(v)) for k, v in (msg.headers or [])],
    )
    return await topic.send(key=msg.key, value=msg.value, headers=headers)
