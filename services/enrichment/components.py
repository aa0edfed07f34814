"""spaCy pipeline components that find escalation signals, and the extensions they set.
Registered with spaCy on import.

The three pattern components are shaped like spaCy's own (``spacy.pipeline.SpanRuler``):
config through the factory (``patterns_dir``: a patterns directory, null for the shipped
``patterns/``); ``initialize(get_examples, *, nlp, patterns_dir)`` loads the `Lexicon` (and
the first call does, when ``initialize`` was not run, so ``nlp.add_pipe`` then ``nlp(text)``
works); ``to_disk``/``from_disk`` write and read the pattern files, so ``nlp.to_disk`` and
``spacy.load`` round-trip. Each component holds its own `Lexicon`; nothing is cached at module
level.

- ``brink_newline_sentences``: a sentence starts after every line break, so headlines and
  paragraphs never glue together (runs before the parser, which keeps preset boundaries).
- ``brink_gazetteer``: countries, capitals, demonyms, organisations and armed groups, matched
  case-sensitively with a PhraseMatcher; sets ``doc._.brink_places``.
- ``brink_signal_matcher``: token patterns (Matcher, over lemmas with optional gaps) and
  dependency patterns (DependencyMatcher) per signal kind; drops matches inside figurative or
  other-domain phrases ("war of words", "price war", "army of fans"); sets ``doc._.brink_hits``.
- ``brink_signal_context``: negation, hedging, demands, reported history and actor/target
  heads for each hit, read from the dependency parse (see ``context``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy import util
from spacy.attrs import DEP, IS_SPACE, LEMMA, LOWER, MORPH, ORTH, POS, TAG
from spacy.language import Language
from spacy.matcher import DependencyMatcher, Matcher, PhraseMatcher
from spacy.tokens import Doc, Span, Token
from spacy.tokens._retokenize import set_token_attrs
from spacy.util import filter_spans

from services.enrichment import context, lexicon
from services.enrichment.hits import Hit, Place
from services.enrichment.lexicon import GazetteerEntry, Lexicon


def register_extensions() -> None:
    """Doc extensions, registered once per process."""
    for name in ("brink_hits", "brink_places"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


register_extensions()


def mark_line_breaks(doc: Doc) -> Doc:
    """A sentence starts after every token that holds a line break."""
    for tok in doc[1:]:
        prev = doc[tok.i - 1]
        if "\n" in prev.text or "\n" in prev.whitespace_:
            if tok.is_space:
                continue
            tok.is_sent_start = True
    return doc


@Language.component("brink_newline_sentences")
def newline_sentences(doc: Doc) -> Doc:
    return mark_line_breaks(doc)


class LexiconPipe:
    """What the pattern components share: the ``patterns_dir`` setting, the `Lexicon` (loaded
    by `initialize` or `from_disk`, else on first use), and its serialisation. A subclass
    builds its matchers from the Lexicon in `_build`."""

    def __init__(self, nlp: Language, name: str, *, patterns_dir: str | None = None) -> None:
        self.nlp = nlp
        self.name = name
        self.patterns_dir = patterns_dir
        self._lexicon: Lexicon | None = None
        self._ready = False

    @property
    def lexicon(self) -> Lexicon:
        """The Lexicon in use (loaded from ``patterns_dir`` if nothing loaded one yet)."""
        if self._lexicon is None:
            self._lexicon = Lexicon.load(self.patterns_dir)
        return self._lexicon

    def ensure_ready(self) -> None:
        """Build the matchers from the Lexicon, once."""
        if not self._ready:
            self._build(self.lexicon)
            self._ready = True

    def _build(self, lex: Lexicon) -> None:
        raise NotImplementedError

    def _use(self, lex: Lexicon) -> None:
        self._lexicon = lex
        self._ready = False

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Any]] | None = None,
        *,
        nlp: Language | None = None,
        patterns_dir: str | Path | None = None,
    ) -> None:
        """Load the patterns of ``patterns_dir`` (default: the factory's setting)."""
        if nlp is not None:
            self.nlp = nlp
        if patterns_dir is not None:
            self.patterns_dir = str(patterns_dir)
        self._use(Lexicon.load(self.patterns_dir))
        self.ensure_ready()

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Write the pattern files in use to ``path/patterns/``."""
        util.to_disk(path, {"patterns": self.lexicon.to_disk}, exclude)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> LexiconPipe:
        """Use the pattern files that `to_disk` wrote (matchers built on first use, once the
        rest of the pipeline has loaded)."""
        util.from_disk(path, {"patterns": lambda p: self._use(Lexicon.load(p))}, exclude)
        return self


@Language.factory("brink_gazetteer", default_config={"patterns_dir": None})
class Gazetteer(LexiconPipe):
    """Places and organisations by name, as written or in capitals (wire headlines)."""

    def _build(self, lex: Lexicon) -> None:
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        self.entries: dict[str, GazetteerEntry] = {}
        for code, (entry, names) in lex.gazetteer.items():
            self.entries[code] = entry
            variants = {v for n in names for v in (n, n.upper())}
            self.matcher.add(code, [self.nlp.make_doc(v) for v in sorted(variants)])

    def places(self, doc: Doc) -> list[Place]:
        self.ensure_ready()
        spans = [Span(doc, s, e, label=m) for m, s, e in self.matcher(doc)]
        out = []
        for span in filter_spans(spans):
            entry = self.entries[span.label_]
            out.append(Place(span.start, span.end, entry.code, entry.name, entry.type))
        return out

    def __call__(self, doc: Doc) -> Doc:
        if doc._.brink_places is None:  # the first pass may have found them already
            doc._.brink_places = self.places(doc)
        return doc


@dataclass(frozen=True, slots=True)
class PatternInfo:
    kind: str
    context: str | None
    priority: int = (
        0  # overlapping cues: the higher wins ("violated the ceasefire" over "ceasefire")
    )
    first_only: bool = False  # the cue is the match's first word ("warned", not "warned X against")


class _Context:
    """Sentence-level tests for ambiguous cues ("attack" needs a military setting)."""

    def __init__(self, lex: Mapping[str, Iterable[str]]) -> None:
        self.mil = frozenset(lex["MIL_CONTEXT"]) | frozenset(lex["MILNOUN_STRICT"])
        self.diplo = frozenset(lex["DIPLO"])
        self.conflict = frozenset(lex["CONFLICT_CONTEXT"])
        self.sport = frozenset(lex["SPORT"])
        self.business = frozenset(lex["BUSINESS"])
        self.domestic_purpose = frozenset(lex["DOMESTIC_PURPOSE"])
        self.legal_words = frozenset(lex["LEGAL"])
        self.commercial_words = frozenset(lex["COMMERCIAL"])

    @staticmethod
    def mentions(sent: Span, words: frozenset[str]) -> bool:
        """Whether ``sent`` holds a lemma of ``words`` (a sentence-level veto's word list)."""
        return any(t.lemma_.lower() in words for t in sent)

    def ok(self, need: str, sent: Span, skip: set[int], places: Iterable[Place]) -> bool:
        lemmas = [t.lemma_.lower() for t in sent if t.i not in skip]
        lowers = {t.lower_ for t in sent if t.i not in skip}
        mil = sum(1 for lm in lemmas if lm in self.mil) + len(lowers & {"forces", "armed"})
        other = sum(1 for lm in lemmas if lm in self.sport or lm in self.business)
        if need == "MIL":  # "attack", "clash": sport and business use them too
            return mil > 0 and not (other >= 2 and mil < 2)
        if need == "CONFLICT":  # "threat": military, or between states over sanctions, war
            if other >= 2 and mil < 1:
                return False
            return mil > 0 or any(lm in self.conflict for lm in lemmas)
        if need == "DIPLO":
            return any(lm in self.diplo for lm in lemmas) or "diplomatic" in lowers
        if need == "STATE":
            sport = sum(1 for lm in lemmas if lm in self.sport)
            if sport >= 2 and mil < 2:  # "Wales threatened further scores", "hit by a missile"
                return False  # (business words are at home in news of sanctions and embargoes)
            begin = context.dateline_end(sent)  # "WASHINGTON, March 25 -" is no party
            in_sent = any(begin <= p.start < sent.end for p in places)
            return mil > 0 or in_sent
        return True


def lemma_exceptions(nlp: Language) -> dict[str, set[str]]:
    """Lemma -> lower-cased forms that the trained lemmatizer's exception table or the
    attribute ruler give that lemma ("overran" -> "overrun", "are" -> "be")."""
    out: dict[str, set[str]] = {}
    if "lemmatizer" in nlp.pipe_names:
        lemmatizer: Any = nlp.get_pipe("lemmatizer")
        lookups = lemmatizer.lookups
        if lookups is not None and lookups.has_table("lemma_exc"):
            table = lookups.get_table("lemma_exc")
            for pos in table:
                for form, lemmas in table[pos].items():
                    for lemma in lemmas:
                        out.setdefault(lemma, set()).add(form.lower())
    if "attribute_ruler" in nlp.pipe_names:
        ruler: Any = nlp.get_pipe("attribute_ruler")
        for rule in ruler.patterns:
            lemma = rule["attrs"].get("LEMMA")
            for pattern in rule["patterns"] if lemma else ():
                value = pattern[rule.get("index", 0)].get("LOWER")
                forms = [value] if isinstance(value, str) else (value or {}).get("IN", [])
                out.setdefault(lemma, set()).update(f.lower() for f in forms)
    return out


class _Patterns:
    """Token (or dependency) patterns, each run only on Docs holding a surface form of every
    word it requires (``lexicon.required_forms``, the test the first pass uses on sentences):
    a Matcher's cost grows with the number of patterns it tries at every token."""

    def __init__(
        self, nlp: Language, records: Iterable[dict[str, Any]], *, dependency: bool = False
    ) -> None:
        strings = nlp.vocab.strings
        more = lemma_exceptions(nlp)
        self.patterns: list[tuple[str, list[frozenset[int]], Any]] = []
        for rec in records:
            matcher: Any = (
                DependencyMatcher(nlp.vocab, validate=True)
                if dependency
                else Matcher(nlp.vocab, validate=True)
            )
            matcher.add(rec["id"], [rec["pattern"]])
            groups = [
                frozenset(strings.add(f) for f in forms)
                for forms in lexicon.required_forms(rec["pattern"], more)
            ]
            self.patterns.append((rec["id"], groups, matcher))
        self.dependency = dependency

    def spans(self, doc: Doc, lowers: set[int]) -> list[tuple[str, int, int]]:
        """(pattern id, start, end) of every match in ``doc``, whose LOWER ids are ``lowers``."""
        out: list[tuple[str, int, int]] = []
        for pid, groups, matcher in self.patterns:
            if any(lowers.isdisjoint(g) for g in groups):
                continue
            if self.dependency:
                out += [(pid, min(ids), max(ids) + 1) for _, ids in matcher(doc)]
            else:
                out += [(pid, s, e) for _, s, e in matcher(doc)]
        return out


@Language.factory("brink_signal_matcher", default_config={"patterns_dir": None})
class SignalMatcher(LexiconPipe):
    """Signal kinds from token and dependency patterns over lemmas and the parse."""

    def _build(self, lex: Lexicon) -> None:
        nlp = self.nlp
        self.matcher = _Patterns(nlp, lex.patterns["signals.jsonl"])
        self.dep_matcher = _Patterns(nlp, lex.patterns["dependency.jsonl"], dependency=True)
        self.figurative = _Patterns(nlp, lex.patterns["metaphor.jsonl"])
        self.info: dict[str, PatternInfo] = {}
        for file in ("signals.jsonl", "dependency.jsonl"):
            for rec in lex.patterns[file]:
                self.info[rec["id"]] = PatternInfo(
                    rec["kind"],
                    rec.get("context"),
                    rec.get("priority", 0),
                    rec.get("cue") == "first",
                )
        self.context = _Context(lex.words)
        self.party_nouns = lex.context["party_nouns"]
        self.noun_forms = _noun_forms(lex.patterns["signals.jsonl"])
        self.force_words = frozenset(lex.words["WAR_NOUN"]) | frozenset(lex.words["ATTACKVERB"])

    def _consequence(self, sent: Span) -> bool:
        """Whether a deadline states what follows it: "or", "face", "otherwise", or force
        ("24 hours to move south ahead of a ground offensive")."""
        return bool(
            _CONSEQUENCE_WORDS & {t.lower_ for t in sent}
            or self.force_words & {t.lemma_.lower() for t in sent}
        )

    def _non_party_subject(self, act: Token) -> bool:
        """Whether the act a threat names has a subject that is no party ("the tax")."""
        return any(
            c.dep_ == "nsubj" and c.pos_ == "NOUN" and c.lemma_.lower() not in self.party_nouns
            for c in act.children
        )

    def _common_first_words(self, doc: Doc) -> None:
        """A cue noun that opens a sentence or headline ("Blockade bites in Tigray",
        "Sanctions hit exporters") is often tagged a proper noun, with itself as lemma: read
        it as the common noun it is, unless the gazetteer names it."""
        places = doc._.brink_places or []
        for sent in doc.sents:
            tok = sent[0]
            lemma = self.noun_forms.get(tok.lower_)
            if (
                lemma is not None
                and tok.pos_ == "PROPN"
                and tok.is_title
                and not any(p.start <= tok.i < p.end for p in places)
            ):
                tok.lemma_ = lemma
                tok.pos_ = "NOUN"

    def __call__(self, doc: Doc) -> Doc:
        self.ensure_ready()
        self._common_first_words(doc)
        lowers = set(doc.to_array(LOWER).tolist())
        skip: set[int] = set()
        for _, s, e in self.figurative.spans(doc, lowers):
            skip.update(range(s, e))
        found = self.matcher.spans(doc, lowers) + self.dep_matcher.spans(doc, lowers)
        places = doc._.brink_places or []
        hits: list[Hit] = []
        for pid, s, e in found:
            info = self.info[pid]
            if any(i in skip for i in range(s, e)):
                continue
            span = doc[s:e]
            if doc[e - 1].sent.start != span.sent.start:
                continue  # a gap never crosses a sentence (or headline) boundary
            own = skip | set(range(s, e))  # a cue is not its own context
            if info.context and not self.context.ok(info.context, span.sent, own, places):
                continue
            if info.kind in _DOMESTIC_CHECKED and self.context.mentions(
                span.sent, self.context.domestic_purpose
            ):
                continue  # troops sent to a flood, a parade, an election; to use troops on unrest
            if pid in _STATE_ACTOR and self.context.mentions(
                span.sent, self.context.commercial_words
            ):
                continue  # gas cut off "in a price dispute": a commercial row
            if pid in _ACT_SUBJECT_CHECKED and self._non_party_subject(doc[e - 1]):
                continue  # "warned that the tax could hit developing countries"
            if info.kind in _MEASURES and self.context.mentions(
                span.sent, self.context.legal_words
            ):
                continue  # a court's or a regulator's sanctions, a lawsuit's asset freeze
            if pid in _NEEDS_CONSEQUENCE and not self._consequence(span.sent):
                continue  # "given ten days to reply" is a deadline, an ultimatum has an "or"
            if pid in _ATTACHED and not _attached(doc, s, e):
                continue  # "stopped underpricing ... and had widened access": not one act
            end = s + 1 if info.first_only else e
            cue = doc[s:end]
            hits.append(Hit(info.kind, s, end, pid, cue.root.i, priority=info.priority))
        doc._.brink_hits = _resolve_overlaps(hits)
        return doc


_DOMESTIC_CHECKED = frozenset({"military_buildup", "mobilization", "threat"})
_ACT_SUBJECT_CHECKED = frozenset({"threaten-to"})
_MEASURES = frozenset({"sanctions", "embargo"})
_NEEDS_CONSEQUENCE = frozenset({"give-until", "have-until"})
_CONSEQUENCE_WORDS = frozenset({"or", "otherwise", "else", "face", "ultimatum", "consequences"})
# Patterns whose last word must belong to the phrase of their first ("cut ... links").
_ATTACHED = frozenset({"coerce-links", "asset-freeze", "expel-monitors", "fire-weapon"})


def _noun_forms(patterns: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Singular and plural surface forms of every lemma the patterns ask for, to its lemma."""
    out: dict[str, str] = {}
    for rec in patterns:
        for tok in rec["pattern"]:
            value = tok.get("LEMMA")
            words = [value] if isinstance(value, str) else (value or {}).get("IN", [])
            for word in words:
                w = word.lower()
                if w.endswith("y"):
                    plural = w[:-1] + "ies"
                elif w.endswith(("s", "sh", "ch", "x")):
                    plural = w + "es"
                else:
                    plural = w + "s"
                out.setdefault(w, w)
                out.setdefault(plural, w)
    return out


def _attached(doc: Doc, start: int, end: int) -> bool:
    first, last = doc[start], doc[end - 1]
    return first.is_ancestor(last) or last.is_ancestor(first) or first.i == last.i


_CANCELLED_BY_DEESCALATION = {"sanctions", "embargo", "military_buildup", "armed_clash"}


def _resolve_overlaps(hits: list[Hit]) -> list[Hit]:
    """One hit per overlapping cue: the longest; a de-escalation ("sanctions were lifted",
    "withdraw troops") cancels the escalation cue it contains."""
    hits.sort(key=lambda h: (-h.priority, h.kind != "deescalation", -(h.end - h.start), h.start))
    kept: list[Hit] = []
    for h in hits:
        clash = [k for k in kept if k.start < h.end and h.start < k.end]
        if any(k.kind == h.kind for k in clash):
            continue
        if any(k.kind == "deescalation" for k in clash) and h.kind in _CANCELLED_BY_DEESCALATION:
            continue
        if h.kind == "deescalation" and any(k.priority > h.priority for k in clash):
            continue  # "violated the ceasefire": a clash, not a ceasefire
        # a different kind in the same words ("threatened sanctions") is a second signal
        kept.append(h)
    kept.sort(key=lambda h: h.start)
    return kept


@Language.factory("brink_signal_context", default_config={"patterns_dir": None})
class SignalContext(LexiconPipe):
    """Modality (negated, hedged, demanded, historical) and actor/target heads of each hit."""

    def _build(self, lex: Lexicon) -> None:
        self.words = lex.context
        self.armed = frozenset(lex.words["ARMED_ROLE"]) | frozenset(lex.words["MIL_CONTEXT"])
        self.where = frozenset(lex.words["TAKE_OBJ"])

    def __call__(self, doc: Doc) -> Doc:
        self.ensure_ready()
        hits: list[Hit] = doc._.brink_hits or []
        for hit in hits:
            context.annotate(hit, doc, self.words)
        reporting = []
        for hit in hits:
            reported = context.reported_by(hit, hits, doc, self.words)
            if reported:  # "..., Kyiv warns": a source, not a threat nor a hedge
                reporting.append(hit)
                for other in reported:
                    other.hedged = False
        places = doc._.brink_places or []
        hits = [
            h
            for h in hits
            if (h.pattern not in _ARMED_ACTOR or context.armed_actor(h, doc, places, self.armed))
            and (
                h.pattern not in _STATE_ACTOR
                or context.state_actor(h, doc, places, self.words["party_nouns"])
            )
        ]
        labour = self.words["labour"]
        hits = [
            h for h in hits if h.pattern not in _ARMED_ACTOR or not _labour(doc[h.head], labour)
        ]
        abstract = self.words["abstract_objects"]
        hits = [
            h for h in hits if not (h.pattern in _OBJECT_CHECKED and _abstract(h, doc, abstract))
        ]
        political = self.words["political_bodies"]
        hits = [h for h in hits if not context.political_actor(h, doc, political)]
        doc._.brink_hits = [
            h
            for h in hits
            if not any(h is r for r in reporting)
            and (
                h.demanded  # a call for sanctions is pressure, whoever makes it
                or h.kind == "deescalation"
                or h.pattern in _POLITICAL_BY_NATURE
                or not context.non_party_actor(
                    h, doc, places, self.words["party_nouns"], self.where
                )
            )
        ]
        return doc


# Acts that are political whoever does them ("gunmen tried to assassinate the governor").
_POLITICAL_BY_NATURE = frozenset({"assassinate"})

# Attack verbs count only for an armed party or a state ("Straw attacked ..." is words).
_ARMED_ACTOR = frozenset({"attack-verb-party", "gun-battle", "firefight"})

# Coercion counts only when a state or its organs does it ("BA to suspend Saudi flights" is an
# airline's timetable, "Russia suspended all flights to Georgia" is pressure).
_STATE_ACTOR = frozenset(
    {
        "coerce-links",
        "asset-freeze",
        "sanction-verb-party",
        "entity-list",
        "incursion-line",
        "suspend-military-talks",
        "accused-of-raids",
    }
)

# Verbs whose object says whether they are force or figure ("hit Kyiv" / "hit relations").
_OBJECT_CHECKED = frozenset(
    {"attack-verb-party", "threaten", "threaten-to", "strike-verb", "coerce-links", "mobilize"}
)


def _labour(verb: Token, labour: frozenset[str]) -> bool:
    """A strike by workers: "striking ambulance crews", "miners struck"."""
    return verb.head.lemma_.lower() in labour or any(
        c.dep_ == "nsubj" and c.lemma_.lower() in labour for c in verb.children
    )


def _abstract(hit: Hit, doc: Doc, abstract: frozenset[str]) -> bool:
    """Whether a verb of ``hit`` takes an abstract object ("hit relations", "threatened to
    block spending plans") or "back" ("Italy hit back"). An object the pattern itself names
    ("banned imports", "cut ties") is what the pattern is about, not an abstract reading."""
    for i in range(hit.start, hit.end):
        for c in doc[i].children:
            if hit.start <= c.i < hit.end:
                continue
            if c.dep_ in ("dobj", "prt", "advmod", "xcomp") and c.lemma_.lower() in abstract:
                return True
            if c.dep_ == "xcomp" and any(  # "threatened to block plans"
                g.dep_ == "dobj" and g.lemma_.lower() in abstract for g in c.children
            ):
                return True
    return False


def add_brink_components(nlp: Language) -> Language:
    """Add Brink's components to a trained pipeline (idempotent)."""
    if "brink_newline_sentences" not in nlp.pipe_names:
        nlp.add_pipe("brink_newline_sentences", first=True)
    for name in ("brink_gazetteer", "brink_signal_matcher", "brink_signal_context"):
        if name not in nlp.pipe_names:
            nlp.add_pipe(name, last=True)
    return nlp


_TOKEN_KEYS = frozenset({"TAG", "LOWER", "DEP", "IS_SPACE"})


class CachedAttributeRuler:
    """The trained pipeline's ``attribute_ruler`` with the same result, at a fraction of the
    cost on short Docs.

    The stock ruler runs a Matcher of ~180 patterns over every token; almost all of them are
    single-token patterns over ``LOWER``, ``TAG``, ``DEP`` and ``IS_SPACE``, so which of them
    match a token is a function of those four values. That answer is cached per value tuple
    (filled from the stock matcher's own matches the first time a tuple is seen); only the
    handful of multi-token patterns run as a Matcher. Attributes are then set in the stock
    order (rule index, later rules win). Falls back to the stock ruler when a pattern uses
    anything else."""

    def __init__(self, ruler: Any) -> None:
        self.ruler = ruler
        self.vocab = ruler.vocab
        self.multi = Matcher(ruler.vocab)
        self.single: set[int] = set()
        self.exact = True
        for n, attrs in enumerate(ruler.attrs):
            key = str(n)
            patterns = ruler.matcher.get(key)[1]
            one = [len(p) == 1 and "OP" not in p[0] and set(p[0]) <= _TOKEN_KEYS for p in patterns]
            if "_" in attrs or (any(one) and not all(one)):
                self.exact = False
            elif all(one):
                self.single.add(n)
            else:
                self.multi.add(key, patterns)
        self.cache: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.merged: dict[tuple[int, ...], dict[Any, Any]] = {}

    def __call__(self, doc: Doc) -> Doc:
        if not self.exact:
            return self.ruler(doc)  # type: ignore[no-any-return]
        keys = [tuple(row) for row in doc.to_array([LOWER, TAG, DEP, IS_SPACE]).tolist()]
        per_token: list[list[int]] = [[] for _ in keys]
        if all(k in self.cache for k in keys):
            for i, k in enumerate(keys):
                per_token[i].extend(self.cache[k])
            strings = self.vocab.strings
            for m, s, e in self.multi(doc, allow_missing=True):
                n = int(strings[m])
                per_token[_target(s, e, self.ruler.indices[n])].append(n)
        else:  # a new combination: ask the stock matcher, and remember its answer
            found: list[list[int]] = [[] for _ in keys]
            for n, _, s, e in self.ruler.match(doc):
                i = _target(s, e, self.ruler.indices[n])
                per_token[i].append(n)
                if n in self.single:
                    found[i].append(n)
            for k, ids in zip(keys, found, strict=True):
                self.cache[k] = tuple(sorted(ids))
        for i, ids in enumerate(per_token):
            if ids:
                set_token_attrs(doc[i], self._merge(tuple(sorted(ids))))
        return doc

    def _merge(self, ids: tuple[int, ...]) -> dict[Any, Any]:
        merged = self.merged.get(ids)
        if merged is None:
            merged = {}
            for n in ids:  # later rules win, as in the stock ruler
                merged.update(self.ruler.attrs[n])
            self.merged[ids] = merged
        return merged


def _target(start: int, end: int, index: int) -> int:
    return start + index if index >= 0 else end + index


class CachedLemmatizer:
    """The trained rule lemmatizer with the same result: its lemma depends only on the
    token's text, POS and morphology, so it is computed once per such triple."""

    def __init__(self, lemmatizer: Any) -> None:
        self.lemmatizer = lemmatizer
        self.exact = lemmatizer.mode == "rule" and not lemmatizer.overwrite
        self.cache: dict[tuple[int, int, int], int] = {}

    def __call__(self, doc: Doc) -> Doc:
        if not self.exact:
            return self.lemmatizer(doc)  # type: ignore[no-any-return]
        strings = doc.vocab.strings
        rows = doc.to_array([ORTH, POS, MORPH, LEMMA]).tolist()
        for i, (orth, pos, morph, lemma) in enumerate(rows):
            if lemma:
                continue  # set by the attribute ruler
            key = (orth, pos, morph)
            value = self.cache.get(key)
            tok = doc[i]
            if value is None:
                value = strings.add(self.lemmatizer.lemmatize(tok)[0])
                self.cache[key] = value
            tok.lemma = value
        return doc
