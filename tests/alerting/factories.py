"""EnrichedArticle builders for alerting tests (the enrichment service is not needed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from shared.schemas import (
    Article,
    Duplicate,
    DuplicateKind,
    EnrichedArticle,
    Entity,
    Modality,
    ModelInfo,
    Party,
    Signal,
    SignalKind,
)

T0 = datetime(2021, 4, 13, 8, 0, tzinfo=UTC)
CODES = {"Russia": "RUS", "Ukraine": "UKR", "NATO": "NATO", "Poland": "POL", "China": "CHN"}


def party(name: str) -> Party:
    kind = "organisation" if name == "NATO" else "country"
    return Party(name=name, code=CODES.get(name), type=kind, mention=name)


def signal(
    kind: SignalKind = SignalKind.MILITARY_BUILDUP,
    actor: str | None = "Russia",
    target: str | None = "Ukraine",
    *,
    modality: Modality = Modality.ASSERTED,
    sentence: str = "Russia has massed troops near its border with Ukraine.",
    cue: str = "massed troops",
) -> Signal:
    start = sentence.find(cue) if cue in sentence else 0
    return Signal(
        kind=kind,
        cue=cue,
        sentence=sentence,
        start=start,
        end=start + len(cue),
        sentence_start=0,
        sentence_end=len(sentence),
        modality=modality,
        negated=modality is Modality.NEGATED,
        hedged=modality is Modality.HYPOTHETICAL,
        demanded=modality is Modality.DEMANDED,
        historical=modality is Modality.HISTORICAL,
        actor=party(actor) if actor else None,
        target=party(target) if target else None,
        weight=-7.0,
        cameo="15",
        plover="MOBILIZE",
    )


def enriched(
    article_id: str,
    signals: list[Signal] | None = None,
    *,
    at: datetime = T0,
    duplicate_of: str | None = None,
    source: str = "Wire A",
    score: float = 5.0,
    received_delay: timedelta = timedelta(minutes=1),
    entities: list[Entity] | None = None,
) -> EnrichedArticle:
    sigs = [signal()] if signals is None else signals
    return EnrichedArticle(
        article=Article(
            id=article_id,
            title=f"Story {article_id}",
            body=" ".join(s.sentence for s in sigs) or "Nothing happened.",
            url=f"https://news.example.com/{article_id}",
            source=source,
            published_at=at,
            received_at=at + received_delay,
            content_hash=hashlib.sha256(article_id.encode()).hexdigest(),
            duplicate=(
                Duplicate(of=duplicate_of, kind=DuplicateKind.NEAR, similarity=0.9)
                if duplicate_of
                else None
            ),
        ),
        entities=entities or [],
        signals=sigs,
        score=score if sigs else 0.0,
        escalation=bool(sigs),
        model=ModelInfo(name="test", version="0"),
        enriched_at=at + received_delay + timedelta(seconds=1),
    )
