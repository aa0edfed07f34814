"""Alert rules: the YAML file users edit, and per-article evaluation (pure: no Kafka, no clock).

`load_rules(path)` reads and validates a rules file (None: the default set shipped beside this
module, ``rules.yaml``); a malformed file raises `RulesError` naming the file and line.
`RuleSet.contributions(enriched)` turns one enriched article into what each rule takes from it,
one `Contribution` per (rule, group); `RuleSet.evaluate_article(enriched)` applies the
per-article rules and returns their alerts (what ``brink analyze`` shows). Windows, spikes,
repeat intervals and silences need state and live in `services.alerting.engine`.

Which signals count: not negated and not historical; hedged/hypothetical ones only when a rule
says ``include_hedged``, demanded ("called for sanctions") only with ``include_demanded`` (or a
rule lists the ``modalities`` it takes). Event time is the article's ``published_at`` (when not
later than ``received_at``), else ``received_at``: never the wall clock, so replays are exact.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from services.alerting import caps
from shared.schemas import (
    Alert,
    AlertArticle,
    AlertGroup,
    EnrichedArticle,
    Evidence,
    Modality,
    Party,
    Severity,
    Signal,
    SignalKind,
    UtcDatetime,
)

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
ESCALATION_KINDS = tuple(k for k in SignalKind if k is not SignalKind.DEESCALATION)
MAX_EVIDENCE = 5  # evidence sentences kept per article (and per alert)
UNKNOWN = "unknown"


class RulesError(ValueError):
    """A rules file Brink cannot use; the message names the file and line."""


# --------------------------------------------------------------------------- durations
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"30m"``, ``"6h"``, ``"7d"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 30m, 6h, 7d, 1w)")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


# --------------------------------------------------------------------------- rule models
class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PartyFilter(_Strict):
    """A watch-list test over names or codes (case-insensitive); ``@name`` expands a watch-list."""

    any: list[str] = Field(default_factory=list, description="At least one must be present.")
    all: list[str] = Field(default_factory=list, description="Every one must be present.")
    none: list[str] = Field(default_factory=list, description="None may be present.")

    def accepts(self, present: set[str]) -> bool:
        def has(name: str) -> bool:
            return name.casefold() in present

        if self.any and not any(has(n) for n in self.any):
            return False
        if self.all and not all(has(n) for n in self.all):
            return False
        return not any(has(n) for n in self.none)


class Escalate(_Strict):
    """Raise the rule's severity when every given condition holds."""

    severity: Severity
    min_score: float | None = None
    min_stories: int | None = None
    min_sources: int | None = None


GroupField = Literal["actor", "target", "kind"]
_PAIR: tuple[GroupField, ...] = ("actor", "target")


class _RuleBase(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    kinds: list[SignalKind] = Field(
        default_factory=list, description="Signal kinds that count; empty: every escalation kind."
    )
    min_score: float = Field(0.0, description="Minimum article escalation score.")
    include_hedged: bool = False
    include_demanded: bool = False
    modalities: list[Modality] | None = Field(
        None, description="Exactly these modalities count (overrides the include_* switches)."
    )
    actors: PartyFilter | None = None
    targets: PartyFilter | None = None
    entities: PartyFilter | None = None
    severity: Severity = Severity.WARNING
    escalate: list[Escalate] = Field(default_factory=list)
    group_by: list[GroupField] = Field(default_factory=lambda: list(_PAIR))
    repeat_interval: Duration = timedelta(hours=6)
    require_pair: bool | None = Field(
        None, description="Skip signals without actor or target (default: on for window/spike)."
    )

    @property
    def needs_pair(self) -> bool:
        if self.require_pair is not None:
            return self.require_pair
        return not isinstance(self, ArticleRule)

    def counts(self, signal: Signal) -> bool:
        """Whether a signal is evidence for this rule (kind and modality)."""
        kinds = self.kinds or ESCALATION_KINDS
        if signal.kind not in kinds:
            return False
        if self.modalities is not None:
            return _modality(signal) in self.modalities
        if signal.negated or signal.historical:
            return False
        if signal.modality in (Modality.NEGATED, Modality.HISTORICAL):
            return False
        if (signal.hedged or signal.modality is Modality.HYPOTHETICAL) and not self.include_hedged:
            return False
        return not (
            (signal.demanded or signal.modality is Modality.DEMANDED) and not self.include_demanded
        )

    def severity_for(self, score: float, stories: int, sources: int) -> Severity:
        best = self.severity
        for step in self.escalate:
            if step.min_score is not None and score < step.min_score:
                continue
            if step.min_stories is not None and stories < step.min_stories:
                continue
            if step.min_sources is not None and sources < step.min_sources:
                continue
            if step.severity.rank > best.rank:
                best = step.severity
        return best


class ArticleRule(_RuleBase):
    """One alert per article (per group) whose counting signals pass the filters."""

    type: Literal["article"] = "article"


class WindowRule(_RuleBase):
    """At least ``min_stories`` distinct stories (and ``min_sources`` copies) within ``window``."""

    type: Literal["window"]
    window: Duration = timedelta(hours=6)
    min_stories: int = Field(3, ge=1)
    min_sources: int = Field(1, ge=1)


class SpikeRule(_RuleBase):
    """Stories in ``window`` at least ``factor`` times the pair's average over ``baseline``."""

    type: Literal["spike"]
    window: Duration = timedelta(hours=24)
    baseline: Duration = timedelta(days=7)
    factor: float = Field(3.0, gt=0)
    min_count: int = Field(3, ge=1)
    min_baseline: float = Field(
        1.0, ge=0, description="Baseline floor, so a quiet pair needs min_count."
    )

    @model_validator(mode="after")
    def _baseline_longer(self) -> SpikeRule:
        if self.baseline <= self.window:
            raise ValueError("baseline must be longer than window")
        return self


def _rule_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "article"))
    return str(getattr(value, "type", "article"))


Rule = Annotated[
    Annotated[ArticleRule, Tag("article")]
    | Annotated[WindowRule, Tag("window")]
    | Annotated[SpikeRule, Tag("spike")],
    Discriminator(
        _rule_type,
        custom_error_type="rule_type",
        custom_error_message="type must be one of: article, window, spike",
    ),
]


class SilenceMatch(_Strict):
    group: str | None = Field(None, description="An alert group key (Alert.group.key).")
    rule: str | None = None
    actor: str | None = None
    target: str | None = None
    kind: SignalKind | None = None


class Silence(_Strict):
    """Suppress matching alerts whose event time falls in [starts_at, ends_at)."""

    id: str = ""
    match: SilenceMatch
    starts_at: UtcDatetime = datetime(1970, 1, 1, tzinfo=UTC)
    ends_at: UtcDatetime
    comment: str = ""
    created_by: str = ""

    def silences(self, rule: str, group: AlertGroup, at: datetime) -> bool:
        if not self.starts_at <= at < self.ends_at:
            return False
        m = self.match
        if m.group is not None and m.group != group.key:
            return False
        if m.rule is not None and m.rule != rule:
            return False
        if m.actor is not None and m.actor.casefold() not in {a.casefold() for a in group.actors}:
            return False
        if m.target is not None and m.target.casefold() not in {
            t.casefold() for t in group.targets
        }:
            return False
        return m.kind is None or m.kind in group.kinds


class RulesFile(_Strict):
    watchlists: dict[str, list[str]] = Field(default_factory=dict)
    rules: list[Rule]
    silences: list[Silence] = Field(default_factory=list)


# --------------------------------------------------------------------------- contributions
class Contribution(_Strict):
    """What one rule takes from one article for one group: the unit the engine keeps in state.

    Travels on the alerting app's internal topic keyed by ``group.key``.
    """

    schema_: Literal["brink.alerting.contribution/1"] = Field(
        "brink.alerting.contribution/1", alias="schema"
    )
    rule: str
    group: AlertGroup
    story: str = Field(description="Id of the first copy of the story (Article.duplicate.of).")
    duplicate: bool
    article: AlertArticle
    evidence: list[Evidence]
    score: float
    at: UtcDatetime = Field(description="Event time (published_at, else received_at).")
    received_at: UtcDatetime
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def event_time(enriched: EnrichedArticle) -> datetime:
    a = enriched.article
    if a.published_at is not None and a.published_at <= a.received_at:
        return a.published_at
    return a.received_at


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(at: datetime, length: timedelta) -> datetime:
    """Start of the UTC-epoch-aligned bucket of ``length`` that holds ``at`` (``at`` itself
    when ``length`` is zero): the same for every article in it, whatever order they come in."""
    if length <= timedelta(0):
        return at
    return at - (at - _EPOCH) % length


def count_period(rule: ArticleRule | WindowRule | SpikeRule) -> timedelta:
    """The aligned buckets stories are counted in: the window (the repeat interval for
    per-article rules, whose "count" is one story)."""
    if isinstance(rule, WindowRule | SpikeRule):
        return rule.window
    return rule.repeat_interval


def alert_period(rule: ArticleRule | WindowRule | SpikeRule) -> timedelta:
    """The aligned buckets a group alerts at most once in (per severity): the repeat interval,
    or the window when that is longer."""
    return max(count_period(rule), rule.repeat_interval)


def lookback(rule: ArticleRule | WindowRule | SpikeRule) -> timedelta:
    """How far before a counting bucket the rule looks: a spike rule's baseline."""
    return rule.baseline if isinstance(rule, SpikeRule) else timedelta(0)


DEFAULT_LATENESS = timedelta(days=7)  # Kafka's default retention: a replay's whole backlog


def lateness(rule: ArticleRule | WindowRule | SpikeRule, allowed: timedelta) -> timedelta:
    """How far behind the newest article of its group an article may be and still count
    exactly: ``allowed`` (BRINK_ALERTING_ALLOWED_LATENESS), at least one alert bucket."""
    return max(alert_period(rule), allowed)


def idle_after(rule: ArticleRule | WindowRule | SpikeRule) -> timedelta:
    """How long a group can go unused (wall clock) before it is evicted: its alert bucket,
    counting bucket and lookback. In live operation an article that arrives later than that
    starts the group afresh (a repeated alert has the same id); a replay runs far faster than
    the wall clock, so the allowed lateness still applies to it in full."""
    return alert_period(rule) + count_period(rule) + lookback(rule)


def article_alert_id(rule: str, group: str, bucket: datetime, severity: Severity) -> str:
    return stable_hash("article", rule, group, bucket.isoformat(), severity.value)


def stable_hash(*parts: object, size: int = 32) -> str:
    data = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.sha256(data).hexdigest()[:size]


def group_key(rule: str, values: Sequence[str]) -> str:
    return stable_hash(rule, *values, size=16)


def _names(party: Party | None) -> set[str]:
    if party is None:
        return set()
    return {n.casefold() for n in (party.name, party.code, party.mention) if n}


def _name(party: Party) -> str:
    return caps.clip(party.name, caps.MAX_NAME_CHARS)


def _sentence(signal: Signal) -> str:
    """The signal's sentence, cut around its cue when too long (``start``/``end`` stay the
    cue's offsets into the article, so they are not changed by the cut)."""
    cue_at = signal.start - signal.sentence_start
    return caps.clip_around(
        signal.sentence, cue_at, cue_at + (signal.end - signal.start), caps.MAX_SENTENCE_CHARS
    )


def _modality(signal: Signal) -> Modality:
    if signal.negated:
        return Modality.NEGATED
    if signal.historical:
        return Modality.HISTORICAL
    return signal.modality


def kinds_phrase(kinds: Iterable[SignalKind]) -> str:
    return ", ".join(k.value.replace("_", " ") for k in kinds) or "escalation"


def pair_phrase(group: AlertGroup) -> str:
    actors = ", ".join(group.actors) or UNKNOWN
    targets = ", ".join(group.targets) or UNKNOWN
    return f"{actors} → {targets}"


# --------------------------------------------------------------------------- rule set
class RuleSet:
    """Validated rules plus the file's watch-lists and silences."""

    def __init__(self, spec: RulesFile, source: str = "<rules>") -> None:
        self.spec = spec
        self.source = source
        self.rules = list(spec.rules)
        self.by_name = {r.name: r for r in self.rules}
        self.silences = list(spec.silences)

    def __repr__(self) -> str:
        return f"RuleSet({self.source!r}, rules={list(self.by_name)})"

    def contributions(self, enriched: EnrichedArticle) -> list[Contribution]:
        """One per (rule, group) this article gives evidence to; empty when none passes."""
        if enriched.status != "ok" or not enriched.signals:
            return []
        article = enriched.article
        at = event_time(enriched)
        caps.check_id(article.id, "article id")
        story = article.duplicate.of if article.duplicate is not None else article.id
        caps.check_id(story, "story id (duplicate.of)")
        # `entities` filters see the whole article: its entities and every signal's parties.
        entity_names = {e.text.casefold() for e in enriched.entities} | {
            e.code.casefold() for e in enriched.entities if e.code
        }
        for s in enriched.signals:
            entity_names |= _names(s.actor) | _names(s.target)
        alert_article = AlertArticle(
            id=article.id,
            title=caps.clip(article.title, caps.MAX_TITLE_CHARS),
            url=caps.clip_optional(article.url, caps.MAX_URL_CHARS),
            source=caps.clip_optional(article.source, caps.MAX_SOURCE_CHARS),
            published_at=article.published_at,
            received_at=article.received_at,
        )
        out: list[Contribution] = []
        for rule in self.rules:
            if enriched.score < rule.min_score:
                continue
            counted = [s for s in enriched.signals if rule.counts(s)]
            groups: dict[tuple[str, ...], list[_Resolved]] = {}
            for r in _resolve_pairs(counted, enriched.signals):
                if rule.needs_pair and (r.actor is None or r.target is None):
                    continue
                values = tuple(r.value(f) for f in rule.group_by)
                groups.setdefault(values, []).append(r)
            for values, members in groups.items():
                signals = [m.signal for m in members]
                actors = sorted({_name(m.actor) for m in members if m.actor})
                targets = sorted({_name(m.target) for m in members if m.target})
                if rule.actors and not rule.actors.accepts(
                    set().union(*(_names(m.actor) for m in members))
                ):
                    continue
                if rule.targets and not rule.targets.accepts(
                    set().union(*(_names(m.target) for m in members))
                ):
                    continue
                if rule.entities and not rule.entities.accepts(entity_names):
                    continue
                group = AlertGroup(
                    key=group_key(rule.name, values),
                    actors=actors[: caps.MAX_PARTIES],
                    targets=targets[: caps.MAX_PARTIES],
                    kinds=sorted({s.kind for s in signals}, key=list(SignalKind).index),
                )
                evidence = [
                    Evidence(
                        article_id=article.id,
                        kind=s.kind,
                        cue=caps.clip(s.cue, caps.MAX_CUE_CHARS),
                        sentence=_sentence(s),
                        start=s.start,
                        end=s.end,
                        actor=_name(s.actor) if s.actor else None,
                        target=_name(s.target) if s.target else None,
                        modality=_modality(s),
                        actor_code=s.actor.code if s.actor else None,
                        target_code=s.target.code if s.target else None,
                        cameo=s.cameo,
                        plover=s.plover,
                    )
                    for s in signals[:MAX_EVIDENCE]
                ]
                out.append(
                    Contribution(
                        rule=rule.name,
                        group=group,
                        story=story,
                        duplicate=article.duplicate is not None,
                        article=alert_article,
                        evidence=evidence,
                        score=enriched.score,
                        at=at,
                        received_at=article.received_at,
                    )
                )
        return out

    def article_alert(self, c: Contribution, created_at: datetime) -> Alert:
        """The alert a per-article rule raises for one contribution.

        Its id hashes rule, group, severity and the aligned repeat-interval bucket of the
        article's time (the story itself when the interval is 0): the stories of a group in
        one bucket share it, so which of them arrives first does not change the ids raised.
        """
        rule = self.by_name[c.rule]
        severity = rule.severity_for(c.score, 1, 1)
        source = c.article.source or "1 source"
        if rule.repeat_interval > timedelta(0):
            alert_id = article_alert_id(
                c.rule, c.group.key, bucket_start(c.at, alert_period(rule)), severity
            )
        else:
            alert_id = stable_hash("article", c.rule, c.group.key, c.story, severity.value)
        return Alert(
            id=alert_id,
            rule=c.rule,
            severity=severity,
            title=f"{pair_phrase(c.group)}: {kinds_phrase(c.group.kinds)}",
            summary=f"{pair_phrase(c.group)}: {kinds_phrase(c.group.kinds)} reported by {source}",
            group=c.group,
            articles=[c.article],
            evidence=c.evidence,
            score=c.score,
            first_seen=c.at,
            last_seen=c.at,
            count=1,
            created_at=created_at,
        )

    def evaluate_article(
        self, enriched: EnrichedArticle, now: datetime | None = None
    ) -> list[Alert]:
        """Alerts the per-article rules raise for one article (no state: no throttling).

        ``now`` becomes ``created_at``; by default the article's ``enriched_at``, so the result
        depends on the input only.
        """
        created = now or enriched.enriched_at
        return [
            self.article_alert(c, created)
            for c in self.contributions(enriched)
            if isinstance(self.by_name[c.rule], ArticleRule)
        ]


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A counting signal with the actor/target pair it is grouped under."""

    signal: Signal
    actor: Party | None
    target: Party | None

    def value(self, field: str) -> str:
        if field == "actor":
            return _name(self.actor) if self.actor else UNKNOWN
        if field == "target":
            return _name(self.target) if self.target else UNKNOWN
        return self.signal.kind.value


def _resolve_pairs(signals: Sequence[Signal], context: Sequence[Signal]) -> list[_Resolved]:
    """Give a signal that lacks its actor or target the article's most frequent full pair that
    agrees with what it has ("Russia massed troops" beside "Russia ... Ukraine's border"), so one
    article does not split into "Russia → Ukraine" and "Russia → unknown" groups. The pairs come
    from all of the article's signals (``context``), whatever their kind or modality."""
    counts: Counter[tuple[str, str]] = Counter()
    parties: dict[tuple[str, str], tuple[Party, Party]] = {}
    for s in context:
        if s.actor is not None and s.target is not None:
            pair = (s.actor.name, s.target.name)
            counts[pair] += 1
            parties.setdefault(pair, (s.actor, s.target))
    ranked = sorted(counts, key=lambda p: (-counts[p], p))
    out: list[_Resolved] = []
    for s in signals:
        actor, target = s.actor, s.target
        if actor is None or target is None:
            for pair in ranked:
                if (actor is None or actor.name == pair[0]) and (
                    target is None or target.name == pair[1]
                ):
                    actor, target = parties[pair]
                    break
        out.append(_Resolved(s, actor, target))
    return out


# --------------------------------------------------------------------------- loading
def _node_lines(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _node_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, (*path, i), lines)


def _line_of(loc: Sequence[Any], lines: dict[tuple[Any, ...], int]) -> int:
    path: tuple[Any, ...] = ()
    for part in loc:  # discriminated unions add the tag ("window") to loc: skip unknown parts
        if (*path, part) in lines:
            path = (*path, part)
    return lines.get(path, 1)


def _expand_watchlists(data: dict[str, Any], where: str, lines: dict[tuple[Any, ...], int]) -> None:
    lists = data.get("watchlists") or {}
    if not isinstance(lists, dict):
        return
    for i, rule in enumerate(data.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        for fname in ("actors", "targets", "entities"):
            filt = rule.get(fname)
            if not isinstance(filt, dict):
                continue
            for op, items in filt.items():
                if not isinstance(items, list):
                    continue
                expanded: list[Any] = []
                for item in items:
                    if isinstance(item, str) and item.startswith("@"):
                        if item[1:] not in lists:
                            line = _line_of(("rules", i, fname, op), lines)
                            raise RulesError(
                                f"{where}: line {line}: rules[{i}].{fname}.{op}: "
                                f"unknown watch-list {item!r} (defined: {sorted(lists)})"
                            )
                        expanded.extend(lists[item[1:]])
                    else:
                        expanded.append(item)
                filt[op] = expanded


_TAGS = ("article", "window", "spike")


def parse_rules(text: str, source: str = "<rules>") -> RuleSet:
    """Parse and validate rules YAML; `RulesError` names the line of the first problem."""
    lines: dict[tuple[Any, ...], int] = {}
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{source}: line {line}: not valid YAML: {problem}") from None
    if node is None or not isinstance(data, dict):
        raise RulesError(f"{source}: line 1: expected a mapping with a 'rules:' list")
    _node_lines(node, (), lines)
    _expand_watchlists(data, source, lines)
    try:
        spec = RulesFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        loc = err["loc"]
        shown = [p for i, p in enumerate(loc) if not (i == 2 and p in _TAGS)]
        where = ".".join(str(p) for p in shown) or "(file)"
        raise RulesError(
            f"{source}: line {_line_of(loc, lines)}: {where}: {err['msg']}"
            + (f" ({len(exc.errors())} problems in all)" if len(exc.errors()) > 1 else "")
        ) from None
    seen: dict[str, int] = {}
    for i, rule in enumerate(spec.rules):
        if rule.name in seen:
            raise RulesError(
                f"{source}: line {_line_of(('rules', i, 'name'), lines)}: rule name "
                f"{rule.name!r} is used twice (first as rules[{seen[rule.name]}])"
            )
        seen[rule.name] = i
    return RuleSet(spec, source)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load a rules file (None: the documented default set, ``services/alerting/rules.yaml``)."""
    p = Path(path) if path is not None else DEFAULT_RULES
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{p}: cannot read rules file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{p}: rules file is not UTF-8: {exc.reason}") from None
    return parse_rules(text, str(p))
