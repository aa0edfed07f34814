"""Who did it to whom: actor and target of signals in simple news sentences, from the seed
wires (the project's own material) and real corpus sentences (read from the corpus by id).

The speaker of a reporting verb ("Kyiv said", "Kyiv warns", "officials said") is a source,
not the actor of the event it reports; the actor is the subject of the cue's verb or a
demonym on the cue, the target the country in a "border with X" / "near X border" /
"against X" phrase.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.enrichment.pipeline import Enricher
from shared.schemas import EnrichedArticle, Signal
from tests.conftest import SEEDS
from tests.enrichment.conftest import corpus_sentence, one, signals_of

pytestmark = pytest.mark.slow


def wire_text(needle: str) -> str:
    """The headline or body sentence of a seed wire (seeds/same-story-wires.jsonl) that
    contains ``needle``."""
    for line in (SEEDS / "same-story-wires.jsonl").read_bytes().splitlines():
        if not line.strip():
            continue
        record = orjson.loads(line)
        if needle in record["title"]:
            return str(record["title"])
        for paragraph in record["text"].split("\n"):
            for sentence in paragraph.split(". "):
                if needle in sentence:
                    return str(sentence).strip().rstrip(".") + "."
    raise AssertionError(f"{needle!r} not in the seed wires")


def codes(signals: list[Signal]) -> list[tuple[str | None, str | None]]:
    return [
        (s.actor.code if s.actor else None, s.target.code if s.target else None) for s in signals
    ]


def by_cue(result: EnrichedArticle, kind: str, word: str) -> list[Signal]:
    found = [s for s in signals_of(result, kind) if word in s.cue.lower()]
    assert found, result.signals
    return found


# ---------------------------------------------------------------- the seed wires
def test_headline_reporting_verb_is_a_source_not_a_threat(enricher: Enricher) -> None:
    text = wire_text("Kyiv warns")
    assert text == "Russia masses troops near Ukraine border, Kyiv warns"
    result = one(enricher, "Ukrainian officials spoke on Tuesday.", title=text)
    buildup = by_cue(result, "military_buildup", "masses")
    assert codes(buildup) == [("RUS", "UKR")]
    assert not buildup[0].hedged, "'Kyiv warns' reports the buildup, it does not hedge it"
    assert not signals_of(result, "threat"), result.signals
    assert not [s for s in result.signals if s.actor and s.actor.code == "UKR"]


def test_massed_troops_near_border_with_ukraine(enricher: Enricher) -> None:
    result = one(enricher, wire_text("has massed tens of thousands of troops"))
    massed = by_cue(result, "military_buildup", "massed")
    assert codes(massed) == [("RUS", "UKR")]
    # "..., Ukrainian officials said, the largest build-up of forces": the summary noun takes
    # the reported clause's actor and target, not the speaker
    summary = by_cue(result, "military_buildup", "build-up")
    assert codes(summary) == [("RUS", "UKR")]


def test_demonym_subject_and_frontier_with_ukraine(enricher: Enricher) -> None:
    result = one(enricher, wire_text("Russian forces have deployed"))
    deployed = by_cue(result, "military_buildup", "deployed")
    assert codes(deployed) == [("RUS", "UKR")]
    # "Kyiv said ..., accusing Moscow of preparing for a possible offensive": the accused
    offensive = by_cue(result, "armed_clash", "offensive")
    assert offensive[0].actor is not None and offensive[0].actor.code == "RUS"


def test_demonym_inside_the_cue(enricher: Enricher) -> None:
    result = one(enricher, wire_text("build-up of Russian troops"))
    buildup = by_cue(result, "military_buildup", "build-up")
    assert buildup[0].actor is not None and buildup[0].actor.code == "RUS"
    assert buildup[0].target is None or buildup[0].target.code != "RUS"


def test_speaker_of_said_is_not_the_actor(enricher: Enricher) -> None:
    result = one(enricher, wire_text("defence minister said Moscow had moved"))
    moved = by_cue(result, "military_buildup", "moved")
    assert moved[0].actor is not None and moved[0].actor.code == "RUS"


def test_seed_wire_article_groups_as_russia_against_ukraine(enricher: Enricher) -> None:
    from services.cli.analyze import article_from_record

    first = (SEEDS / "same-story-wires.jsonl").read_bytes().splitlines()[0]
    result = enricher.enrich([article_from_record(orjson.loads(first))])[0]
    assert result.escalation
    buildups = signals_of(result, "military_buildup")
    assert buildups
    asserted = [s for s in buildups if s.actor and not s.historical and not s.negated]
    assert asserted and all(s.actor and s.actor.code == "RUS" for s in asserted)
    assert all(s.target is None or s.target.code == "UKR" for s in buildups)
    assert not [s for s in result.signals if s.actor and s.actor.code == "UKR"]


# ---------------------------------------------------------------- real corpus sentences
@pytest.mark.parametrize(
    "case",
    [
        # "Iraq said its troops repelled an overnight attack by ... Iranian Revolutionary Guards"
        ("reuters-245", "repelled an overnight attack", "armed_clash", "attack", "IRN", None),
        ("reuters-245", "repelled an overnight attack", "armed_clash", "repelled", "IRQ", "IRN"),
        # "An Iranian military commander said Iraqi troops suffered ... an offensive by Iran's"
        ("reuters-3450", "week-old offensive by Iran", "armed_clash", "offensive", "IRN", None),
        # "The United States will likely impose sanctions soon on imports of Japanese chips"
        ("reuters-8044", "will likely impose sanctions", "sanctions", "sanctions", "USA", "JPN"),
        # "... Association urged the U.S. government to impose trade sanctions against Japan"
        ("reuters-9628", "urged the U.S. government", "sanctions", "sanctions", "USA", "JPN"),
        # "A top U.S. Official said Japan has little chance of persuading the U.S. to drop ..."
        ("reuters-14912", "persuading the U.S. to drop", "deescalation", "drop", "USA", None),
        # "Kuwait, whose shipping has come under repeated attack by Iran, ..."
        ("reuters-19491", "repeated attack by Iran", "armed_clash", "attack", "IRN", None),
        # "... a response to Iran, which the Americans blame for two missile attacks ..."
        ("reuters-21563", "which the Americans blame", "armed_clash", "attacks", "IRN", None),
        # a wire dateline is not the actor: "NICOSIA, Oct 19 - Iran warned the United States"
        ("reuters-21517", "Iran warned the United States", "threat", "warned", "IRN", "USA"),
        ("reuters-5164", "revolutionary leader", "threat", "warned", "IRN", None),
        # a warning addressed to someone stays a threat: "has warned Tehran against using ..."
        ("reuters-13963", "has warned Tehran against", "threat", "warned", "USA", "IRN"),
    ],
)
def test_corpus_actor_and_target(
    enricher: Enricher, corpus: dict[str, Any], case: tuple[str, str, str, str, str, str | None]
) -> None:
    """case: article id, words of the sentence, kind, word of the cue, actor, target."""
    article_id, needle, kind, cue, actor, target = case
    result = one(enricher, corpus_sentence(corpus, article_id, needle))
    found = by_cue(result, kind, cue)
    got = codes(found)
    assert any(a == actor for a, _ in got), got
    if target is not None:
        assert (actor, target) in got, got


# ------------------------------------------------ places that name their country (own words)
@pytest.mark.parametrize(
    "case",
    [
        ("Russia strikes Kharkiv with glide bombs", "", "armed_clash", "RUS", "UKR"),
        ("", "Israeli aircraft bombed targets in Rafah overnight.", "armed_clash", "ISR", "PSE"),
        ("", "Turkish warplanes hit Kurdish positions near Kobani.", "armed_clash", "TUR", "SYR"),
        ("", "Iraqi jets attacked the Kharg oil terminal.", "armed_clash", "IRQ", "IRN"),
        # armed men "from" a named group are that group
        ("", "Gunmen from al-Shabaab stormed a hotel in Kismayo.", "armed_clash", "SHABAAB", "SOM"),
        # the accused is the actor, the accuser the target
        ("ANGOLA ACCUSES SOUTH AFRICA OF NEW RAIDS", "", "armed_clash", "ZAF", "AGO"),
    ],
)
def test_city_or_region_names_the_target_country(
    enricher: Enricher, case: tuple[str, str, str, str, str]
) -> None:
    """case: headline, sentence, kind, actor, target."""
    title, text, kind, actor, target = case
    got = codes(signals_of(one(enricher, text, title), kind))
    assert (actor, target) in got, got


@pytest.mark.parametrize(
    "text",
    [
        "Tyre prices rose sharply in the third quarter.",  # a word, not the Lebanese city
        "Marx and Engels wrote the manifesto in 1848.",  # a name, not the Russian air base
        "A Kharkiv court jailed two men for fraud.",  # a place in ordinary news is no signal
    ],
)
def test_place_names_alone_are_no_signal(enricher: Enricher, text: str) -> None:
    assert one(enricher, text).signals == [], text


def test_each_member_of_a_coordinated_actor_gets_the_act(enricher: Enricher) -> None:
    text = "Saudi Arabia, the UAE, Bahrain and Egypt cut air, sea and land links with Qatar."
    result = one(enricher, text)
    got = set(codes(signals_of(result, "sanctions")))
    assert {("SAU", "QAT"), ("ARE", "QAT"), ("BHR", "QAT"), ("EGY", "QAT")} <= got, got
    alone = one(enricher, "Saudi Arabia cut air, sea and land links with Qatar.")
    assert result.score == alone.score  # one cue counts once, however many act


def test_a_reciprocal_act_makes_each_side_the_others_target(enricher: Enricher) -> None:
    text = "Armenian and Azerbaijani forces clashed along the border overnight."
    got = set(codes(signals_of(one(enricher, text), "armed_clash")))
    assert {("ARM", "AZE"), ("AZE", "ARM")} <= got, got
