"""What the sentence around a cue does to it, read from the dependency parse.

- negation: a ``neg`` child or a "no"/"never" determiner on the cue or on the words that govern
  it inside its clause, "without", a denial verb ("denied it was planning war") or a stopping
  verb ("ending six weeks of fighting"). Negations are counted, so a double negation
  ("has not denied the troop buildup") affirms.
- hedged: modal auxiliaries, conditionals ("if"), plans and possibilities, future.
- demanded: "called for sanctions", "urged", "must de-escalate" (a demand, not the act).
- historical: the cue sits in a "since ..." phrase, or is dated by a year before the article's.
- actor/target: heads of the noun phrases that did it (subject, possessor, demonym) and that it
  was done to (object, "against"/"on"/"to"/... phrases).

Plain functions over spaCy tokens; the spaCy component in ``components`` calls `annotate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Token

if TYPE_CHECKING:
    from services.enrichment.components import Hit

# Dependency labels that begin a clause of their own: negation does not cross them.
CLAUSE_TOPS = frozenset({"ROOT", "ccomp", "advcl", "relcl", "conj", "parataxis", "csubj"})
TARGET_PREPS = frozenset(
    {"against", "on", "to", "toward", "towards", "near", "at", "along", "into", "with", "upon"}
)
SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj"})
PRONOUNS = frozenset({"it", "they", "we", "he", "she", "i", "you", "which", "that", "who"})


def _year(tok: Token) -> int | None:
    text = tok.text.strip("'\u2019s")
    if len(text) == 4 and text.isdigit() and 1900 <= int(text) <= 2100:
        return int(text)
    return None


def _year_of(tok: Token) -> int | None:
    """A year dating ``tok``: "the 2014 annexation", "attacked in 2014", "in March 1986"."""
    for child in tok.children:
        if child.dep_ in ("nummod", "compound", "npadvmod", "amod", "nmod") and _year(child):
            return _year(child)
        if child.dep_ == "prep" and child.lower_ in ("in", "during"):
            for pobj in child.children:
                if _year(pobj):
                    return _year(pobj)
                for sub in pobj.children:
                    if _year(sub):
                        return _year(sub)
    return None


def clause_path(tok: Token) -> list[Token]:
    """``tok`` and the words governing it up to the top of its clause (inclusive)."""
    path = [tok]
    while path[-1].dep_ not in CLAUSE_TOPS and path[-1].head.i != path[-1].i:
        path.append(path[-1].head)
    return path


def _is_call_for(tok: Token, words: Mapping[str, frozenset[str]]) -> bool:
    return tok.lemma_ == "call" and any(
        c.dep_ in ("prep", "prt") and c.lower_ in words["demand_call_preps"] for c in tok.children
    )


def annotate(hit: Hit, doc: Doc, words: Mapping[str, frozenset[str]]) -> None:
    """Set modality flags, year and actor/target heads on ``hit``."""
    head = doc[hit.head]
    cue = set(range(hit.start, hit.end))
    path = clause_path(head)
    flips = 0
    for t in path:
        own = t.i in cue
        for c in t.children:
            if c.dep_ == "neg" or (c.dep_ == "det" and c.lower_ in words["negation_dets"]):
                flips += 1
            elif c.dep_ in ("aux", "auxpass"):
                if c.lower_ in words["demand_modals"]:
                    hit.demanded = True
                elif c.lower_ in words["hedge_modals"]:
                    hit.hedged = True
            elif c.dep_ == "mark" and c.lower_ in words["hedge_marks"]:
                hit.hedged = True
        if own:
            continue
        lemma = t.lemma_.lower()
        if lemma in words["denial"] or lemma in words["stop"]:
            flips += 1
        if t.lower_ == "without":
            flips += 1
        if lemma in words["demand"] or _is_call_for(t, words):
            hit.demanded = True
        if lemma in words["hedge_words"]:
            hit.hedged = True
        if t.lower_ in words["history_preps"]:
            hit.historical = True
    # one step across the clause boundary: "denied (that) ...", "called on X to ...", "if ..."
    top = path[-1]
    gov = top.head
    if top.dep_ in ("ccomp", "xcomp", "advcl", "acl") and gov.i != top.i:
        glemma = gov.lemma_.lower()
        if glemma in words["denial"]:
            flips += 1 + sum(1 for c in gov.children if c.dep_ == "neg")
        if glemma in words["demand"] or _is_call_for(gov, words):
            hit.demanded = True
        if glemma in words["hedge_words"]:
            hit.hedged = True
    while gov.dep_ == "conj" and gov.head.i != gov.i:
        gov = gov.head
    if top.dep_ == "conj" and gov.i != top.i:  # "must end ... and deescalate": shared modal
        for c in gov.children:
            if c.dep_ == "aux" and c.lower_ in words["demand_modals"]:
                hit.demanded = True
            elif c.dep_ == "aux" and c.lower_ in words["hedge_modals"]:
                hit.hedged = True
    hit.negated = flips % 2 == 1
    for t in [*(doc[i] for i in sorted(cue)), *path]:
        year = _year_of(t)
        if year is not None:
            hit.year = year
            break
    hit.actors, hit.targets = actor_target(hit, doc)


def _np_ok(tok: Token) -> bool:
    return tok.lower_ not in PRONOUNS and tok.pos_ in ("PROPN", "NOUN", "ADJ", "NUM")


def actor_target(hit: Hit, doc: Doc) -> tuple[list[int], list[int]]:
    """Candidate heads (token indices, best first) of the actor's and the target's phrases.

    The caller keeps the first candidate that resolves to a country or organisation.
    """
    head = doc[hit.head]
    cue = range(hit.start, hit.end)
    owners = [
        c.i
        for i in cue
        for c in doc[i].children
        if c.dep_ in ("poss", "amod", "compound", "nmod") and c.pos_ in ("PROPN", "ADJ")
    ]
    expulsion = hit.kind == "diplomatic_expulsion"
    actors: list[int] = [] if expulsion else list(owners)
    targets: list[int] = list(owners) if expulsion else []
    # the doer: subject (or passive agent) of the governing verbs, nearest first
    t = head
    for _ in range(10):
        if t.pos_ in ("VERB", "AUX"):
            for c in t.children:
                if c.dep_ == "agent":
                    actors += [g.i for g in c.children if _np_ok(g)]
                elif c.dep_ == "nsubj" and _np_ok(c):
                    actors.append(c.i)
        if t.head.i == t.i:
            break
        t = t.head
    # the receiver: target prepositions on the cue words or the verb that governs them
    holders = [doc[i] for i in cue]
    if head.head.pos_ == "VERB" and head.dep_ in ("dobj", "nsubjpass", "pobj"):
        holders.append(head.head)
    for h in holders:
        for c in h.children:
            if c.dep_ == "prep" and (
                c.lower_ in TARGET_PREPS or (expulsion and c.lower_ in ("from", "in"))
            ):
                targets += [g.i for g in c.children if g.dep_ == "pobj" and _np_ok(g)]
            elif (
                c.dep_ in ("dobj", "nsubjpass", "dative")
                and c.i not in cue
                and _np_ok(c)
                and hit.kind not in ("military_buildup", "mobilization", "deescalation")
            ):
                targets.append(c.i)
    return actors, targets
