"""Matching, context and actors with the trained pipeline, on the seed article, sentences
from real corpus articles (read from the corpus by id) and the paraphrases and traps the
design names."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.enrichment.pipeline import Enricher, article_text
from shared.schemas import Modality
from tests.conftest import SEEDS
from tests.enrichment.conftest import corpus_sentence, kinds, one, seed_article, signals_of

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- the seed article
@pytest.fixture(scope="module")
def seed(enricher: Enricher) -> Any:
    return enricher.enrich([seed_article()])[0]


def test_seed_article_is_escalation(seed: Any) -> None:
    assert seed.status == "ok"
    assert seed.escalation is True
    assert seed.score > 0


def test_seed_buildup_is_russia_against_ukraine(seed: Any) -> None:
    buildups = [
        s
        for s in signals_of(seed, "military_buildup")
        if s.modality == Modality.ASSERTED and s.actor and s.target
    ]
    assert buildups, seed.signals
    assert any(s.actor.code == "RUS" and s.target.code == "UKR" for s in buildups)


def test_seed_sanctions_are_called_for_by_ukraine_against_russia(seed: Any) -> None:
    called = [s for s in signals_of(seed, "sanctions") if s.demanded]
    assert called, seed.signals
    for s in called:
        assert s.modality == Modality.DEMANDED
        assert s.actor is not None and s.actor.code == "UKR"
    assert any(s.target is not None and s.target.code == "RUS" for s in called)
    kuleba = [s for s in called if s.actor and s.actor.mention == "Kuleba"]
    assert kuleba, "Kuleba's call is attributed to Ukraine through 'Ukraine's Foreign Minister'"
    assert not [s for s in signals_of(seed, "sanctions") if s.modality == Modality.ASSERTED]


def test_seed_not_planning_war_is_negated(seed: Any) -> None:
    war = [s for s in seed.signals if "war" in s.cue and "not planning" in s.sentence]
    assert war and all(s.negated for s in war)


def test_seed_deescalate_immediately_is_a_demand(seed: Any) -> None:
    calm = [s for s in signals_of(seed, "deescalation") if "deescalate" in s.cue]
    assert calm and all(s.demanded and s.modality == Modality.DEMANDED for s in calm)


def test_seed_double_negation_affirms_the_buildup(seed: Any) -> None:
    s = next(s for s in seed.signals if "has not denied" in s.sentence)
    assert s.kind.value == "military_buildup"
    assert s.negated is False


def test_spans_point_into_title_and_body(seed: Any) -> None:
    text = article_text(seed.article)
    for s in seed.signals:
        assert text[s.start : s.end] == s.cue
        assert text[s.sentence_start : s.sentence_end] == s.sentence
    for e in seed.entities:
        assert text[e.start : e.end] == e.text
    codes = {e.code for e in seed.entities}
    assert {"RUS", "UKR", "NATO"} <= codes


# ---------------------------------------------------------------- paraphrases (the issue's)
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The largest massing of troops in years was seen near the frontier.", "military_buildup"),
        ("Russia moved thousands of combat-ready troops to the border.", "military_buildup"),
        ("Satellite images show a build-up of forces along the border.", "military_buildup"),
        ("Armenia called up reservists on Sunday.", "mobilization"),
        ("The EU prepared a new round of sanctions against Belarus.", "sanctions"),
        ("Poland expelled two diplomats from the Russian embassy.", "diplomatic_expulsion"),
    ],
)
def test_paraphrases_match(enricher: Enricher, text: str, kind: str) -> None:
    result = one(enricher, text)
    assert kind in kinds(result, counting=True), result.signals


# ---------------------------------------------------------------- traps that must not escalate
@pytest.mark.parametrize(
    "text",
    [
        "The European Union said sanctions on Ivory Coast were lifted on Thursday.",
        "Russia has no plans to deploy troops to the region, the Kremlin said.",
        "Moscow denied it was planning war with Ukraine.",
        "The two leaders fought a war of words on television.",
        "An army of fans followed the team to Cardiff.",
        "Supermarkets stepped up their price war on Tuesday.",
    ],
)
def test_negative_examples_do_not_escalate(enricher: Enricher, text: str) -> None:
    result = one(enricher, text)
    assert not kinds(result, counting=True), result.signals
    assert result.escalation is False


def test_seed_negatives_file_has_no_escalation(enricher: Enricher) -> None:
    lines = (SEEDS / "negatives.jsonl").read_bytes().splitlines()
    from services.cli.analyze import article_from_record

    results = enricher.enrich([article_from_record(orjson.loads(x)) for x in lines if x.strip()])
    assert results and not [r.article.title for r in results if r.escalation]


def test_seed_expulsion_names_poland_and_belarus(enricher: Enricher) -> None:
    from services.cli.analyze import article_from_record

    article = article_from_record(orjson.loads((SEEDS / "expulsion.json").read_bytes()))
    result = enricher.enrich([article])[0]
    expelled = signals_of(result, "diplomatic_expulsion")
    assert expelled and result.escalation
    assert any(s.actor and s.actor.code == "POL" for s in expelled)
    assert any(s.target and s.target.code == "BLR" for s in expelled)


# ---------------------------------------------------------------- real corpus sentences
def test_corpus_attack_names_both_sides(enricher: Enricher, corpus: dict[str, Any]) -> None:
    text = corpus_sentence(corpus, "reuters-245", "repelled an overnight attack")
    clash = signals_of(one(enricher, text), "armed_clash")
    assert clash
    assert any(
        s.actor and s.actor.code == "IRQ" and s.target and s.target.code == "IRN" for s in clash
    )


def test_corpus_sanctions_against_south_africa(enricher: Enricher, corpus: dict[str, Any]) -> None:
    text = corpus_sentence(corpus, "reuters-338", "trade sanctions against South Africa")
    s = signals_of(one(enricher, text), "sanctions")
    assert s and s[0].actor and s[0].actor.code == "SWE"
    assert s[0].target and s[0].target.code == "ZAF"


def test_corpus_withdrawn_diplomats(enricher: Enricher, corpus: dict[str, Any]) -> None:
    text = corpus_sentence(corpus, "reuters-18553", "withdrew four more diplomats")
    s = signals_of(one(enricher, text), "diplomatic_expulsion")
    assert s and s[0].actor and s[0].actor.code == "GBR"
    assert s[0].target and s[0].target.code == "IRN"


def test_corpus_sport_attack_is_not_a_clash(enricher: Enricher, corpus: dict[str, Any]) -> None:
    text = corpus_sentence(corpus, "bbc-sport-101", "clash with")
    assert not signals_of(one(enricher, text), "armed_clash")


def test_corpus_fiji_trade_ban_lifted_is_deescalation(
    enricher: Enricher, corpus: dict[str, Any]
) -> None:
    result = enricher.enrich([_corpus_article(corpus, "bbc-politics-058")])[0]
    lifted = [s for s in signals_of(result, "deescalation") if "lifted" in s.cue]
    assert lifted


def _corpus_article(corpus: dict[str, Any], article_id: str) -> Any:
    from services.cli.analyze import article_from_record

    return article_from_record(corpus[article_id])


# ---------------------------------------------------------------- bad input
def test_empty_and_foreign_articles_get_a_status(enricher: Enricher) -> None:
    from tests.enrichment.conftest import make_article

    german = (
        "Die Bundesregierung hat am Dienstag neue Sanktionen gegen Russland beschlossen. "
        "Die Massnahmen sollen ab dem kommenden Monat gelten und betreffen vor allem Banken."
    ) * 3
    empty, foreign = enricher.enrich(
        [
            make_article("x").model_copy(update={"title": "", "body": "  \n "}),
            make_article(german).model_copy(update={"language": "und"}),
        ]
    )
    assert empty.status == "empty" and not empty.signals and not empty.escalation
    assert foreign.status == "skipped_language" and not foreign.signals


def test_fast_pass_agrees_with_full_pipeline_on_the_seed(enricher: Enricher) -> None:
    full = Enricher(enricher.nlp, mode="full")
    a, b = enricher.enrich([seed_article()])[0], full.enrich([seed_article()])[0]
    assert a.escalation == b.escalation
    assert {(s.kind, s.start) for s in b.signals} <= {(s.kind, s.start) for s in a.signals}
