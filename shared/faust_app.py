"""One way to build a Faust app for Brink's stream services (enrichment, alerting).

Topics are read and written as raw bytes and decoded with `shared.codec`: no faust.Record
(it adds a ``__faust`` key) and never pickle on the wire. Import this only from services that
run Faust; it imports faust.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import faust
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared import deadletter
from shared.limits import MAX_DEADLETTER_VALUE_BYTES
from shared.settings import Settings

log = logging.getLogger(__name__)

# Faust's fetcher long-polls the consumer with ``getmany(timeout=1.0)``
# (faust/transport/consumer.py, Consumer._drain_messages): after the flow is stopped, a poll
# already under way has returned within this long.
FETCH_SETTLE_SECONDS = 1.5


def make_app(
    settings: Settings, app_id: str, *, instance_id: str | None = None, **extra: Any
) -> faust.App:
    """A Faust app on the configured cluster, its topics and state prefixed like the settings.

    ``instance_id`` turns on Kafka static membership (`group_instance_id`): a replica that
    restarts with the same id gets its partitions back without waiting for the session
    timeout. Every app gets a `FaustHealth` (`health_of(app)`) that hears of agent crashes
    and partition assignments; declare agents after this returns (they capture the hook).

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
        # aiokafka's and Kafka's own default (Faust lowers it to 1,000,000): the dead letter of
        # any record up to limits.MAX_DEADLETTER_VALUE_BYTES, plus its headers, fits.
        producer_max_request_size=1_048_576,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        stream_wait_empty=False,
        logging_config=None,
    )
    if instance_id:
        conf["consumer_group_instance_id"] = instance_id
    conf.update(settings.faust_broker())
    conf.update(extra)
    app = faust.App(**conf)
    app.on_rebalance_complete.connect(rewind_uncommitted_partitions)  # type: ignore[arg-type]
    health = FaustHealth(app, settings)
    _HEALTH[app] = health
    faust_on_error = app._on_agent_error

    async def on_agent_error(agent: Any, exc: BaseException) -> None:
        await health.on_agent_error(agent, exc)
        await faust_on_error(agent, exc)

    # app.agent() passes ``on_error=self._on_agent_error`` to every agent it declares
    app._on_agent_error = on_agent_error  # type: ignore[method-assign]
    app.on_partitions_assigned.connect(health.on_assigned)  # type: ignore[arg-type]
    app.timer(1.0, name="brink-health")(health.refresh)
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
    future so the caller can wait for the broker's acknowledgement before committing. A value
    over `shared.limits.MAX_DEADLETTER_VALUE_BYTES` is cut to that size (the detail says so).
    """
    msg = event.message
    value = msg.value
    if value is not None and len(value) > MAX_DEADLETTER_VALUE_BYTES:
        # Kept whole it could not be produced (the broker took it without Brink's headers):
        # the first bytes and a note, rather than a worker that stops on it forever.
        detail = (
            f"{detail} [value of {len(value)} bytes cut to its first "
            f"{MAX_DEADLETTER_VALUE_BYTES} to fit with these headers]"
        )
        value = value[:MAX_DEADLETTER_VALUE_BYTES]
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
    return await topic.send(key=msg.key, value=value, headers=headers)


# --------------------------------------------------------------------------- start-up
def group_instance_id(app_id: str, env: Mapping[str, str] | None = None) -> str:
    """A stable id for this replica in its consumer group (Kafka static membership).

    ``BRINK_INSTANCE_ID`` when set (one distinct value per replica: a StatefulSet pod name,
    a compose service name plus index); else ``<host>-<app id>-<metrics port>``, stable
    across restarts of the same replica and distinct between replicas on one host (they
    cannot share a metrics port). A restarted member that rejoins with the same id gets its
    partitions back at once instead of after the dead member's session timeout.
    """
    env = os.environ if env is None else env
    explicit = env.get("BRINK_INSTANCE_ID", "").strip()
    if explicit:
        return explicit
    port = env.get("BRINK_METRICS_PORT", "").strip() or "default"
    return f"{socket.gethostname()}-{app_id}-{port}"


def app_topics(app: faust.App, *extra: Any) -> dict[str, int | None]:
    """Every topic the app will read or write, with its partition count (None: the default).

    The agents' source topics, the tables' changelogs, Faust's leader topic (one partition),
    plus ``extra`` (topic objects or names: sinks, dead-letter topics, repartition topics).
    """
    names: dict[str, int | None] = {}

    def add(item: Any, partitions: int | None = None) -> None:
        if isinstance(item, str):
            names.setdefault(item, partitions)
            return
        for name in getattr(item, "topics", None) or ():
            names.setdefault(name, partitions or getattr(item, "partitions", None))

    for agent in app.agents.values():
        add(agent.channel)
    for table in app.tables.values():
        add(table.changelog_topic, table.partitions)
    if not app.conf.topic_disable_leader:
        add(f"{app.conf.id}-__assignor-__leader", 1)
    for item in extra:
        add(item)
    return names


def ensure_app_topics(
    app: faust.App, settings: Settings, *extra: Any, timeout: float = 30.0
) -> list[str]:
    """Create every topic of `app_topics` that does not exist yet, before the worker starts,
    and wait until the broker's metadata lists them all; return the ones created.

    Without this a fresh prefix races: Faust subscribes while it is still declaring topics,
    the group's assignor logs "Ignoring missing topic" and the agent gets no partitions of
    that topic until a later rebalance (seen with alerting's ``-by-group`` topic).
    """
    wanted = app_topics(app, *extra)
    admin = KafkaAdminClient(client_id="brink-admin", **settings.kafka_python())
    try:
        existing = set(admin.list_topics())
        missing = {n: p for n, p in wanted.items() if n not in existing}
        if missing:
            new = [
                NewTopic(
                    n,
                    num_partitions=p or settings.partitions,
                    replication_factor=settings.replication_factor,
                )
                for n, p in missing.items()
            ]
            # a concurrent starter may have created some of them
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
            log.info("created topics %s", ", ".join(missing))
        deadline = time.monotonic() + timeout
        while not set(wanted) <= set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not visible after {timeout}s: {sorted(wanted)}")
            time.sleep(0.2)
        return list(missing)
    finally:
        admin.close()


# --------------------------------------------------------------------------- health
class FaustHealth:
    """What /healthz says about a Faust service: 503 with a reason while it is starting
    (no assignment yet; partitions of its source topics exist but none is assigned although
    the group has no more members than partitions, as when a topic was missing when the group
    was assigned; not yet fetched to the end of what was there at assignment), after any agent crashed (Faust logs "Crashed" and restarts the agent, but the
    batch it held was acknowledged: the truth is that the worker lost work), after a fatal
    error, and while sends keep failing (`MAX_SEND_FAILURES` in a row).

    `make_app` attaches one to every app (`health_of`). The service calls `send_failed` /
    `send_ok` around its produces and `fatal` before it stops itself.
    """

    MAX_SEND_FAILURES = 3

    def __init__(self, app: faust.App, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings
        self.crashes = 0
        self.last_crash = ""
        self.fatal_reason = ""
        self.send_failures = 0
        self.last_send_error = ""
        self.assigned: set[Any] | None = None  # None: no assignment yet
        self.caught_up = False
        self.members: int | None = None
        self._members_at = 0.0
        self._targets: dict[Any, int] = {}

    @property
    def source_topics(self) -> set[str]:
        """The topics the app's agents read."""
        return {
            name
            for agent in self.app.agents.values()
            for name in getattr(agent.channel, "topics", None) or ()
        }

    # hooks ---------------------------------------------------------------
    async def on_agent_error(self, agent: Any, exc: BaseException) -> None:
        self.crashes += 1
        self.last_crash = f"agent {getattr(agent, 'name', agent)} crashed: {exc!r}"[:500]
        log.error("%s", self.last_crash)

    async def on_assigned(self, sender: Any, assigned: Any = (), **_: Any) -> None:
        self.assigned = set(assigned)
        self.caught_up = False
        self._targets = {}

    def send_failed(self, exc: BaseException) -> None:
        self.send_failures += 1
        self.last_send_error = repr(exc)[:500]

    def send_ok(self) -> None:
        self.send_failures = 0

    def fatal(self, reason: str) -> None:
        self.fatal_reason = reason[:500]

    async def refresh(self) -> None:
        """Update ``caught_up`` and ``members`` (a Faust timer calls this every second)."""
        try:
            await self._refresh()
        except Exception as exc:  # a rebalance under way: the next round asks again
            log.debug("health not refreshed: %r", exc)

    async def _refresh(self) -> None:
        if self.assigned is None:
            return
        sources = self.source_topics
        tps = [tp for tp in self.assigned if tp.topic in sources]
        if not tps:
            self.caught_up = True
            if self.settings is not None and time.monotonic() - self._members_at > 10:
                self._members_at = time.monotonic()
                self.members = await asyncio.to_thread(
                    group_members, self.settings, str(self.app.conf.id)
                )
            return
        self.members = None
        if self.caught_up:
            return
        consumer: Any = self.app.consumer
        if not self._targets:
            self._targets = dict(await consumer.highwaters(*tps))
        positions = {tp: await consumer.position(tp) for tp in tps}
        self.caught_up = all((positions[tp] or 0) >= self._targets.get(tp, 0) for tp in tps)

    # the verdict ---------------------------------------------------------
    def source_partitions(self) -> int:
        """The fewest partitions of any source topic, by the consumer's metadata (0: unknown)."""
        counts = []
        for topic in self.source_topics:
            try:
                counts.append(int(self.app.consumer.topic_partitions(topic) or 0))
            except Exception:  # consumer not started yet: nothing known
                return 0
        return min(counts, default=0)

    def check(self) -> tuple[bool, dict[str, object]]:
        """(healthy, details): a `shared.metrics.HealthCheck`; ``details["reason"]`` says why not."""
        details: dict[str, object] = {
            "crashes": self.crashes,
            "partitions": None if self.assigned is None else len(self.assigned),
        }
        reason = ""
        if self.fatal_reason:
            reason = self.fatal_reason
        elif self.crashes:
            reason = self.last_crash
        elif self.send_failures >= self.MAX_SEND_FAILURES:
            reason = f"{self.send_failures} sends failed in a row: {self.last_send_error}"
        elif self.assigned is None:
            reason = "starting: no partition assignment yet"
        elif (
            self.source_topics
            and not any(tp.topic in self.source_topics for tp in self.assigned)
            and self.members is not None
            # with no more members than partitions, every member gets some of each topic
            and 0 < self.members <= self.source_partitions()
        ):
            reason = "starting: no partitions of the source topics assigned"
        elif not self.caught_up:
            reason = "starting: catching up with the assigned partitions"
        if reason:
            details["reason"] = reason
        return not reason, details


def group_members(settings: Settings, group: str) -> int | None:
    """How many members ``group`` has, by the broker (None when it cannot say)."""
    try:
        admin = KafkaAdminClient(client_id="brink-health", **settings.kafka_python())
    except Exception:
        log.warning("could not ask the broker about group %s", group, exc_info=True)
        return None
    try:
        # kafka-python 3.x answers {group_id: {"members": [...], ...}}
        described = admin.describe_groups([group]).get(group) or {}
        return len(described.get("members") or ())
    except Exception:
        log.warning("could not describe group %s", group, exc_info=True)
        return None
    finally:
        admin.close()


_HEALTH: weakref.WeakKeyDictionary[Any, FaustHealth] = weakref.WeakKeyDictionary()


def health_of(app: faust.App) -> FaustHealth:
    """The `FaustHealth` that `make_app` attached to ``app``."""
    return _HEALTH[app]


def fail_stop(reason: str, *, code: int = 70) -> NoReturn:
    """Stop the process now, without committing anything more.

    For the cases where carrying on would commit a loss: a batch that was neither produced
    nor dead-lettered (a send failed, or the worker is stopping in the middle of it). Faust
    acknowledges a ``take_events`` batch in the generator's ``finally`` whatever happened,
    and commits acknowledged offsets on stop; exiting here leaves the offsets at the last
    batch that was fully acknowledged by the broker, so the batch is read again.
    """
    log.critical("stopping the process without committing: %s", reason)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
