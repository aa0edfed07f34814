"""Bounds on what enrichment reads and what it writes, so no article can stall or sink it.

Pure functions over strings and schema objects (no Kafka, no spaCy):

- `analysable`: a LENGTH-PRESERVING rewrite of the article text before the tokenizer sees
  it. spaCy's tokenizer is quadratic on a long run without spaces (8,000 ``&`` in a title:
  7.8 s; 16,000: 29.8 s); every `NO_SPACE_RUN` characters inside such a run one character
  becomes a space. Lines with no sentence end longer than `MAX_SENTENCE_CHARS` get a line
  break in place of a space, so no "sentence" handed to the parser is unbounded. Lengths are
  unchanged, so every span stays a valid offset into ``title + "\\n\\n" + body``.
- `cap`: at most `MAX_SIGNALS` signals, `MAX_ENTITIES` entities, evidence sentences cut to
  `MAX_EVIDENCE_CHARS` around their cue and entity texts to `MAX_ENTITY_CHARS`, spans kept
  valid. The score and verdict are those of the whole article (computed before the cap).
- `fit`: encode an EnrichedArticle within `shared.limits.MAX_RECORD_BYTES`, halving the
  longer of signals/entities while it is over; raises `LimitError` (``too_large``) when the
  article alone does not fit.
"""

from __future__ import annotations

import re

from services.enrichment.scoring import contribution
from shared import codec
from shared.limits import MAX_RECORD_BYTES, check_record_size
from shared.schemas import EnrichedArticle, Entity, Signal

# Reading: one character in every NO_SPACE_RUN of a run without whitespace becomes a space.
# No English word or URL path segment a pattern could match is this long; the tokenizer's
# prefix/suffix/infix search is quadratic in the length of such a run.
NO_SPACE_RUN = 64
# Reading: a line with no ".", "!", "?" for this many characters gets a line break (at a
# space) so the parser never sees a sentence longer than about this. News sentences are
# far shorter (the corpus' longest is under 1,500 characters).
MAX_SENTENCE_CHARS = 2_000

# Reading: characters of ``title + "\n\n" + body`` analysed per article (the service passes
# it to the Enricher). The corpus' longest article is 25,426 characters; a 100,000-character
# article of nothing but escalation sentences takes about 5 s of spaCy on one core.
MAX_ANALYSED_CHARS = 100_000

# Writing: what one EnrichedArticle carries besides its article.
MAX_SIGNALS = 100
MAX_ENTITIES = 300
MAX_EVIDENCE_CHARS = 600  # a signal's sentence, cut around its cue
MAX_ENTITY_CHARS = 200  # an entity longer than this is noise (a run of names glued together)

_LONG_RUN = re.compile(rf"\S{{{NO_SPACE_RUN + 1},}}")
_LONG_SENTENCE = re.compile(rf"[^.!?\n]{{{MAX_SENTENCE_CHARS + 1},}}")


def analysable(text: str) -> str:
    """``text`` with pathological runs split; the same length, the same offsets."""
    if _LONG_RUN.search(text) is not None:
        text = _LONG_RUN.sub(_split_run, text)
    return _break_long_sentences(text)


def _split_run(match: re.Match[str]) -> str:
    run = list(match.group())
    for i in range(NO_SPACE_RUN, len(run), NO_SPACE_RUN + 1):
        run[i] = " "
    return "".join(run)


def _break_long_sentences(text: str) -> str:
    """Replace a space by a line break every `MAX_SENTENCE_CHARS` characters of a stretch
    without a sentence end (after `_split_run` every long stretch has spaces)."""
    if _LONG_SENTENCE.search(text) is None:
        return text
    return _LONG_SENTENCE.sub(_break_stretch, text)


def _break_stretch(match: re.Match[str]) -> str:
    chars = list(match.group())
    start = 0
    while len(chars) - start > MAX_SENTENCE_CHARS:
        cut = start + MAX_SENTENCE_CHARS
        while cut > start and not chars[cut].isspace():
            cut -= 1
        if cut == start:
            break  # no space to break at (cannot happen after _split_run)
        chars[cut] = "\n"
        start = cut + 1
    return "".join(chars)


def _evidence(signal: Signal) -> Signal:
    """The signal with its sentence cut to `MAX_EVIDENCE_CHARS` around its cue."""
    length = signal.sentence_end - signal.sentence_start
    if length <= MAX_EVIDENCE_CHARS and len(signal.sentence) <= MAX_EVIDENCE_CHARS:
        return signal
    cue_len = max(0, signal.end - signal.start)
    room = max(0, MAX_EVIDENCE_CHARS - cue_len)
    start = max(signal.sentence_start, signal.start - room // 2)
    end = min(signal.sentence_end, max(signal.end, start + MAX_EVIDENCE_CHARS))
    offset = start - signal.sentence_start
    return signal.model_copy(
        update={
            "sentence": signal.sentence[offset : offset + (end - start)],
            "sentence_start": start,
            "sentence_end": end,
        }
    )


def _entity(entity: Entity) -> Entity:
    if len(entity.text) <= MAX_ENTITY_CHARS:
        return entity
    return entity.model_copy(
        update={
            "text": entity.text[:MAX_ENTITY_CHARS],
            "end": entity.start + MAX_ENTITY_CHARS,
        }
    )


def cap(result: EnrichedArticle) -> EnrichedArticle:
    """``result`` within the caps above (the same object when it already is)."""
    signals, entities = result.signals, result.entities
    if len(signals) > MAX_SIGNALS:
        # keep the ones that weigh most in the score, then restore article order
        strongest = sorted(signals, key=lambda s: -abs(contribution(s)))[:MAX_SIGNALS]
        signals = sorted(strongest, key=lambda s: (s.start, s.end, s.kind))
    if len(entities) > MAX_ENTITIES:
        resolved = sorted(entities, key=lambda e: (e.code is None, e.start))[:MAX_ENTITIES]
        entities = sorted(resolved, key=lambda e: (e.start, e.end))
    capped_signals = [_evidence(s) for s in signals]
    capped_entities = [_entity(e) for e in entities]
    if capped_signals == result.signals and capped_entities == result.entities:
        return result
    return result.model_copy(update={"signals": capped_signals, "entities": capped_entities})


def fit(result: EnrichedArticle, limit: int = MAX_RECORD_BYTES) -> tuple[bytes, EnrichedArticle]:
    """The encoded record of ``cap(result)``, within ``limit`` bytes, and what was encoded.

    Raises `shared.limits.LimitError` (``too_large``) when even the article alone is over
    ``limit``, and orjson's ``JSONEncodeError`` (a TypeError) when it cannot be encoded.
    """
    result = cap(result)
    data = codec.encode(result)
    while len(data) > limit and (result.signals or result.entities):
        signals, entities = result.signals, result.entities
        if len(signals) >= len(entities):
            signals = signals[: len(signals) // 2]
        else:
            entities = entities[: len(entities) // 2]
        result = result.model_copy(update={"signals": signals, "entities": entities})
        data = codec.encode(result)
    check_record_size(data, limit=limit, what="enriched article")
    return data, result
