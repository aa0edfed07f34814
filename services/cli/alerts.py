"""`brink alerts`: read alerts from the ``alerts`` topic, filter them, print them.

One line per alert (time, severity, rule, summary, stories, id) with its evidence sentences
indented below, or ``--json`` (one alert per line, the same JSON as on the topic). Alert text
comes from articles anyone can publish: every control character and bidi control in it is
printed as a visible escape (`shared.text`), in both forms, so it cannot drive the terminal. Reads without a
consumer group (nothing is committed, any number of readers): by default the last ``--last``
alerts of each partition up to now; ``--from-beginning`` reads all; ``--follow`` keeps waiting
for new ones (from the end, unless ``--from-beginning`` or ``--last`` say otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator

from kafka import KafkaConsumer, TopicPartition

from shared import codec
from shared.codec import DecodeError
from shared.schemas import Alert, Severity, SignalKind
from shared.settings import Settings
from shared.text import terminal_safe, terminal_safe_json

COLOURS = {"info": "\033[36m", "warning": "\033[33m", "critical": "\033[1;31m"}
DIM, OFF = "\033[2m", "\033[0m"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new alerts")
    parser.add_argument(
        "--from-beginning", action="store_true", help="read the topic from its first alert"
    )
    parser.add_argument(
        "--last",
        type=int,
        default=None,
        metavar="N",
        help="start N alerts before the end of each partition (default 20; 0 with --follow)",
    )
    parser.add_argument(
        "--min-severity",
        choices=[s.value for s in Severity],
        default="info",
        help="hide alerts below this severity",
    )
    parser.add_argument(
        "--actor",
        action="append",
        default=[],
        help="only alerts with this actor, a name or ISO/org code such as RUS (repeatable)",
    )
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        help="only alerts with this target, a name or code (repeatable)",
    )
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=[k.value for k in SignalKind],
        help="only alerts with this signal kind (repeatable)",
    )
    parser.add_argument("--rule", action="append", default=[], help="only this rule (repeatable)")
    parser.add_argument("--json", action="store_true", help="print each alert as one JSON line")
    parser.add_argument(
        "--bootstrap-servers", help="Kafka bootstrap servers (default: BRINK_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--topic", help="alerts topic (default: the settings' alerts)")


def matches(alert: Alert, args: argparse.Namespace) -> bool:
    """Whether an alert passes the command line's filters (names compare case-insensitively)."""
    if alert.severity.rank < Severity(args.min_severity).rank:
        return False

    def any_of(wanted: list[str], present: Iterable[str]) -> bool:
        have = {p.casefold() for p in present}
        return not wanted or any(w.casefold() in have for w in wanted)

    # names or codes: the evidence carries each party's ISO alpha-3 / org code ("--actor RUS")
    actors = [*alert.group.actors, *(e.actor_code for e in alert.evidence if e.actor_code)]
    targets = [*alert.group.targets, *(e.target_code for e in alert.evidence if e.target_code)]
    return (
        any_of(args.actor, actors)
        and any_of(args.target, targets)
        and any_of(args.kind, (k.value for k in alert.group.kinds))
        and any_of(args.rule, [alert.rule])
    )


def format_alert(alert: Alert, colour: bool = False) -> str:
    """The readable form: a headline line, then each evidence sentence indented. Every text
    taken from the alert is escaped for the terminal, newlines included (one line each)."""
    safe = terminal_safe
    sev = alert.severity.value.upper()
    sev = f"{COLOURS[alert.severity.value]}{sev:<8}{OFF}" if colour else f"{sev:<8}"
    when = alert.last_seen.strftime("%Y-%m-%d %H:%MZ")
    stories = f"{alert.count} stor{'ies' if alert.count != 1 else 'y'}"
    # the group key is what `brink silence --group` takes; the id names this one alert
    tail = (
        f"[{safe(alert.rule)}, {stories}, score {alert.score:.1f}, "
        f"group {safe(alert.group.key)}, id {safe(alert.id[:12])}]"
    )
    if colour:
        tail = f"{DIM}{tail}{OFF}"
    lines = [f"{when} {sev} {safe(alert.summary)}  {tail}"]
    titles = {a.id: a for a in alert.articles}
    for ev in alert.evidence:
        article = titles.get(ev.article_id)
        where = (article.source or article.title) if article else ev.article_id
        cue = f"{ev.kind.value}: “{safe(ev.cue)}”"
        if ev.cameo:
            cue += f" [CAMEO {safe(ev.cameo)}, {safe(ev.plover or '')}]"
        if ev.modality.value != "asserted":
            cue += f" ({ev.modality.value})"
        lines.append(f"    {safe(ev.sentence)}")
        lines.append(f"      ↳ {cue} — {safe(where)}")
    return "\n".join(lines)


def read(
    consumer: KafkaConsumer,
    topic: str,
    *,
    from_beginning: bool,
    last: int,
    follow: bool,
) -> Iterator[tuple[bytes, Alert | None]]:
    """(raw value, alert or None when undecodable) from the chosen start, up to now or forever."""
    parts = sorted(consumer.partitions_for_topic(topic) or ())
    tps = [TopicPartition(topic, p) for p in parts]
    if not tps:
        return
    consumer.assign(tps)
    begins = consumer.beginning_offsets(tps)
    ends = consumer.end_offsets(tps)
    for tp in tps:
        start = begins[tp] if from_beginning else max(begins[tp], ends[tp] - last)
        consumer.seek(tp, start)
    while True:
        if not follow and all(consumer.position(tp) >= ends[tp] for tp in tps):
            return
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                try:
                    yield record.value, codec.decode(record.value, Alert)
                except DecodeError:
                    yield record.value, None


def run(args: argparse.Namespace) -> int:
    overrides = {"bootstrap_servers": args.bootstrap_servers} if args.bootstrap_servers else {}
    settings = Settings.from_env(**overrides)
    topic = args.topic or settings.topics.alerts
    last = args.last if args.last is not None else (0 if args.follow else 20)
    colour = not args.json and (sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR")))
    consumer = KafkaConsumer(
        client_id="brink-alerts-cli",
        group_id=None,
        enable_auto_commit=False,
        **settings.kafka_python(),
    )
    shown = skipped = 0
    try:
        stream = read(
            consumer, topic, from_beginning=args.from_beginning, last=last, follow=args.follow
        )
        batch: list[Alert] = []
        for _value, alert in stream:
            if alert is None:
                skipped += 1
                continue
            if not matches(alert, args):
                continue
            if args.follow:
                _emit(alert, args.json, colour)
                shown += 1
            else:
                batch.append(alert)
        for alert in sorted(batch, key=lambda a: (a.last_seen, a.created_at, a.id)):
            _emit(alert, args.json, colour)
            shown += 1
    finally:
        consumer.close()
    if skipped:
        print(
            f"{skipped} record(s) on {terminal_safe(topic)} are not brink.alert/1; skipped",
            file=sys.stderr,
        )
    if not args.json and not args.follow and shown == 0:
        print(f"no alerts on {terminal_safe(topic)} match", file=sys.stderr)
    return 0


def _emit(alert: Alert, as_json: bool, colour: bool) -> None:
    if as_json:
        sys.stdout.write(terminal_safe_json(codec.encode(alert)).decode() + "\n")
    else:
        sys.stdout.write(format_alert(alert, colour) + "\n")
    sys.stdout.flush()
