"""Stateful alerting over contributions: windows, spikes, repeat intervals, silences (pure).

State is a plain mapping ``group key -> JSON-able dict`` passed in by the caller (a Faust table
in the service, a dict in tests), read and written back whole once per contribution so a
changelogged table records every change. Every time comparison uses article event time, never
the wall clock: replaying the same input gives the same decisions and the same alert ids.

Alert ids:
- article rules: hash(rule, group, story id) — a redelivery or a near-duplicate copy of the
  story gives the same id;
- window/spike rules: hash(rule, group, repeat bucket of the triggering article's time,
  severity) — at most one alert per group per repeat interval and severity, so the id does not
  depend on which article of a burst happened to cross the threshold first.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from services.alerting import caps
from services.alerting.rules import (
    MAX_EVIDENCE,
    ArticleRule,
    Contribution,
    RuleSet,
    Silence,
    SpikeRule,
    WindowRule,
    format_duration,
    kinds_phrase,
    pair_phrase,
    stable_hash,
)
from shared.schemas import Alert, AlertArticle, AlertGroup, Evidence, Severity, SignalKind

State = MutableMapping[str, dict[str, Any]]

THROTTLED = "throttled"
SILENCED = "silenced"
DUPLICATE = "duplicate"
MAX_ENTRIES = 500  # stories kept per group; the oldest go first
MAX_ARTICLES = 20  # articles listed in one alert; also the stories whose details a group keeps


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one contribution did: raised ``alert``, was ``suppressed`` (reason), or neither."""

    alert: Alert | None = None
    suppressed: str | None = None


def _iso(at: datetime) -> str:
    return at.isoformat()


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _copy_id(article_id: str) -> str:
    """What a story remembers of each copy to recognise a redelivery: 16 hex digits."""
    return stable_hash("copy", article_id, size=16)


def _entry(stored: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored story entry (entries written before the caps listed ``articles``)."""
    entry = dict(stored)
    if "copies" not in entry:
        entry["copies"] = [_copy_id(a) for a in entry.pop("articles", [])][-caps.MAX_COPY_IDS :]
    return entry


def fit_state(group_state: dict[str, Any]) -> dict[str, Any]:
    """Keep a group's state (one table value) under `caps.MAX_STATE_BYTES`, in place.

    Only the newest `MAX_ARTICLES` stories keep their details (first article, first evidence
    sentence): no alert lists more. Story counts, copies and scores are never cut by this; only
    if the state is still too big (it is not, with the caps in `caps`: ~350 KB at most) the
    oldest stories' details and then the oldest stories go.
    """
    entries: list[dict[str, Any]] = group_state.get("entries", [])
    for e in entries[:-MAX_ARTICLES]:
        e.pop("article", None)
        e.pop("evidence", None)
    detailed = max(0, len(entries) - MAX_ARTICLES)
    while len(orjson.dumps(group_state)) > caps.MAX_STATE_BYTES and entries:
        if detailed < len(entries) - 1:
            entries[detailed].pop("article", None)
            entries[detailed].pop("evidence", None)
            detailed += 1
        else:
            del entries[0]
            detailed = max(0, detailed - 1)
    return group_state


class Engine:
    """Applies one contribution at a time to the state of its group."""

    def __init__(self, rules: RuleSet, state: State) -> None:
        self.rules = rules
        self.state = state

    def process(self, c: Contribution, now: datetime, silences: Iterable[Silence] = ()) -> Outcome:
        """Decide and store the group's new state at once (see `decide` to store it later)."""
        outcome, new_state = self.decide(c, now, silences)
        if new_state is not None:
            self.state[c.group.key] = new_state
        return outcome

    def decide(
        self, c: Contribution, now: datetime, silences: Iterable[Silence] = ()
    ) -> tuple[Outcome, dict[str, Any] | None]:
        """The outcome and the group's new state (None: unchanged), without writing the state.

        The service writes the state only after the alert is acknowledged by Kafka: a crash in
        between re-raises the same alert (same id) on redelivery instead of losing it.
        """
        rule = self.rules.by_name.get(c.rule)
        if rule is None:  # the rules file changed since this contribution was routed
            return Outcome(), None
        group_state = dict(self.state.get(c.group.key) or {})
        entries = [_entry(e) for e in group_state.get("entries", [])]
        copy_id = _copy_id(c.article.id)
        if any(copy_id in e["copies"] for e in entries):
            return Outcome(suppressed=DUPLICATE), None  # a redelivery of an article already counted
        story_entry = next((e for e in entries if e["story"] == c.story), None)
        if story_entry is not None:
            story_entry["copies"] = [*story_entry["copies"], copy_id][-caps.MAX_COPY_IDS :]
            story_entry["sources"] += 1
            story_entry["kinds"] = sorted(set(story_entry["kinds"]) | set(c.group.kinds))
        else:
            entries.append(
                {
                    "story": c.story,
                    "at": _iso(c.at),
                    "copies": [copy_id],
                    "sources": 1,
                    "article": c.article.model_dump(mode="json"),
                    # only the first sentence is ever listed in a window or spike alert
                    "evidence": [e.model_dump(mode="json") for e in c.evidence[:1]],
                    "kinds": [k.value for k in c.group.kinds],
                    "score": c.score,
                }
            )
        watermark = max([_at(e["at"]) for e in entries])
        horizon = self._horizon(rule)
        entries = [e for e in entries if _at(e["at"]) >= watermark - horizon]
        entries.sort(key=lambda e: (e["at"], e["story"]))
        group_state["entries"] = entries[-MAX_ENTRIES:]
        fit_state(group_state)

        if isinstance(rule, ArticleRule):
            if story_entry is not None:
                outcome = Outcome(suppressed=DUPLICATE)  # a copy of a story already alerted on
            else:
                alert = self.rules.article_alert(c, now)
                outcome = self._gate(group_state, rule.repeat_interval, alert, c, silences)
        elif isinstance(rule, WindowRule):
            outcome = self._window(
                rule, group_state, c, watermark=watermark, now=now, silences=silences
            )
        else:
            outcome = self._spike(
                rule, group_state, c, watermark=watermark, now=now, silences=silences
            )
        return outcome, group_state

    @staticmethod
    def _horizon(rule: ArticleRule | WindowRule | SpikeRule) -> timedelta:
        if isinstance(rule, WindowRule):
            return rule.window
        if isinstance(rule, SpikeRule):
            return rule.window + rule.baseline
        return max(rule.repeat_interval, timedelta(hours=1))

    def _gate(
        self,
        group_state: dict[str, Any],
        repeat: timedelta,
        alert: Alert,
        c: Contribution,
        silences: Iterable[Silence],
    ) -> Outcome:
        """Silences first, then the repeat interval (unless severity rises); record a firing."""
        if any(s.silences(c.rule, alert.group, c.at) for s in silences):
            return Outcome(suppressed=SILENCED)
        last = group_state.get("last")
        if last is not None:
            if last["id"] == alert.id:
                return Outcome(suppressed=DUPLICATE)
            rises = alert.severity.rank > Severity(last["severity"]).rank
            if c.at - _at(last["at"]) < repeat and not rises:
                return Outcome(suppressed=THROTTLED)
        group_state["last"] = {"at": _iso(c.at), "severity": alert.severity.value, "id": alert.id}
        return Outcome(alert=alert)

    def _bucket_id(
        self, kind: str, rule: WindowRule | SpikeRule, c: Contribution, severity: Severity
    ) -> str:
        seconds = rule.repeat_interval.total_seconds()
        bucket = int(c.at.timestamp() // seconds) if seconds > 0 else c.story
        return stable_hash(kind, rule.name, c.group.key, bucket, severity.value)

    def _collect(
        self, c: Contribution, entries: list[dict[str, Any]]
    ) -> tuple[AlertGroup, list[AlertArticle], list[Evidence], float, int]:
        kinds = sorted(
            {SignalKind(k) for e in entries for k in e["kinds"]}, key=list(SignalKind).index
        )
        group = c.group.model_copy(update={"kinds": kinds})
        articles = [
            AlertArticle.model_validate({**e["article"], "duplicates": e["sources"] - 1})
            for e in entries[-MAX_ARTICLES:]
            if "article" in e
        ]
        evidence = [Evidence.model_validate(e["evidence"][0]) for e in entries if e.get("evidence")]
        score = max(float(e["score"]) for e in entries)
        sources = sum(int(e["sources"]) for e in entries)
        return group, articles, evidence[-MAX_EVIDENCE:], score, sources

    def _window(
        self,
        rule: WindowRule,
        group_state: dict[str, Any],
        c: Contribution,
        *,
        watermark: datetime,
        now: datetime,
        silences: Iterable[Silence],
    ) -> Outcome:
        current = [e for e in group_state["entries"] if _at(e["at"]) >= watermark - rule.window]
        stories = len(current)
        group, articles, evidence, score, sources = self._collect(c, current)
        if stories < rule.min_stories or sources < rule.min_sources:
            return Outcome()
        severity = rule.severity_for(score, stories, sources)
        what = f"{pair_phrase(group)}: {kinds_phrase(group.kinds)}"
        summary = f"{what} reported by {sources} source{'s' if sources != 1 else ''}"
        summary += f" in {format_duration(rule.window)}"
        if sources != stories:
            summary += f" ({stories} stor{'ies' if stories != 1 else 'y'})"
        alert = Alert(
            id=self._bucket_id("window", rule, c, severity),
            rule=rule.name,
            severity=severity,
            title=what,
            summary=summary,
            group=group,
            articles=articles,
            evidence=evidence,
            score=score,
            first_seen=_at(current[0]["at"]),
            last_seen=_at(current[-1]["at"]),
            count=stories,
            created_at=now,
        )
        return self._gate(group_state, rule.repeat_interval, alert, c, silences)

    def _spike(
        self,
        rule: SpikeRule,
        group_state: dict[str, Any],
        c: Contribution,
        *,
        watermark: datetime,
        now: datetime,
        silences: Iterable[Silence],
    ) -> Outcome:
        entries = group_state["entries"]
        start = watermark - rule.window
        current = [e for e in entries if _at(e["at"]) > start]
        before = [e for e in entries if start - rule.baseline < _at(e["at"]) <= start]
        per_window = len(before) * (rule.window / rule.baseline)
        threshold = rule.factor * max(per_window, rule.min_baseline)
        count = len(current)
        if count < rule.min_count or count < threshold:
            return Outcome()
        group, articles, evidence, score, sources = self._collect(c, current)
        severity = rule.severity_for(score, count, sources)
        ratio = count / max(per_window, rule.min_baseline)
        window = format_duration(rule.window)
        what = f"{pair_phrase(group)}: {kinds_phrase(group.kinds)}"
        summary = (
            f"{what}: {count} stories in {window}, {ratio:.1f}x the "
            f"{format_duration(rule.baseline)} baseline of {per_window:.1f} per {window}"
        )
        alert = Alert(
            id=self._bucket_id("spike", rule, c, severity),
            rule=rule.name,
            severity=severity,
            title=f"{what} spike",
            summary=summary,
            group=group,
            articles=articles,
            evidence=evidence,
            score=score,
            first_seen=_at(current[0]["at"]),
            last_seen=_at(current[-1]["at"]),
            count=count,
            created_at=now,
        )
        return self._gate(group_state, rule.repeat_interval, alert, c, silences)
