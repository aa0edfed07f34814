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
    DEFAULT_LATENESS,
    MAX_EVIDENCE,
    ArticleRule,
    Contribution,
    RuleSet,
    Silence,
    SpikeRule,
    WindowRule,
    alert_period,
    bucket_start,
    count_period,
    format_duration,
    idle_after,
    kinds_phrase,
    lateness,
    lookback,
    pair_phrase,
    stable_hash,
)
from shared.schemas import Alert, AlertArticle, AlertGroup, Evidence, SignalKind

State = MutableMapping[str, dict[str, Any]]

THROTTLED = "throttled"
SILENCED = "silenced"
DUPLICATE = "duplicate"
LATE = "late"
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
    if the state is still too big (with the caps in `caps`, 500 stories take 255 KB in ASCII,
    580 KB when every character is a 6-byte JSON escape) the oldest stories' details and then
    the oldest stories go.
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

    def __init__(
        self, rules: RuleSet, state: State, allowed_lateness: timedelta = DEFAULT_LATENESS
    ) -> None:
        self.rules = rules
        self.state = state
        self.allowed_lateness = allowed_lateness

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
        between re-raises the same alert (same id) on redelivery instead of losing it. ``now``
        (wall clock) only becomes ``created_at`` and the group's ``touched`` time (for idle
        eviction); every decision uses article time.
        """
        rule = self.rules.by_name.get(c.rule)
        if rule is None:  # the rules file changed since this contribution was routed
            return Outcome(), None
        group_state = dict(self.state.get(c.group.key) or {})
        group_state.pop("last", None)  # written before firings were kept per bucket
        entries = [_entry(e) for e in group_state.get("entries", [])]
        fired: list[dict[str, Any]] = [dict(f) for f in group_state.get("fired", [])]
        copy_id = _copy_id(c.article.id)
        if any(copy_id in e["copies"] for e in entries):
            return Outcome(suppressed=DUPLICATE), None  # a redelivery of an article already counted
        seen = [_at(e["at"]) for e in entries]
        if "watermark" in group_state:
            seen.append(_at(group_state["watermark"]))
        watermark = max([*seen, c.at])
        period = count_period(rule)
        # Buckets from `cutoff` on are complete in the state: an article older than that is
        # late (its bucket's stories may be gone) and is not counted.
        cutoff = bucket_start(watermark - lateness(rule, self.allowed_lateness), period)
        if c.at < cutoff:
            return Outcome(suppressed=LATE), None
        story_entry = next((e for e in entries if e["story"] == c.story), None)
        new_story = story_entry is None
        if story_entry is not None:
            story_entry["copies"] = [*story_entry["copies"], copy_id][-caps.MAX_COPY_IDS :]
            story_entry["sources"] += 1
            story_entry["kinds"] = sorted(set(story_entry["kinds"]) | set(c.group.kinds))
            # a story's time is its earliest copy's, whichever copy came first
            story_entry["at"] = _iso(min(_at(story_entry["at"]), c.at))
        else:
            story_entry = {
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
            entries.append(story_entry)
        keep_from = cutoff - lookback(rule)
        entries = [e for e in entries if _at(e["at"]) >= keep_from]
        entries.sort(key=lambda e: (e["at"], e["story"]))
        fired = [f for f in fired if _at(f["bucket"]) >= keep_from - alert_period(rule)]
        group_state["entries"] = entries[-MAX_ENTRIES:]
        group_state["fired"] = fired
        group_state["watermark"] = _iso(watermark)
        group_state["touched"] = now.timestamp()
        group_state["keep"] = idle_after(rule).total_seconds()
        fit_state(group_state)

        if isinstance(rule, ArticleRule):
            if not new_story:
                outcome = Outcome(suppressed=DUPLICATE)  # a copy of a story already counted
            else:
                alert = self.rules.article_alert(c, now)
                outcome = self._gate(group_state, alert, c, silences)
        else:
            outcome = self._windowed(
                rule, group_state, c, story_at=_at(story_entry["at"]), now=now, silences=silences
            )
        return outcome, group_state

    def _gate(
        self,
        group_state: dict[str, Any],
        alert: Alert,
        c: Contribution,
        silences: Iterable[Silence],
    ) -> Outcome:
        """Silences first, then one alert per id (group, aligned bucket, severity).

        A silence applies when the article's time falls in its range (a replay silences what it
        silenced before) *or* when the alert is raised while it is in force (``created_at``,
        processing time: "silenced from now on", whatever the article's date). Ids do not
        depend on either, only whether the alert is raised."""
        if any(
            s.silences(c.rule, alert.group, c.at)
            or s.silences(c.rule, alert.group, alert.created_at)
            for s in silences
        ):
            return Outcome(suppressed=SILENCED)
        if any(f["id"] == alert.id for f in group_state["fired"]):
            return Outcome(suppressed=THROTTLED)
        rule = self.rules.by_name[c.rule]
        bucket = bucket_start(alert.first_seen, alert_period(rule))
        group_state["fired"].append(
            {"id": alert.id, "bucket": _iso(bucket), "severity": alert.severity.value}
        )
        return Outcome(alert=alert)

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

    def _windowed(
        self,
        rule: ArticleRule | WindowRule | SpikeRule,
        group_state: dict[str, Any],
        c: Contribution,
        *,
        story_at: datetime,
        now: datetime,
        silences: Iterable[Silence],
    ) -> Outcome:
        """Count the stories of the aligned window bucket the story falls in (a spike rule also
        the baseline before it) and alert once per alert bucket and severity."""
        period = count_period(rule)
        start = bucket_start(story_at, period)
        entries = group_state["entries"]
        current = [e for e in entries if start <= _at(e["at"]) < start + period]
        if not current:
            return Outcome()
        group, articles, evidence, score, sources = self._collect(c, current)
        stories = len(current)
        what = f"{pair_phrase(group)}: {kinds_phrase(group.kinds)}"
        window = format_duration(period)
        if isinstance(rule, WindowRule):
            if stories < rule.min_stories or sources < rule.min_sources:
                return Outcome()
            kind, title = "window", what
            summary = f"{what} reported by {sources} source{'s' if sources != 1 else ''}"
            summary += f" in {window}"
            if sources != stories:
                summary += f" ({stories} stor{'ies' if stories != 1 else 'y'})"
        elif isinstance(rule, SpikeRule):
            before = [e for e in entries if start - rule.baseline <= _at(e["at"]) < start]
            per_window = len(before) * (rule.window / rule.baseline)
            threshold = rule.factor * max(per_window, rule.min_baseline)
            if stories < rule.min_count or stories < threshold:
                return Outcome()
            ratio = stories / max(per_window, rule.min_baseline)
            kind, title = "spike", f"{what} spike"
            summary = (
                f"{what}: {stories} stories in {window}, {ratio:.1f}x the "
                f"{format_duration(rule.baseline)} baseline of {per_window:.1f} per {window}"
            )
        else:  # pragma: no cover - per-article rules do not come here
            return Outcome()
        severity = rule.severity_for(score, stories, sources)
        bucket = bucket_start(start, alert_period(rule))
        alert = Alert(
            id=stable_hash(kind, rule.name, c.group.key, _iso(bucket), severity.value),
            rule=rule.name,
            severity=severity,
            title=title,
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
        return self._gate(group_state, alert, c, silences)
