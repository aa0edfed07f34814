"""Why an article did or did not alert: its signals with their negation/hedge/genre reasons, and
for every rule whether it matched and why not. Pure functions over schema objects and the rules.
"""

from __future__ import annotations

from typing import Any

from services.alerting.rules import (
    ESCALATION_KINDS,
    ArticleRule,
    RuleSet,
    SpikeRule,
    WindowRule,
    _modality,
)
from shared.schemas import EnrichedArticle, Signal


def signal_reasons(s: Signal, genre: str | None) -> list[str]:
    """What keeps a signal from counting as asserted escalation, in words."""
    out = []
    if s.negated:
        out.append("negated (e.g. 'no plans to', 'denied')")
    if s.historical:
        out.append("historical (a past event, not a new step)")
    if s.hedged:
        out.append("hedged or hypothetical ('could', 'if', future)")
    if s.demanded:
        out.append("demanded or called for, not done")
    if s.kind.value == "deescalation":
        out.append("de-escalation: lowers the score")
    if genre in ("sport", "entertainment", "tech"):
        out.append(f"article genre '{genre}': escalation signals set aside")
    return out


def _why_not_counted(rule: Any, s: Signal) -> str:
    kinds = rule.kinds or ESCALATION_KINDS
    if s.kind not in kinds:
        return f"{s.kind.value} is not one of the rule's kinds"
    if rule.modalities is not None:
        return f"modality {_modality(s).value} is not one of {[m.value for m in rule.modalities]}"
    if s.negated or s.historical:
        return "negated or historical"
    if s.hedged and not rule.include_hedged:
        return "hedged (rule lacks include_hedged)"
    if s.demanded and not rule.include_demanded:
        return "demanded (rule lacks include_demanded)"
    return "does not count"


def explain(rules: RuleSet, enriched: EnrichedArticle) -> dict[str, Any]:
    """The explain document ``POST /api/explain`` answers with."""
    contributions = rules.contributions(enriched)
    by_rule: dict[str, list[Any]] = {}
    for c in contributions:
        by_rule.setdefault(c.rule, []).append(c)
    signals = [
        {
            **s.model_dump(mode="json"),
            "reasons": signal_reasons(s, enriched.genre),
            "counts_for": [r.name for r in rules.rules if r.counts(s)],
        }
        for s in enriched.signals
    ]
    verdicts = []
    for rule in rules.rules:
        kind = (
            "window"
            if isinstance(rule, WindowRule)
            else "spike"
            if isinstance(rule, SpikeRule)
            else "article"
        )
        entry: dict[str, Any] = {"rule": rule.name, "type": kind, "matched": False, "why": []}
        mine = by_rule.get(rule.name, [])
        if enriched.status != "ok":
            entry["why"].append(f"article not analysed ({enriched.status})")
        elif not enriched.signals:
            entry["why"].append("no escalation signal in the article")
        elif enriched.score < rule.min_score:
            entry["why"].append(f"score {enriched.score:g} below min_score {rule.min_score:g}")
        elif mine:
            entry["matched"] = True
            groups = ", ".join(
                f"{'/'.join(c.group.actors) or '?'} → {'/'.join(c.group.targets) or '?'}"
                for c in mine
            )
            entry["why"].append(f"counting signals for {groups}")
            if not isinstance(rule, ArticleRule):
                entry["why"].append(
                    "contributes to a window: an alert needs "
                    + (
                        f"{rule.min_stories} stories in {rule.window}"
                        if isinstance(rule, WindowRule)
                        else f"a spike x{rule.factor} over the baseline"
                    )
                )
            entry["groups"] = [c.group.model_dump(mode="json") for c in mine]
        else:
            counted = [s for s in enriched.signals if rule.counts(s)]
            if not counted:
                entry["why"] += sorted(
                    {
                        f"{s.kind.value} '{s.cue}': {_why_not_counted(rule, s)}"
                        for s in enriched.signals
                    }
                )
            elif rule.needs_pair and not any(s.actor and s.target for s in counted):
                entry["why"].append("counting signals lack an actor and a target (require_pair)")
            else:
                entry["why"].append(
                    "the rule's actor/target/entity filters did not accept the parties"
                )
        verdicts.append(entry)
    alerts = [a.model_dump(mode="json", by_alias=True) for a in rules.evaluate_article(enriched)]
    return {
        "article": enriched.article.model_dump(mode="json", by_alias=True),
        "score": enriched.score,
        "escalation": enriched.escalation,
        "genre": enriched.genre,
        "genre_probability": enriched.genre_probability,
        "status": enriched.status,
        "signals": signals,
        "rules": verdicts,
        "alerts": alerts,
    }
