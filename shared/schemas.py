"""The message contract: one typed, frozen model per topic, each payload versioned.

A breaking change gets a new ``schema`` value (``brink.article/2``), never a silent edit.
Field descriptions become the published JSON Schemas in ``schemas/`` (see ``shared.jsonschema``).
All timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

ARTICLE_SCHEMA: Final = "brink.article/1"
ENRICHED_SCHEMA: Final = "brink.enriched/1"
ALERT_SCHEMA: Final = "brink.alert/1"
DEADLETTER_SCHEMA: Final = "brink.deadletter/1"
FEEDBACK_SCHEMA: Final = "brink.feedback/1"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


# --------------------------------------------------------------------------- raw input
class RawArticle(_Frozen):
    """What publishers send to ``articles.raw`` as a JSON object (plain UTF-8 text is also accepted).

    ``text`` or ``body`` is required. Unknown top-level fields are refused (dead-lettered) so a
    typo such as ``"titel"`` is caught; put free-form extras under ``meta``.
    """

    text: str | None = Field(None, description="Article body (plain text or HTML). Alias: body.")
    body: str | None = Field(None, description="Article body; used when text is absent.")
    title: str | None = Field(None, description="Headline.")
    url: str | None = Field(None, description="Canonical or original URL of the article.")
    source: str | None = Field(None, description="Publisher or feed name, e.g. 'Reuters'.")
    published_at: str | int | float | None = Field(
        None, description="Publication time: ISO 8601, RFC 2822, or Unix seconds."
    )
    language: str | None = Field(None, description="ISO 639-1 code if known; detected otherwise.")
    id: str | None = Field(None, description="Publisher's own id, kept in Article.external_id.")
    meta: dict[str, Any] | None = Field(
        None, description="Free-form publisher metadata, passed on."
    )

    @model_validator(mode="after")
    def _has_body(self) -> RawArticle:
        if self.text is None and self.body is None:
            raise ValueError("a raw article needs a 'text' or 'body' field")
        return self

    @property
    def content(self) -> str:
        return self.text if self.text is not None else (self.body or "")


# --------------------------------------------------------------------------- article
class DuplicateKind(StrEnum):
    EXACT = "exact"
    NEAR = "near"


class Duplicate(_Frozen):
    """Marks an article as a later copy of a story already seen."""

    of: str = Field(description="Id of the first copy of the story.")
    kind: DuplicateKind = Field(description="exact: same id or content hash; near: MinHash match.")
    similarity: float = Field(
        ge=0, le=1, description="Estimated Jaccard similarity to the first copy."
    )


class Article(_Frozen):
    """A validated, normalised article on topic ``articles``, keyed by ``id``."""

    schema_: Literal["brink.article/1"] = Field(ARTICLE_SCHEMA, alias="schema")
    id: str = Field(description="Stable id: from the canonical URL when present, else the content.")
    title: str = Field("", description="Headline (may be empty).")
    body: str = Field(description="Plain-text body, Unicode NFC, whitespace normalised.")
    url: str | None = Field(None, description="Canonical URL (tracking parameters removed).")
    source: str | None = Field(None, description="Publisher or feed name.")
    published_at: UtcDatetime | None = Field(None, description="Publication time, UTC.")
    received_at: UtcDatetime = Field(description="When ingest received it, UTC.")
    language: str = Field("und", description="ISO 639-1 language code; 'und' when unknown.")
    content_hash: str = Field(description="SHA-256 of the normalised title and body.")
    duplicate: Duplicate | None = Field(
        None, description="Set when this is a later copy of a story."
    )
    external_id: str | None = Field(None, description="The publisher's own id, if given.")
    meta: dict[str, Any] | None = Field(None, description="Publisher metadata passed through.")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- enrichment
class SignalKind(StrEnum):
    MILITARY_BUILDUP = "military_buildup"
    MOBILIZATION = "mobilization"
    SANCTIONS = "sanctions"
    EMBARGO = "embargo"
    THREAT = "threat"
    ULTIMATUM = "ultimatum"
    DIPLOMATIC_EXPULSION = "diplomatic_expulsion"
    ARMED_CLASH = "armed_clash"
    DEESCALATION = "deescalation"


class Modality(StrEnum):
    """How the sentence presents the event."""

    ASSERTED = "asserted"  # reported as happening or done
    NEGATED = "negated"  # "has no plans to deploy troops", "denied"
    HYPOTHETICAL = "hypothetical"  # "could face sanctions", conditional, future
    DEMANDED = "demanded"  # "called for sanctions", "must deescalate"
    HISTORICAL = "historical"  # "since the 2014 annexation"


class Party(_Frozen):
    """An actor or target resolved to a country or organisation."""

    name: str = Field(description="Canonical name, e.g. 'Russia'.")
    code: str | None = Field(
        None, description="ISO 3166 alpha-3 for countries, or an org code (NATO)."
    )
    type: Literal["country", "organisation", "armed_group", "person", "other"] = "country"
    mention: str | None = Field(None, description="The text in the article that named it.")


class Entity(_Frozen):
    text: str
    label: str = Field(description="spaCy label (GPE, ORG, NORP, PERSON, ...) or GAZETTEER.")
    start: int = Field(ge=0, description="Character offset into title + '\\n\\n' + body.")
    end: int = Field(ge=0)
    code: str | None = Field(None, description="Country/organisation code when resolved.")


class Signal(_Frozen):
    """One piece of escalation (or de-escalation) evidence in an article."""

    kind: SignalKind
    cue: str = Field(description="The phrase that matched, as written.")
    sentence: str = Field(description="The sentence that carries the signal.")
    start: int = Field(ge=0, description="Cue start, char offset into title + '\\n\\n' + body.")
    end: int = Field(ge=0, description="Cue end (exclusive).")
    sentence_start: int = Field(ge=0)
    sentence_end: int = Field(ge=0)
    modality: Modality = Modality.ASSERTED
    negated: bool = False
    hedged: bool = Field(False, description="Hypothetical, conditional or future.")
    demanded: bool = Field(False, description="Called for or demanded, not (yet) done.")
    historical: bool = False
    actor: Party | None = None
    target: Party | None = None
    weight: float = Field(
        description="Goldstein-style weight, -10 (conflict) .. +10 (cooperation)."
    )
    cameo: str = Field(description="CAMEO event code of the kind.")
    plover: str = Field(description="PLOVER event type of the kind.")


class ModelInfo(_Frozen):
    name: str
    version: str


class EnrichedArticle(_Frozen):
    """An article with its signals and verdict, on topic ``articles.enriched``, keyed by article id."""

    schema_: Literal["brink.enriched/1"] = Field(ENRICHED_SCHEMA, alias="schema")
    article: Article
    entities: list[Entity] = Field(default_factory=list)
    signals: list[Signal] = Field(default_factory=list)
    score: float = Field(description="Escalation score, 0 (none) and up; de-escalation lowers it.")
    escalation: bool = Field(description="Article-level verdict by the rubric in DESIGN.md.")
    status: Literal["ok", "skipped_language", "empty"] = "ok"
    genre: str | None = Field(
        None,
        description=(
            "Document genre by Brink's genre model (politics, business, sport, entertainment, "
            "tech); in a confidently sport, entertainment or tech article escalation signals "
            "are set aside, in business ones armed and threat signals (docs/enrichment.md)."
        ),
    )
    genre_probability: float | None = Field(None, description="The genre model's probability.")
    model: ModelInfo
    enriched_at: UtcDatetime

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- alerts
class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return ("info", "warning", "critical").index(self.value)


class AlertGroup(_Frozen):
    key: str = Field(description="Stable group key (hash of the rule's group_by values).")
    actors: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    kinds: list[SignalKind] = Field(default_factory=list)


class AlertArticle(_Frozen):
    id: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: UtcDatetime | None = None
    received_at: UtcDatetime
    duplicates: int = Field(0, description="Extra copies of this story from other sources.")


class Evidence(_Frozen):
    article_id: str
    kind: SignalKind
    cue: str
    sentence: str
    start: int
    end: int
    actor: str | None = None
    target: str | None = None
    modality: Modality = Modality.ASSERTED
    actor_code: str | None = Field(None, description="The actor's ISO alpha-3 or org code.")
    target_code: str | None = Field(None, description="The target's ISO alpha-3 or org code.")
    cameo: str | None = Field(None, description="CAMEO event code of the signal's kind.")
    plover: str | None = Field(None, description="PLOVER event type of the signal's kind.")


class Alert(_Frozen):
    """An alert on topic ``alerts``, keyed by ``group.key``."""

    schema_: Literal["brink.alert/1"] = Field(ALERT_SCHEMA, alias="schema")
    id: str = Field(description="Deterministic: the same inputs always give the same id.")
    rule: str
    severity: Severity
    title: str
    summary: str = Field(description="One line a person can read.")
    group: AlertGroup
    articles: list[AlertArticle]
    evidence: list[Evidence]
    score: float
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    count: int = Field(ge=1, description="Distinct stories behind the alert.")
    created_at: UtcDatetime

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- dead letters
class DeadLetter(_Frozen):
    """How a dead letter is described (``brink dlq``, HTTP error bodies, logs).

    On the wire, ``articles.deadletter`` carries the original key, value and headers unchanged,
    plus ``brink.dlq.*`` headers holding these fields (see ``shared.deadletter``).
    """

    schema_: Literal["brink.deadletter/1"] = Field(DEADLETTER_SCHEMA, alias="schema")
    stage: Literal["ingest", "enrichment", "alerting", "http", "publish"]
    reason: str = Field(description="Machine-readable reason, e.g. malformed_json, invalid_utf8.")
    detail: str = Field(description="Human-readable explanation.")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    at: UtcDatetime

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- feedback
class Feedback(_Frozen):
    """What analysts said about one alert, on the compacted topic ``alerts.feedback``, keyed by
    ``alert_id``. Each record is the alert's whole current feedback (compaction keeps the last),
    written by the console; a tombstone clears it."""

    schema_: Literal["brink.feedback/1"] = Field(FEEDBACK_SCHEMA, alias="schema")
    alert_id: str = Field(description="The alert's id (Alert.id).")
    group_key: str | None = Field(None, description="The alert's group key, for filtering.")
    rule: str | None = Field(None, description="The alert's rule, for per-rule precision.")
    acknowledged: bool = Field(False, description="Someone has seen it and is on it.")
    acknowledged_by: str | None = None
    acknowledged_at: UtcDatetime | None = None
    false_alarm: bool = Field(False, description="Judged not escalation (rule tuning input).")
    comment: str = Field("", max_length=2000, description="Why, in the analyst's words.")
    by: str = Field("", max_length=200, description="Who wrote this record last.")
    at: UtcDatetime = Field(description="When this record was written, UTC.")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


TOPIC_MODELS: dict[str, type[BaseModel]] = {
    "articles.raw": RawArticle,
    "articles": Article,
    "articles.enriched": EnrichedArticle,
    "alerts": Alert,
    "articles.deadletter": DeadLetter,
    "alerts.feedback": Feedback,
}
