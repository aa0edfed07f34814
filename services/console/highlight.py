"""Evidence in the article text: which character ranges to mark, as plain segments.

Pure functions over schema objects. The template renders each `Segment` escaped (Jinja2
autoescape), so marking never builds HTML from article text.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from shared.schemas import EnrichedArticle, Evidence, Signal


@dataclass(frozen=True, slots=True)
class Mark:
    start: int
    end: int
    css: str  # "evidence" (a sentence an alert cites), "cue", "cue negated", ...
    label: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    css: str  # space-separated classes of every mark covering it; "" = plain text
    label: str = ""


def article_text(enriched: EnrichedArticle) -> str:
    """The text signal offsets index: title, a blank line, body (see README, "Decisions")."""
    return enriched.article.title + "\n\n" + enriched.article.body


def locate(text: str, start: int, end: int, phrase: str, near: str = "") -> tuple[int, int] | None:
    """``(start, end)`` when ``text[start:end] == phrase``; else where ``phrase`` occurs inside
    the sentence ``near`` (or anywhere); None when it does not occur."""
    if 0 <= start < end <= len(text) and text[start:end] == phrase:
        return start, end
    base = text.find(near) if near else -1
    if base >= 0:
        i = text.find(phrase, base, base + len(near))
        if i >= 0:
            return i, i + len(phrase)
    i = text.find(phrase) if phrase else -1
    return (i, i + len(phrase)) if i >= 0 else None


def signal_label(s: Signal) -> str:
    why = [
        w
        for w, on in (
            ("negated", s.negated),
            ("hedged", s.hedged),
            ("demanded", s.demanded),
            ("historical", s.historical),
        )
        if on
    ]
    pair = f"{s.actor.name if s.actor else '?'} → {s.target.name if s.target else '?'}"
    return f"{s.kind.value} ({s.cameo}/{s.plover}) {pair}" + (f" [{', '.join(why)}]" if why else "")


def marks_for(
    enriched: EnrichedArticle, evidence: list[Evidence] | None = None
) -> tuple[str, list[Mark]]:
    """The article text and its marks: every signal's cue, and the sentences of ``evidence``
    (or of every signal when no evidence is given)."""
    text = article_text(enriched)
    marks: list[Mark] = []
    sentences = [(e.sentence, e.cue, e.start, e.end) for e in evidence or []]
    for s in enriched.signals:
        off = s.negated or s.historical
        where = locate(text, s.start, s.end, s.cue, s.sentence)
        if where is not None:
            marks.append(Mark(*where, "cue negated" if off else "cue", signal_label(s)))
        if evidence is None:
            sentences.append((s.sentence, s.cue, s.sentence_start, s.sentence_end))
    for sentence, _cue, start, end in sentences:
        found = locate(text, start, end, sentence) or locate(text, -1, -1, sentence)
        if found is not None:
            marks.append(Mark(*found, "evidence"))
    for e in evidence or []:  # an evidence cue the article's signals did not list
        where = locate(text, e.start, e.end, e.cue, e.sentence)
        if where is not None and not any(m.start == where[0] and "cue" in m.css for m in marks):
            marks.append(Mark(*where, "cue", e.kind.value))
    return text, marks


def segments(text: str, marks: list[Mark]) -> list[Segment]:
    """``text`` cut at every mark boundary; each piece carries the classes of the marks over it."""
    points = {0, len(text)}
    for m in marks:
        points.update((max(0, m.start), min(len(text), m.end)))
    cuts = sorted(points)
    out: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        if a >= b:
            continue
        over = [m for m in marks if m.start <= a and b <= m.end]
        css = " ".join(sorted({c for m in over for c in m.css.split()}))
        label = "; ".join(m.label for m in over if m.label)
        out.append(Segment(text[a:b], css, label))
    return out
