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

from collections.abc import Mapping, Sequence

from spacy.tokens import Doc, Span, Token

from services.enrichment.hits import Hit, Place

# Cues that threaten only when negated ("would not stand idle if ...").
NEGATION_IS_THE_THREAT = frozenset({"not-stand-idly"})

# Dependency labels that begin a clause of their own: negation does not cross them.
CLAUSE_TOPS = frozenset({"ROOT", "ccomp", "advcl", "relcl", "conj", "parataxis", "csubj"})
TARGET_PREPS = frozenset(
    {"against", "on", "to", "toward", "towards", "near", "at", "along", "into", "with", "upon"}
)
SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj"})
PRONOUNS = frozenset({"it", "they", "we", "he", "she", "i", "you", "which", "that", "who"})


THREATENED_KINDS = frozenset({"sanctions", "embargo"})


def _counterfactual(path: Sequence[Token]) -> bool:
    """ "would have imposed", "could have ...": what did not happen."""
    for t in path:
        auxes = {c.lower_ for c in t.children if c.dep_ in ("aux", "auxpass")}
        if "have" in auxes and auxes & {"would", "'d"}:
            return True
    return False


def _ongoing(path: Sequence[Token]) -> bool:
    """A present perfect ("has been fighting", "have imposed"): what began then goes on."""
    return any(
        c.dep_ == "aux" and c.lower_ in ("has", "have", "'ve") for t in path for c in t.children
    )


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


def _addressees(hit: Hit, doc: Doc, words: Mapping[str, frozenset[str]]) -> list[int]:
    """Targets of last resort that the sentence names by what the act is for: the other side
    of a reciprocal act ("India, Pakistan trade fire"), the one a threat's condition is about
    ("... if Washington pressed ahead"), the one a show of force is aimed at ("to deter
    Iran", "as a warning to Iran", "to intimidate the island")."""
    head = doc[hit.head]
    sent = head.sent
    out: list[int] = []
    if hit.pattern in RECIPROCAL_PATTERNS or head.lemma_.lower() == "clash":
        subjects = [t for t in sent if t.dep_ in ("nsubj", "ROOT") and t.pos_ == "PROPN"]
        out += [c.i for t in subjects for c in t.children if c.dep_ in ("conj", "appos")]
    if hit.kind in ("threat", "ultimatum", "armed_clash"):
        for t in sent:
            if t.dep_ == "advcl" and any(
                c.dep_ == "mark" and c.lower_ in ("if", "unless") for c in t.children
            ):
                out += [c.i for c in t.children if c.dep_ in ("nsubj", "nsubjpass") and _np_ok(c)]
    if hit.kind in ("military_buildup", "threat", "mobilization"):
        for t in sent:
            lemma = t.lemma_.lower()
            if lemma in words["aimed_at"] and t.pos_ == "VERB":
                out += [c.i for c in t.children if c.dep_ == "dobj" and _np_ok(c)]
            if lemma in ("warning", "message", "signal") and t.pos_ == "NOUN":
                out += [
                    g.i
                    for c in t.children
                    if c.dep_ == "prep" and c.lower_ == "to"
                    for g in c.children
                    if _np_ok(g)
                ]
    return out


def _placed(i: int, places: Sequence[Place], type_: str | None = None) -> bool:
    """Whether a gazetteer place (of ``type_``, if given) covers token ``i`` ("Russian" in
    "Russian troops")."""
    return any(p.start <= i < p.end and type_ in (None, p.type) for p in places)


def _in_place(tok: Token, doc: Doc) -> bool:
    return _placed(tok.i, doc._.brink_places or [])


def _beyond_target_prep(tok: Token, head: Token) -> bool:
    """Whether ``tok`` hangs below ``head`` through a target preposition ("against", "on")."""
    while tok.i not in (head.i, tok.head.i):
        if tok.dep_ == "prep" and tok.lower_ in TARGET_PREPS:
            return True
        tok = tok.head
    return False


def _owned(doc: Doc, cue: set[int]) -> bool:
    """Whether a cue names whose it is ("Iranian attacks", "Iraq's offensive"): a real act,
    not one only guarded against ("to protect shipping from attack")."""
    return any(
        c.dep_ in ("poss", "amod", "compound") and c.pos_ in ("PROPN", "ADJ") and c.is_title
        for i in cue
        for c in doc[i].children
    )


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
    subject_path = {  # words reached from their subject: "drone strike halts output"
        t.head.i for t in path if t.dep_ in ("nsubj", "csubj") and t.head.i != t.i
    }
    if (
        head.pos_ in ("NOUN", "PROPN")
        and head.dep_ == "pobj"
        and head.head.lower_ in words["cause_preps"]
        and not _is_call_for(head.head.head, words)
        and head.head.head.lemma_.lower() not in words["demand"]
    ):  # "Iran will retaliate for the U.S. strike": the strike happened, whatever comes next
        path = [head]
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
        if t.i in subject_path and lemma not in words["denial"]:
            pass  # the cue is what stops something, not what is stopped
        elif lemma in words["denial"] or (
            lemma in words["stop"]
            and not (lemma in words["defensive"] and _owned(doc, cue))  # "Iranian attacks"
        ):
            flips += 1
        if t.lower_ == "without":
            flips += 1
        if lemma in words["demand"] or _is_call_for(t, words):
            hit.demanded = True
        if lemma in words["hedge_words"]:
            hit.hedged = True
        if t.lower_ in words["history_preps"]:
            hit.historical = True
        if (
            t.dep_ == "prep"
            and t.lower_ in ("after", "since")
            and any(
                c.lemma_.lower() in words["long_ago_units"]
                for c in [*t.children, *(g for g in t.head.children if g.dep_ == "npadvmod")]
            )
        ):  # "a year after the tit-for-tat expulsions"
            hit.historical = True
    # one step across the clause boundary: "denied (that) ...", "called on X to ...", "if ..."
    top = path[-1]
    gov = top.head
    if top.dep_ in ("ccomp", "xcomp", "advcl", "acl") and gov.i != top.i:
        glemma = gov.lemma_.lower()
        if glemma in words["denial"] or glemma in words["overrule"]:
            flips += 1 + sum(1 for c in gov.children if c.dep_ == "neg")
        if glemma in words["demand"] or _is_call_for(gov, words):
            hit.demanded = True
        if glemma in words["hedge_words"] and glemma not in words["reporting"]:
            hit.hedged = True  # ("Kyiv warns" reports what its clause says, it does not hedge it)
    if (
        top.dep_ in ("acl", "ccomp", "relcl")
        and gov.lemma_.lower() in words["claim_nouns"]
        and gov.head.lemma_.lower() in words["denial"]
    ):  # "dismissed as disinformation claims that it was moving artillery"
        flips += 1 + sum(1 for c in gov.head.children if c.dep_ == "neg")
    while gov.dep_ == "conj" and gov.head.i != gov.i:
        gov = gov.head
    if top.dep_ == "conj" and top.pos_ in ("NOUN", "PROPN"):
        # "would begin with missile strikes and a naval blockade": a list shares its clause's
        # modals and negation (not the words of its other members)
        first = top
        while first.dep_ == "conj" and first.head.i != first.i:
            first = first.head
        for t in clause_path(first)[1:]:
            for c in t.children:
                if c.dep_ in ("aux", "auxpass") and c.lower_ in words["hedge_modals"]:
                    hit.hedged = True
                elif c.dep_ == "neg":
                    flips += 1
    if top.dep_ == "conj" and gov.i != top.i:  # "must end ... and deescalate": shared modal
        for c in gov.children:
            if c.dep_ == "aux" and c.lower_ in words["demand_modals"]:
                hit.demanded = True
            elif c.dep_ == "aux" and c.lower_ in words["hedge_modals"]:
                hit.hedged = True
    if head.dep_ in ("compound", "amod", "nmod") and head.head.lemma_.lower() in words["proposals"]:
        hit.hedged = True  # "an arms embargo bid", "a sanctions proposal": not (yet) done
    hit.negated = flips % 2 == 1
    if hit.pattern in NEGATION_IS_THE_THREAT:
        hit.negated = not hit.negated  # "will not stand idly by": the refusal is the warning
    if hit.hedged and hit.kind in THREATENED_KINDS and not hit.negated:
        noun = head
        if head.dep_ == "pobj" and head.head.lower_ == "of" and head.head.head.pos_ == "NOUN":
            noun = head.head.head  # "a series of tariff sanctions", "a new round of sanctions"
        governor = noun.head if noun.dep_ in ("dobj", "nsubjpass", "pobj") else noun
        if governor.lemma_.lower() in words["impose_verbs"] or any(
            c.dep_ in ("amod", "compound") and c.lemma_.lower() in words["threatened_markers"]
            for c in head.children
        ):  # "would impose sanctions", "the planned sanctions": a threatened step
            hit.demanded = True
    if hit.historical and head.pos_ in ("VERB", "AUX") and _ongoing(path):
        hit.historical = False  # "has been fighting the government since 1976"
    if _counterfactual(path) or any(
        c.lower_ in words["accident"] for t in path for c in t.children if c.dep_ == "advmod"
    ):  # "would have imposed an arms embargo", "was accidentally hit"
        hit.negated = True
    dated = [*(doc[i] for i in sorted(cue)), *path]
    if top.dep_ == "advcl" and top.head.i != top.i:
        dated.append(top.head)  # "... in 1989 after troops opened fire"
    for t in dated:
        year = _year_of(t)
        if year is not None:
            hit.year = year
            break
    hit.actors, hit.targets = actor_target(hit, doc, words)


def reported_by(
    hit: Hit, hits: Sequence[Hit], doc: Doc, words: Mapping[str, frozenset[str]]
) -> list[Hit]:
    """The signals that ``hit``, a reporting verb matched as a threat ("warns"), only reports.

    In "Russia masses troops near Ukraine border, Kyiv warns" the clause of "warns" holds an
    asserted buildup, so "warns" reports it: it is neither a threat by Kyiv nor a hedge on the
    buildup. "warned of consequences" stays a threat, and so does a warning to someone
    ("warned Iran that ...") or of what may happen ("warns Iran will face sanctions"). Empty when ``hit`` is not
    such a verb.
    """
    head = doc[hit.head]
    if hit.kind != "threat" or hit.end - hit.start > 1:
        return []
    if head.lemma_.lower() not in words["reporting"]:
        return []
    if any(c.dep_ in ("dobj", "dative") for c in head.children):
        return []  # "warned Iran that it was ready to retaliate": a warning to someone
    out: list[Hit] = []
    for clause in head.children:
        if clause.dep_ not in ("ccomp", "parataxis"):
            continue
        inside = range(clause.left_edge.i, clause.right_edge.i + 1)
        if any(_hedges(doc[i], words) for i in inside):
            continue
        out += [
            other
            for other in hits
            if other is not hit
            and (other.head == clause.i or doc[other.head].head.i == clause.i)
            and other.kind not in ("threat", "ultimatum")
            and not (other.negated or other.demanded or other.historical)
        ]
    return out


def _hedges(tok: Token, words: Mapping[str, frozenset[str]]) -> bool:
    return (
        tok.lemma_.lower() in words["hedge_words"]
        or (tok.dep_ in ("aux", "auxpass") and tok.lower_ in words["hedge_modals"])
        or (tok.dep_ == "mark" and tok.lower_ in words["hedge_marks"])
    )


def _np_ok(tok: Token) -> bool:
    return tok.lower_ not in PRONOUNS and tok.pos_ in ("PROPN", "NOUN", "ADJ", "NUM")


def actor_target(
    hit: Hit, doc: Doc, words: Mapping[str, frozenset[str]]
) -> tuple[list[int], list[int]]:
    """Candidate heads (token indices, best first) of the actor's and the target's phrases.

    Actor: a demonym or name on the cue ("Russian troops"), then the subject (or passive
    agent) of the verbs governing the cue, up to a reporting verb. The speaker of "said",
    "warns", "accused" is a source, not the actor of the reported event: the climb stops
    there, and the speaker is the last candidate, used only when nobody else in the reported
    clause is named ("Iran said it would ...", "Iraq said its troops repelled ...").
    "accusing Moscow of preparing an offensive" and "platforms blamed for the attack" make
    the accused the actor, "called on Russia to withdraw" makes Russia the actor,
    and a noun summing up a report ("..., officials said, the largest build-up since 2014")
    takes the actor and target of the reported clause.

    Target: the object of a target preposition ("against", "on", "near", "along", "with",
    ...) on the cue, its verb or the verb's object ("deployed groups along the frontier with
    Ukraine"), or "close to"; for kinds done to someone, the object itself. The caller keeps
    the first candidate that resolves to a country or organisation.
    """
    head = doc[hit.head]
    cue = range(hit.start, hit.end)
    owners = [  # "build-up of Russian troops", but in "the fight against Tamil guerrillas" not Tamil
        c.i
        for i in cue
        if not _beyond_target_prep(doc[i], head)
        for c in doc[i].children
        if c.dep_ in ("poss", "amod", "compound", "nmod")
        and (c.pos_ == "PROPN" or (c.pos_ == "ADJ" and _in_place(c, doc)))
    ]
    by = [  # "an attack by Iranian Revolutionary Guards"
        g.i
        for i in cue
        if doc[i].pos_ == "NOUN"
        for c in doc[i].children
        if c.dep_ == "prep" and c.lower_ == "by"
        for g in c.children
        if g.dep_ == "pobj" and _np_ok(g)
    ]
    expulsion = hit.kind == "diplomatic_expulsion"
    actors: list[int] = [] if expulsion else [*by, *owners]
    targets: list[int] = list(owners) if expulsion else []
    holders = [doc[i] for i in cue]
    if head.head.pos_ == "VERB" and (head.dep_ in ("dobj", "nsubjpass", "pobj") or expulsion):
        holders.append(head.head)  # "declared a Canadian diplomat persona non grata"
    holders += [v for i in cue for v in doc[i].children if v.dep_ == "acl" and v.pos_ == "VERB"]
    t, below = head, head
    for _ in range(10):
        if t.pos_ in ("VERB", "AUX"):
            lemma = t.lemma_.lower()
            if t.i != head.i and lemma in words["reporting"]:
                if below.dep_ in ("ccomp", "parataxis"):  # "Kyiv said [Russia massed troops]"
                    hit.speakers += _subjects(t)
                    actors += hit.speakers  # the speaker, only if nobody else is named
                    break
                if below.dep_ in ("dep", "appos", "npadvmod", "attr") and below.pos_ == "NOUN":
                    reported = [c for c in t.children if c.dep_ in ("ccomp", "parataxis")]
                    for clause in reported:  # "..., officials said, the largest build-up"
                        actors += _subjects(clause)
                        holders += [clause, *_objects(clause)]
                    if reported:
                        hit.speakers += _subjects(t)
                        actors += hit.speakers
                        break
            if (
                t.i != head.i
                and lemma in words["accusing"]
                and below.dep_ == "prep"
                and below.lower_ in ("of", "for")
            ):
                accused = [*_objects(t), *(c for c in t.children if c.dep_ == "nsubjpass")]
                if t.dep_ == "acl" or (  # "platforms blamed by Washington for the attack"
                    t.dep_ == "relcl" and any(o.lower_ in ("which", "who") for o in t.children)
                ):  # "Iran, which the Americans blame for two missile attacks"
                    accused.append(t.head)
                actors += [o.i for o in accused if _np_ok(o)]  # "accusing Moscow of ..."
                targets += _subjects(t)  # the accuser is the one it is done to, failing better
                break
            if t.i != head.i and below.dep_ == "xcomp" and lemma in words["bidding"]:
                bidden = [o.i for o in _objects(t)]  # "called on Russia to withdraw troops"
                hit.bidden += bidden
                actors += bidden
            evidence = lemma in words["evidential"]  # "satellite images show a build-up"
            for c in t.children:
                if c.dep_ == "agent":
                    actors += [g.i for g in c.children if _np_ok(g)]
                elif c.dep_ == "nsubj" and _np_ok(c):
                    actors.append(c.i)
                    if evidence:
                        hit.speakers.append(c.i)
        if t.head.i == t.i:
            break
        below, t = t, t.head
    # the receiver: target prepositions on the cue words, the verb that governs them and the
    # objects of the verbs among them
    if hit.kind in ("threat", "ultimatum"):  # "threatens to cut gas supply to Spain"
        holders += [c for h in list(holders) for c in h.children if c.dep_ == "xcomp"]
    holders += [o for h in list(holders) if h.pos_ == "VERB" for o in _objects(h, preps=False)]
    from_ok = expulsion or hit.kind == "deescalation"
    seen: set[int] = set()
    for h in holders:
        if h.i in seen:
            continue
        seen.add(h.i)
        preps = [
            c for c in h.children if c.dep_ == "prep" or (c.dep_ == "dative" and c.pos_ == "ADP")
        ]
        preps += [  # "buildup close to Ukraine's border"
            p
            for c in h.children
            if c.dep_ in ("advmod", "amod") and c.lower_ in words["near_words"]
            for p in c.children
            if p.dep_ == "prep"
        ]
        for c in preps:
            if c.lower_ in TARGET_PREPS or (from_ok and c.lower_ in ("from", "in")):
                targets += [g.i for g in c.children if g.dep_ == "pobj" and _np_ok(g)]
        for c in h.children:
            if (
                c.dep_ in ("dobj", "nsubjpass", "dative")
                and (c.i not in cue or c.pos_ == "PROPN")  # "gave Hezbollah until Sunday"
                and _np_ok(c)
                and hit.kind not in ("military_buildup", "mobilization", "deescalation")
            ):
                targets.append(c.i)
    if hit.pattern in VICTIM_SUBJECT_PATTERNS:  # "posts came under assault from Chinese troops"
        verb = doc[hit.start]
        attackers = [
            g.i
            for i in cue
            for c in doc[i].children
            if c.dep_ == "prep" and c.lower_ in ("from", "by")
            for g in c.children
            if _np_ok(g)
        ]
        victims = [c.i for c in verb.children if c.dep_ == "nsubj" and _np_ok(c)]
        actors, targets = [*attackers, *owners], [*victims, *targets]
    if hit.pattern in SENDER_PATTERNS:  # "Ukraine shot down Russian drones": Russia -> Ukraine
        launched = [
            g.i
            for i in cue
            for v in doc[i].children
            if v.dep_ == "acl"
            for a in v.children
            if a.dep_ == "agent"
            for g in a.children
            if _np_ok(g)
        ]
        shooters = [i for i in actors if i not in owners and i not in launched]
        actors, targets = [*owners, *launched], [*shooters, *targets]
    if hit.pattern in ACCUSATION_PATTERNS:  # "Angola accuses South Africa of new raids"
        verb = doc[hit.start]
        charged = [o.i for o in _objects(verb, preps=False)]
        if charged:
            actors, targets = charged, [*_subjects(verb), *targets]
    targets += _addressees(hit, doc, words)
    start = dateline_end(head.sent)
    if start > head.sent.start:  # "LONDON, March 15 - Iran's leader ... warned": not London
        actors = [
            j
            for i in actors
            for j in ([i] if i >= start else _after_dateline(doc[i], start))
            if j >= start
        ]
        targets = [i for i in targets if i >= start]
    return actors, targets


RECIPROCAL_PATTERNS = frozenset({"exchange-fire", "cross-border"})
ACCUSATION_PATTERNS = frozenset({"accused-of-raids"})  # the accused acted, on the accuser
SENDER_PATTERNS = frozenset({"shootdown"})  # defence: the escalation is the sender's
VICTIM_SUBJECT_PATTERNS = frozenset({"come-under-attack"})
DASHES = frozenset({"-", "--", "\u2013", "\u2014"})


def _after_dateline(tok: Token, start: int) -> list[int]:
    """The phrase the parser hung on a dateline parsed as the subject ("NICOSIA, Oct 20 -
    Iran's spokesman ...": an appos or conj of NICOSIA)."""
    return [c.i for c in tok.children if c.i >= start and c.pos_ in ("NOUN", "PROPN")]


def dateline_end(sent: Span) -> int:
    """Where the text begins after a wire dateline ("BAGHDAD, March 1 -", "BAHRAIN -",
    "WASHINGTON, Oct. 20 -"); the sentence start when there is none."""
    first = sent[0] if len(sent) else None
    if first is None or not (first.is_alpha and first.is_upper and len(first) > 1):
        return sent.start
    for tok in sent[1:12]:
        if tok.text in DASHES:
            return tok.i + 1
        if not (tok.is_upper or tok.is_punct or tok.like_num or tok.is_title):
            break
    return sent.start


def _subjects(verb: Token, *, with_pronouns: bool = False) -> list[int]:
    """Heads of the subject (or passive agent) phrases of ``verb``."""
    while verb.dep_ in ("conj", "advcl", "xcomp") and not any(
        c.dep_ in SUBJECTS for c in verb.children
    ):
        verb = verb.head  # "denied the buildup but said ...", "reported ..., saying": shared
    out = []
    for c in verb.children:
        if c.dep_ in ("nsubj", "nsubjpass") and (with_pronouns or _np_ok(c)):
            out.append(c.i)
        elif c.dep_ == "agent":
            out += [g.i for g in c.children if with_pronouns or _np_ok(g)]
    return out


def _objects(verb: Token, *, preps: bool = True) -> list[Token]:
    """Direct objects of ``verb`` (and, with ``preps``, "on"/"upon" objects: "called on X")."""
    out = [c for c in verb.children if c.dep_ in ("dobj", "dative") and _np_ok(c)]
    if preps:
        out += [
            g
            for c in verb.children
            if c.dep_ == "prep" and c.lower_ in ("on", "upon")
            for g in c.children
            if g.dep_ == "pobj" and _np_ok(g)
        ]
    return out


def non_party_actor(
    hit: Hit,
    doc: Doc,
    places: Sequence[Place],
    party_nouns: frozenset[str],
    places_not_parties: frozenset[str] = frozenset(),
) -> bool:
    """Whether the one who does what ``hit`` reports is named, and is not a party that can
    escalate: a common noun that is neither a state organ, a force nor an armed group
    ("supermarkets go to war", "farmers blockade", "a gunman opened fire"). Names, demonyms
    and places are parties (or unknown, and kept); a speaker is a source, never judged here.
    """
    for i in hit.actors:
        if i in hit.speakers:
            return False
        if _placed(i, places):
            return False  # "the U.S. attack", "Russia": a party
        if hit.start <= i < hit.end or i in hit.bidden:
            continue  # "air strikes kill 30": the cue is not its own actor; "ordered a cut to"
        tok = doc[i]
        if tok.lemma_.lower() in places_not_parties:
            continue  # a misparsed headline's "army post" or "town" is where, not who
        if any(
            c.dep_ in ("compound", "amod", "poss", "nmod") and _placed(c.i, places, "armed_group")
            for c in tok.children
        ):
            return False  # "Al-Shabaab gunmen", "Houthi fighters" (not "Polish lorry drivers")
        if any(
            c.dep_ == "prep"
            and c.lower_ in ("from", "of", "with", "loyal")
            and any(_placed(g.i, places, "armed_group") for g in c.subtree)
            for c in tok.children
        ):
            return False  # "gunmen from al-Shabaab", "fighters loyal to the PKK": the group's
        if any(
            c.dep_ == "conj" and (_placed(c.i, places) or c.lemma_.lower() in party_nouns)
            for c in tok.children
        ):
            return False  # "police and guerrillas fought": a party among those who act
        of = [g for c in tok.children if c.dep_ == "prep" and c.lower_ == "of" for g in c.children]
        if of and tok.lemma_.lower() in party_nouns and not tok.ent_type_:
            tok = of[0]  # "a wave of drones", "a column of tanks": the drones, the tanks
        if tok.pos_ != "NOUN":
            return False
        return tok.lemma_.lower() not in party_nouns
    return False


def political_actor(hit: Hit, doc: Doc, bodies: frozenset[str]) -> bool:
    """Whether the one who acts is a faction of a party or a parliament ("rebels in the
    ruling party", "Tory rebels", "backbench rebels threatened to bring down the government"):
    words, not force, whatever noun names them."""
    for i in hit.actors:
        if i in hit.speakers or hit.start <= i < hit.end:
            continue
        tok = doc[i]
        mods = [c for c in tok.children if c.dep_ in ("amod", "compound", "nmod", "poss")]
        mods += [
            g
            for c in tok.children
            if c.dep_ == "prep" and c.lower_ in ("in", "of", "within", "from")
            for g in c.children
            if g.dep_ == "pobj"
        ]
        return any(m.lemma_.lower() in bodies and not _in_place(m, doc) for m in mods)
    return False  # ("rebels of the Kurdistan Workers' Party" are the PKK, a gazetteer group)


def armed_actor(hit: Hit, doc: Doc, places: Sequence[Place], armed: frozenset[str]) -> bool:
    """Whether an attack verb has an armed party or a state behind it: a military word in the
    sentence, or an actor that is a gazetteer place or an armed role ("rebels", "warplanes").
    A person or a party politician who "attacked" a plan is speaking, not fighting."""
    sent = doc[hit.head].sent
    if any(t.lemma_.lower() in armed for t in sent if not hit.start <= t.i < hit.end):
        return True
    for i in hit.actors:
        if i in hit.speakers:
            break
        if _placed(i, places) or doc[i].lemma_.lower() in armed:
            return True
        lo, hi = doc[i].left_edge.i, doc[i].right_edge.i + 1
        return any(lo <= p.start < hi and p.type != "organisation" for p in places)
    return False


def state_actor(hit: Hit, doc: Doc, places: Sequence[Place], party_nouns: frozenset[str]) -> bool:
    """Whether the one who takes a coercive step is a state or one of its organs: a gazetteer
    place (or its organ: "Moscow's government", "the Russian ministry"), or a party noun
    ("the government", "the council"). Unknown names (firms, airlines) are not."""
    for i in hit.actors:
        if i in hit.speakers or hit.start <= i < hit.end:
            continue
        tok = doc[i]
        if _placed(i, places):
            return True
        return tok.pos_ == "NOUN" and tok.lemma_.lower() in party_nouns  # not "Polish drivers"
    verb = doc[hit.head] if doc[hit.head].pos_ == "VERB" else doc[hit.head].head
    subjects = [c for c in verb.children if c.dep_ == "nsubj"]
    if subjects and subjects[0].lower_ in PRONOUNS and verb.dep_ in ("ccomp", "parataxis"):
        subjects = [c for c in verb.head.children if c.dep_ == "nsubj"]  # "Washington said it"
    if subjects:  # "Israel halts aid entry" (misparsed headline); "It suspended flights": unknown
        return _placed(subjects[0].i, places)
    sent = doc[hit.head].sent  # a passive with nobody named: a state in the sentence will do
    return any(sent.start <= p.start < sent.end for p in places)
