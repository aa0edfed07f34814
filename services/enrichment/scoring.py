"""The article's escalation score and verdict, from its signals (pure, no spaCy).

Each signal contributes its kind's Goldstein weight (sign flipped: conflict counts up),
scaled by how the article presents it: done or happening counts fully; demanded or called for
counts as pressure (a threatened step); hedged (could, would, if, plans) counts 0.35 (one hedged act alone stays under the threshold); negated,
historical and figurative uses count nothing. Within a kind the strongest signal counts fully
and each further one a quarter (repetition is evidence, not a new event), up to three more.
De-escalation that happened (withdrawal, ceasefire, sanctions lifted) subtracts the same way;
a call to de-escalate subtracts nothing, a possible one ("may lift") 0.35. The verdict is ``score >= THRESHOLD``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from shared.schemas import Modality, Signal, SignalKind

THRESHOLD = 4.0
MULTIPLIER = {
    Modality.ASSERTED: 1.0,
    Modality.DEMANDED: 0.6,
    Modality.HYPOTHETICAL: 0.35,  # one hedged sanction or build-up alone stays under THRESHOLD
    Modality.NEGATED: 0.0,
    Modality.HISTORICAL: 0.0,
}
EXTRA_WEIGHT = 0.25
# Kinds whose demand is itself pressure between states ("called for sanctions").
PRESSURE_KINDS = frozenset(
    {SignalKind.SANCTIONS, SignalKind.EMBARGO, SignalKind.DIPLOMATIC_EXPULSION}
)
# Kinds that announce what may come: their conditionals and modals are the threat, not a hedge.
FUTURE_KINDS = frozenset({"threat", "ultimatum"})
MAX_EXTRA = 3


# An asserted clash, threat or ultimatum makes a de-escalation in its sentence its background
# ("shelling resumed hours after the truce") or its demand ("pull back or face ...").
_OVERRIDE_TRUCE = frozenset({SignalKind.ARMED_CLASH, SignalKind.THREAT, SignalKind.ULTIMATUM})


def modality(*, negated: bool, hedged: bool, demanded: bool, historical: bool) -> Modality:
    """The one modality that decides how a signal counts (negation wins, then history, ...)."""
    if negated:
        return Modality.NEGATED
    if historical:
        return Modality.HISTORICAL
    if demanded:
        return Modality.DEMANDED
    if hedged:
        return Modality.HYPOTHETICAL
    return Modality.ASSERTED


def contribution(signal: Signal) -> float:
    """How much one signal moves the score (negative for de-escalation). A call for sanctions,
    an embargo or an expulsion is pressure (a threatened step); a call for force ("MPs backed
    the invasion") or for a deployment counts like a hedged act."""
    mult = MULTIPLIER[signal.modality]
    if signal.modality == Modality.DEMANDED and signal.kind not in PRESSURE_KINDS:
        mult = MULTIPLIER[Modality.HYPOTHETICAL]
    if signal.kind == SignalKind.DEESCALATION and signal.modality == Modality.DEMANDED:
        return 0.0
    return -signal.weight * mult


def score(signals: Iterable[Signal]) -> float:
    """Per kind the strongest contribution plus a quarter of up to three more. A truce in a
    sentence that reports an asserted clash ("shelling resumed hours after the truce") is
    the clash's background, not a de-escalation, and subtracts nothing."""
    signals = list(signals)
    fighting = {
        s.sentence_start
        for s in signals
        if s.kind in _OVERRIDE_TRUCE and s.modality == Modality.ASSERTED
    }
    by_kind: dict[SignalKind, list[float]] = defaultdict(list)
    cues: set[tuple[SignalKind, int, int]] = set()
    for s in signals:
        if s.kind == SignalKind.DEESCALATION and s.sentence_start in fighting:
            continue
        if (s.kind, s.start, s.end) in cues:
            continue  # one cue with several actors ("A, B and C cut links") counts once
        cues.add((s.kind, s.start, s.end))
        c = contribution(s)
        if c:
            by_kind[s.kind].append(c)
    total = 0.0
    for values in by_kind.values():
        values.sort(key=abs, reverse=True)
        total += values[0] + EXTRA_WEIGHT * sum(values[1 : 1 + MAX_EXTRA])
    return round(max(0.0, total), 2)


def verdict(value: float, signals: Iterable[Signal] = ()) -> bool:
    """Escalation: the score reaches `THRESHOLD` and at least one escalation signal is reported
    as done, happening or demanded (guesses alone, "an invasion would begin with missile
    strikes and a blockade", however many, are speculation)."""
    signals = list(signals)
    if signals and not any(
        contribution(s) > 0 and s.modality in (Modality.ASSERTED, Modality.DEMANDED)
        for s in signals
    ):
        return False
    return value >= THRESHOLD
