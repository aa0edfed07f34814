"""Kafka topic names: the only place they are spelled.

A deployment (or a test) may put all of Brink's topics under a prefix so several pipelines
share one cluster; `Topics(prefix)` gives the full names.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW = "articles.raw"
ARTICLES = "articles"
ENRICHED = "articles.enriched"
ALERTS = "alerts"
DEADLETTER = "articles.deadletter"
SILENCES = "alerts.silences"  # compacted control topic: alert silences, keyed by silence id
FEEDBACK = (
    "alerts.feedback"  # compacted: analysts' acknowledgement / false alarm, keyed by alert id
)


@dataclass(frozen=True, slots=True)
class Topics:
    """Full topic names for one pipeline, with an optional prefix (e.g. ``"test-1a2b."``)."""

    prefix: str = ""

    @property
    def raw(self) -> str:
        return self.prefix + RAW

    @property
    def articles(self) -> str:
        return self.prefix + ARTICLES

    @property
    def enriched(self) -> str:
        return self.prefix + ENRICHED

    @property
    def alerts(self) -> str:
        return self.prefix + ALERTS

    @property
    def deadletter(self) -> str:
        return self.prefix + DEADLETTER

    @property
    def silences(self) -> str:
        return self.prefix + SILENCES

    @property
    def feedback(self) -> str:
        return self.prefix + FEEDBACK

    def all(self) -> tuple[str, ...]:
        return (self.raw, self.articles, self.enriched, self.alerts, self.deadletter, self.silences)
