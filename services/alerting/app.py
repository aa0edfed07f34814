"""All of alerting's Kafka I/O, as a Faust app (``<prefix>brink-alerting``).

Two agents, because the input is keyed by article id but rule state belongs to alert groups:

1. ``route`` consumes ``articles.enriched``, decodes it with the shared codec, asks the rules
   which (rule, group) contributions the article makes, and writes each to the app's internal
   topic ``<app id>-by-group`` keyed by the group key. (One article feeds several groups, so
   this is a fan-out rather than Faust's one-key ``group_by``.)
2. ``evaluate`` consumes that topic: every contribution of a group arrives on one partition, in
   order, where the ``groups`` table (memory store, Kafka changelog, same partition count)
   holds the group's window and last firing. It runs the pure `Engine` and writes alerts to
   ``alerts`` keyed by group key, then hands them to the optional receivers.

Both agents ack their events by hand, only once what a record produced (its contributions, its
alert, or its dead letter) is acknowledged by the broker; a write that fails is retried for as
long as it fails and reported on /healthz, and Faust commits only up to the first event not yet
acked, so nothing is committed past it (Faust's own acking would ack an event also when the
agent crashes or stops). An alert is sent and awaited before the group's state records it: a
crash in between re-raises the same alert (same id) on redelivery rather than losing it.
Before the worker starts, `services.alerting.topics` creates every topic it uses. A restart, or another worker taking over a partition,
rebuilds the table from its changelog first, so nothing is forgotten or re-alerted. Records
that arrive during such a takeover are read thanks to `shared.faust_app`'s
``rewind_uncommitted_partitions`` (a work-around for a Faust/aiokafka race, see its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any

import faust
import orjson

from services.alerting import metrics
from services.alerting.config import AlertingConfig
from services.alerting.delivery import HttpReceiver
from services.alerting.engine import Engine
from services.alerting.eviction import GroupIndex
from services.alerting.rules import Contribution, RuleSet, Silence
from services.alerting.silences import SilenceBook
from services.alerting.topics import AlertingTopic
from shared import codec
from shared.codec import DecodeError
from shared.faust_app import make_app, send_dead_letter
from shared.limits import LimitError, check_record_size
from shared.metrics import queue_wait
from shared.schemas import EnrichedArticle, utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)

APP_ID = "brink-alerting"
RETRY_FIRST_SECONDS = 0.5  # a failed write is retried after this, doubling each time ...
RETRY_MAX_SECONDS = 30.0  # ... up to this
MAX_IN_FLIGHT = 1_000  # routed articles whose contributions are not yet acknowledged
SWEEP_SECONDS = 1.0  # idle groups of a partition are looked for at most this often


class TableState(MutableMapping[str, dict[str, Any]]):
    """The engine's ``group key -> dict`` view of a Faust table holding JSON bytes."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> dict[str, Any]:
        raw = self._table.get(key.encode())
        if raw is None:
            raise KeyError(key)
        value: dict[str, Any] = orjson.loads(raw)
        return value

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        self._table[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self._table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for k in self._table)

    def __len__(self) -> int:
        return len(self._table)


class AlertingService:
    """Builds the Faust app, its topics, table and agents for one rule set."""

    def __init__(
        self,
        settings: Settings,
        rules: RuleSet,
        silences: SilenceBook | None = None,
        receivers: Sequence[HttpReceiver] = (),
        *,
        app_id: str = APP_ID,
        config: AlertingConfig | None = None,
        instance_id: str | None = None,
    ) -> None:
        config = config or AlertingConfig(app_id=app_id)
        self.settings = settings
        self.rules = rules
        self.silence_book = silences
        self.receivers = list(receivers)
        self.started = threading.Event()
        self.faults: dict[str, str] = {}  # topic -> why writing to it fails (for /healthz)
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._settling: set[asyncio.Future[None]] = set()
        self.app = make_app(settings, app_id, instance_id=instance_id)
        self.group_id = self.app.conf.id
        app = self.app
        topics = settings.topics
        self.source = app.topic(topics.enriched, key_type=bytes, value_type=bytes)
        self.by_group = app.topic(
            f"{self.group_id}-by-group",
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            internal=True,
        )
        self.alerts = app.topic(topics.alerts, key_type=bytes, value_type=bytes)
        self.deadletter = app.topic(topics.deadletter, key_type=bytes, value_type=bytes)
        self.groups = app.Table(
            "groups", partitions=settings.partitions, key_type=bytes, value_type=bytes
        )
        self.engine = Engine(rules, TableState(self.groups), config.allowed_lateness)
        self.index = GroupIndex(max(1, config.max_groups // settings.partitions))
        self._index_stale = True  # rebuilt from the table after each rebalance's recovery
        self._swept: dict[int, float] = {}
        app.agent(self.source, name="route")(self._route)
        app.agent(self.by_group, name="evaluate")(self._evaluate)
        app.task(self._on_started)
        # None until the first rebalance (and table recovery) is complete, then the partitions
        # of the by-group topic this worker evaluates.
        self.evaluate_partitions: frozenset[int] | None = None
        self.assigned: frozenset[Any] = frozenset()
        app.on_rebalance_complete.connect(self._on_rebalance_complete)  # type: ignore[arg-type]

    def topics(self) -> list[AlertingTopic]:
        """Every topic the service reads or writes, for `ensure_alerting_topics`."""
        partitions = self.settings.partitions
        t = self.settings.topics
        return [
            AlertingTopic(t.enriched, None),
            AlertingTopic(t.alerts, None),
            AlertingTopic(t.deadletter, None),
            AlertingTopic(self.by_group.get_topic_name(), partitions),
            AlertingTopic(
                self.groups.changelog_topic.get_topic_name(),
                partitions,
                {"cleanup.policy": "compact"},
            ),
            # Faust's leader-election topic (faust/assignor/leader_assignor.py), one partition
            AlertingTopic(f"{self.group_id}-__assignor-__leader", 1),
        ]

    async def _on_rebalance_complete(self, sender: Any = None, **_: Any) -> None:
        assigned = frozenset(self.app.consumer.assignment())
        by_group = self.by_group.get_topic_name()
        self.assigned = assigned
        self.evaluate_partitions = frozenset(
            tp.partition for tp in assigned if tp.topic == by_group
        )
        log.info(
            "assigned %d partition(s), %d of %s",
            len(assigned),
            len(self.evaluate_partitions),
            by_group,
        )

    async def _on_started(self) -> None:
        self.started.set()
        log.info("alerting: %d rules from %s", len(self.rules.rules), self.rules.source)

    def silences(self) -> list[Silence]:
        live = self.silence_book.current() if self.silence_book is not None else []
        return [*self.rules.silences, *live]

    def health(self) -> tuple[bool, dict[str, object]]:
        """(healthy?, details) for /healthz: unhealthy, with the reason, while a write keeps
        failing (the agent waits on it and commits nothing past it)."""
        faults = dict(self.faults)
        if faults:
            return False, {"reason": "; ".join(faults.values()), "faults": faults}
        evaluating = self.evaluate_partitions
        if not self.started.is_set() or evaluating is None:
            return False, {"status": "starting", "reason": "waiting for partitions"}
        details: dict[str, object] = {"evaluate_partitions": len(evaluating)}
        if not evaluating and self.assigned:
            # Assigned input but none of the by-group topic: the evaluate agent would never run.
            reason = f"the evaluate agent has no partitions of {self.by_group.get_topic_name()}"
            return False, {**details, "status": "starting", "reason": reason}
        if not evaluating:
            details["reason"] = "standby: no partitions assigned (more workers than partitions)"
        return True, details

    async def _deliver(self, what: str, send: Callable[[], Awaitable[Any]]) -> None:
        """Run ``send`` (a Kafka send returning the record's future) and wait for the broker's
        acknowledgement, retrying for as long as it takes.

        A failure that reaches here is permanent (a DENY WRITE ACL, a topic that was deleted) or
        kept failing through the producer's own retries, so /healthz reports it at once, and the
        record that produced it is not acked: its offset, and every later one of the partition,
        is not committed until the write succeeds. After the fault is fixed the record goes through
        (here, or after a restart, since it was never committed): nothing is lost, nothing is
        skipped. Cancellation (shutdown, rebalance) is let through without an ack.
        """
        delay = RETRY_FIRST_SECONDS
        while True:
            try:
                await (await send())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # retried below, forever: never skip a record
                metrics.SEND_FAILURES.labels(topic=what).inc()
                reason = f"cannot write to {what}: {type(exc).__name__}: {exc}"
                if self.faults.get(what) != reason:
                    log.error("%s; retrying, not committing past this record", reason)
                self.faults[what] = reason
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            if self.faults.pop(what, None) is not None:
                log.warning("writing to %s works again", what)
            return

    async def _dead_letter(self, event: Any, reason: str, detail: str) -> None:
        await self._deliver(
            "deadletter",
            lambda: send_dead_letter(
                self.deadletter, event, stage="alerting", reason=reason, detail=detail
            ),
        )
        metrics.DEAD_LETTERED.labels(reason=reason).inc()

    async def _route(self, stream: Any) -> None:
        """Route each article; ack it once every contribution it produced is acknowledged.

        Events are acked by hand (Faust acks, and later commits, an event when the loop moves on
        *and* when the agent stops or crashes). So that one article does not wait for the
        broker's round trip before the next is read, its sends are settled by a task of their
        own (at most `MAX_IN_FLIGHT` at once): Faust commits only up to the first event not yet
        acked, so an ack out of order never commits past an article whose sends are pending or
        being retried.
        """
        stream.enable_acks = False
        async for event in stream.events():
            await self._in_flight.acquire()
            try:
                pending = await self._route_one(event)
            except BaseException:
                self._in_flight.release()
                raise
            task = asyncio.ensure_future(self._settle(stream, event, pending))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _settle(
        self, stream: Any, event: Any, pending: list[tuple[bytes, bytes, Any]]
    ) -> None:
        try:
            for key, value, future in pending:
                try:
                    await future
                except asyncio.CancelledError:
                    raise
                except Exception:  # sent again by _deliver, for as long as it fails
                    await self._deliver(
                        "by-group",
                        lambda k=key, v=value: self.by_group.send(key=k, value=v, force=True),  # type: ignore[misc]
                    )
            await stream.ack(event)
        finally:
            self._in_flight.release()

    async def _route_one(self, event: Any) -> list[tuple[bytes, bytes, Any]]:
        """Decode, apply the rules and send the article's contributions (or its dead letter);
        returns the sends still to be acknowledged (key, value, future)."""
        started = time.perf_counter()
        _observe_queue_wait("route", event)
        try:
            enriched = codec.decode(event.value, EnrichedArticle)
        except DecodeError as exc:
            await self._dead_letter(event, exc.reason, exc.detail)
            return []
        try:
            contributions = self.rules.contributions(enriched)
            encoded = [(c.group.key.encode(), codec.encode(c)) for c in contributions]
            for _, value in encoded:
                check_record_size(value, what="contribution")
        except LimitError as exc:
            await self._dead_letter(event, exc.reason, exc.detail)
            return []
        except Exception as exc:  # domain code failed on this record: dead-letter it
            log.exception("rules failed on article %s", enriched.article.id)
            await self._dead_letter(event, metrics.PROCESSING_ERROR, repr(exc))
            return []
        metrics.ARTICLES.inc()
        metrics.RULE_EVALUATION.observe(time.perf_counter() - started)
        pending: list[tuple[bytes, bytes, Any]] = []
        for key, value in encoded:
            try:
                future = await self.by_group.send(key=key, value=value, force=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # refused before it was queued: send it again until it is
                await self._deliver(
                    "by-group",
                    lambda k=key, v=value: self.by_group.send(key=k, value=v, force=True),  # type: ignore[misc]
                )
                continue
            pending.append((key, value, future))
        metrics.PROCESSING.labels(agent="route").observe(time.perf_counter() - started)
        return pending

    def _evict(self, key: str, reason: str) -> None:
        # Only keys of the partition being processed: Faust writes the tombstone to the
        # changelog partition of the current event.
        with contextlib.suppress(KeyError):
            del self.engine.state[key]
        metrics.GROUPS_EVICTED.labels(reason=reason).inc()

    def _remember(self, partition: int, key: str, state: dict[str, Any]) -> None:
        if self._index_stale:
            items = ((k, v) for k, v in self.engine.state.items() if isinstance(v, dict))
            self.index.rebuild(items)
            self._index_stale = False
        for victim in self.index.touch(
            partition, key, touched=float(state["touched"]), keep=float(state["keep"])
        ):
            self._evict(victim, "cap")
        metrics.GROUPS.set(len(self.index))

    def _sweep(self, partition: int) -> None:
        """Evict the partition's idle groups, at most once a second per partition."""
        now = time.time()
        if now - self._swept.get(partition, 0.0) < SWEEP_SECONDS or self._index_stale:
            return
        self._swept[partition] = now
        for victim in self.index.idle(partition, now):
            self._evict(victim, "idle")
        metrics.GROUPS.set(len(self.index))

    async def _wait_for_silences(self, timeout: float = 30.0) -> None:
        book = self.silence_book
        deadline = time.monotonic() + timeout
        while book is not None and not book.ready.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def _evaluate(self, stream: Any) -> None:
        await self._wait_for_silences()
        stream.enable_acks = False  # acked by hand, see _route
        async for event in stream.events():
            await self._evaluate_one(event)
            await stream.ack(event)

    async def _evaluate_one(self, event: Any) -> None:
        started = time.perf_counter()
        _observe_queue_wait("evaluate", event)
        try:
            await self._decide(event, started)
        finally:
            metrics.PROCESSING.labels(agent="evaluate").observe(time.perf_counter() - started)

    async def _decide(self, event: Any, started: float) -> None:
        try:
            contribution = codec.decode(event.value, Contribution)
            outcome, new_state = self.engine.decide(contribution, utcnow(), self.silences())
            # Both sizes are bounded by construction (services.alerting.caps); checked all
            # the same, because a record Kafka refuses would crash the producer for good.
            encoded = codec.encode(outcome.alert) if outcome.alert is not None else None
            if encoded is not None:
                check_record_size(encoded, what="alert")
            if new_state is not None:
                check_record_size(orjson.dumps(new_state), what="group state")
        except (DecodeError, LimitError) as exc:
            await self._dead_letter(event, exc.reason, exc.detail)
            return
        except Exception as exc:  # domain code failed on this record: dead-letter it
            log.exception("engine failed on a contribution")
            await self._dead_letter(event, metrics.PROCESSING_ERROR, repr(exc))
            return
        metrics.RULE_EVALUATION.observe(time.perf_counter() - started)
        if outcome.suppressed is not None:
            metrics.SUPPRESSED.labels(reason=outcome.suppressed).inc()
        alert = outcome.alert
        if alert is not None and encoded is not None:
            # Sent now and awaited: the group's state records the firing only once Kafka has
            # the alert, so a crash cannot lose it (it is re-raised, same id, on redelivery).
            key = alert.group.key.encode()
            await self._deliver(
                "alerts", lambda: self.alerts.send(key=key, value=encoded, force=True)
            )
        partition = int(event.message.partition)
        if new_state is not None:
            new_state["p"] = partition  # which changelog partition the group lives on
            self.engine.state[contribution.group.key] = new_state
            self._remember(partition, contribution.group.key, new_state)
        self._sweep(partition)
        if alert is None:
            return
        metrics.ALERTS.labels(rule=alert.rule, severity=alert.severity.value).inc()
        latency = (utcnow() - contribution.received_at).total_seconds()
        metrics.END_TO_END_LATENCY.observe(max(0.0, latency))
        log.info("alert %s %s: %s", alert.id[:12], alert.severity.value, alert.summary)
        for receiver in self.receivers:
            receiver.submit(alert)


def _observe_queue_wait(agent: str, event: Any) -> None:
    """Faust's ``Message.timestamp`` is in seconds."""
    wait = queue_wait(getattr(event.message, "timestamp", None), time.time())
    if wait is not None:
        metrics.QUEUE_WAIT.labels(agent=agent).observe(wait)


def worker(service: AlertingService, loglevel: str) -> faust.Worker:
    """A Faust worker for the service (no Faust web server: Brink serves /metrics itself)."""
    return faust.Worker(service.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
