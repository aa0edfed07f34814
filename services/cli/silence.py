"""`brink silence`: add, list or lift alert silences on the compacted ``alerts.silences`` topic.

A silence suppresses alerts that match it (group key, rule, actor, target, kind) and whose
article time falls in [starts_at, ends_at). Every alerting worker reads the whole topic, so a
silence applies wherever the group lives. Examples::

    brink silence --group 3f2a9c0d1e4b5a6f --for 6h --comment "known exercise"
    (a --group key no alert on the topic has is refused, and an alert id is named as such)
    brink silence --actor Russia --target Ukraine --for 1d
    brink silence --list
    brink silence --expire 1a2b3c4d5e6f
"""

from __future__ import annotations

import argparse
import getpass
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from services.alerting.rules import Silence, SilenceMatch, parse_duration
from shared import codec
from shared.codec import DecodeError
from shared.schemas import Alert, SignalKind, utcnow
from shared.settings import Settings
from shared.text import terminal_safe


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="alert group key (the alert's group.key)")
    parser.add_argument("--rule", help="only this rule")
    parser.add_argument("--actor", help="alerts with this actor")
    parser.add_argument("--target", help="alerts with this target")
    parser.add_argument("--kind", choices=[k.value for k in SignalKind], help="this signal kind")
    parser.add_argument("--for", dest="duration", default="6h", help="how long (default 6h)")
    parser.add_argument("--starts", help="start time, ISO 8601 (default: now)")
    parser.add_argument("--comment", default="", help="why (shown by --list)")
    parser.add_argument("--list", action="store_true", help="list the silences on the topic")
    parser.add_argument("--expire", metavar="ID", help="lift the silence with this id")
    parser.add_argument(
        "--force",
        action="store_true",
        help="accept a --group key no alert on the topic has (e.g. for a group not seen yet)",
    )
    parser.add_argument(
        "--bootstrap-servers", help="Kafka bootstrap servers (default: BRINK_BOOTSTRAP_SERVERS)"
    )


def _records(settings: Settings, topic: str) -> Iterator[ConsumerRecord]:
    """Every record of ``topic``, from the beginning to the end offsets read at the start (no
    consumer group, nothing committed)."""
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, **settings.kafka_python())
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=500).values():
                yield from records
    finally:
        consumer.close()


def read_silences(settings: Settings) -> dict[str, Silence]:
    """Every silence currently on the topic (latest record per id; tombstones remove)."""
    out: dict[str, Silence] = {}
    for r in _records(settings, settings.topics.silences):
        key = (r.key or b"").decode("utf-8", "replace")
        if r.value is None:
            out.pop(key, None)
            continue
        try:
            out[key] = codec.decode(r.value, Silence)
        except DecodeError:
            continue
    return out


def known_groups(settings: Settings) -> tuple[set[str], dict[str, str]]:
    """Group keys of the alerts on the alerts topic, and alert id -> group key, read once
    from the beginning."""
    keys: set[str] = set()
    ids: dict[str, str] = {}
    for r in _records(settings, settings.topics.alerts):
        if r.value is None:
            continue
        try:
            alert = codec.decode(r.value, Alert)
        except DecodeError:
            continue
        keys.add(alert.group.key)
        ids[alert.id] = alert.group.key
    return keys, ids


def check_group(settings: Settings, group: str) -> str | None:
    """Why ``group`` is not a group key an alert has, or None when it is one."""
    keys, ids = known_groups(settings)
    if group in keys:
        return None
    by_id = [g for i, g in ids.items() if len(group) >= 8 and i.startswith(group)]
    if by_id:
        return (
            f"{group} is an alert id, not a group key; its group key is {by_id[0]} "
            f"(brink alerts shows it as 'group ...')"
        )
    return (
        f"no alert on {settings.topics.alerts} has group key {group} "
        "(brink alerts shows each alert's group key; --force to silence it anyway)"
    )


def _send(settings: Settings, key: str, value: bytes | None) -> None:
    producer = KafkaProducer(**settings.kafka_python())
    try:
        producer.send(settings.topics.silences, key=key.encode(), value=value).get(timeout=30)
    finally:
        producer.close()


def run(args: argparse.Namespace) -> int:
    overrides = {"bootstrap_servers": args.bootstrap_servers} if args.bootstrap_servers else {}
    settings = Settings.from_env(**overrides)
    if args.list:
        now = utcnow()
        for sid, s in sorted(read_silences(settings).items(), key=lambda kv: kv[1].ends_at):
            state = "active" if s.starts_at <= now < s.ends_at else "expired"
            state = "pending" if now < s.starts_at else state
            what = ", ".join(f"{k}={v}" for k, v in s.match.model_dump().items() if v)
            # ids, names and comments come from the topic: escaped for the terminal
            print(
                f"{terminal_safe(sid)}  {state:<7}  until {s.ends_at:%Y-%m-%d %H:%MZ}  "
                f"{terminal_safe(what)}  {terminal_safe(s.comment or '')}"
            )
        return 0
    if args.expire:
        _send(settings, args.expire, None)
        print(f"silence {args.expire} lifted")
        return 0
    match = SilenceMatch(
        group=args.group, rule=args.rule, actor=args.actor, target=args.target, kind=args.kind
    )
    if not any(match.model_dump().values()):
        print("brink silence: say what to silence (--group, --rule, --actor, ...)", file=sys.stderr)
        return 2
    if args.group and not args.force:
        problem = check_group(settings, args.group)
        if problem is not None:
            print(f"brink silence: {terminal_safe(problem)}", file=sys.stderr)
            return 2
    try:
        starts = datetime.fromisoformat(args.starts) if args.starts else utcnow()
        duration = parse_duration(args.duration)
    except ValueError as exc:
        print(f"brink silence: {exc}", file=sys.stderr)
        return 2
    silence = Silence(
        id=uuid.uuid4().hex[:12],
        match=match,
        starts_at=starts,
        ends_at=starts + duration,
        comment=args.comment,
        created_by=getpass.getuser(),
    )
    _send(settings, silence.id, codec.encode(silence))
    print(f"silence {silence.id} until {silence.ends_at:%Y-%m-%d %H:%MZ}")
    return 0
