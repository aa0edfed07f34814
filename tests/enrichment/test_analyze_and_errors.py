"""`brink analyze` end to end (same Enricher, per-article rules) and the service's guard that
one bad article cannot take its batch down."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from services.cli.__main__ import main as brink
from services.enrichment.app import EnrichmentService
from services.enrichment.pipeline import Enricher
from tests.conftest import SEEDS
from tests.enrichment.conftest import make_article, seed_article

pytestmark = pytest.mark.slow


def test_analyze_prints_one_line_per_article(
    tmp_path: Path, corpus: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "articles.jsonl"
    ids = ["reuters-245", "bbc-sport-101", "bbc-business-001"]
    path.write_bytes(b"\n".join(orjson.dumps(corpus[i]) for i in ids) + b"\n")
    assert brink(["analyze", str(path)]) == 0
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["external_id"] for x in lines] == ids
    by_id = {x["external_id"]: x for x in lines}
    # the same id, cleaning and language as ingest gives the same record
    from services.cli.analyze import article_from_record
    from services.ingest.normalise import normalise
    from shared.schemas import RawArticle

    live = normalise(
        RawArticle(title=corpus[ids[0]]["title"], text=corpus[ids[0]]["text"], id=ids[0]),
        article_from_record(corpus[ids[0]]).received_at,
    )
    assert by_id[ids[0]]["id"] == live.id
    assert by_id["reuters-245"]["escalation"] is True
    assert by_id["bbc-sport-101"]["escalation"] is False
    clash = by_id["reuters-245"]["signals"][0]
    for field in ("kind", "cue", "sentence", "start", "end", "negated", "hedged", "demanded"):
        assert field in clash
    assert {"actor", "target", "weight", "cameo", "plover", "contribution"} <= set(clash)
    assert by_id["reuters-245"]["score"] >= clash["contribution"] > 0
    assert isinstance(by_id["reuters-245"]["alerts"], list)
    assert by_id["reuters-245"]["entities"]


def test_analyze_only_escalation_and_plain_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert brink(["analyze", str(SEEDS / "negatives.jsonl"), "--only-escalation"]) == 0
    assert capsys.readouterr().out.strip() == ""
    assert brink(["analyze", str(SEEDS / "nato-russia-ukraine-troops.txt")]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    out = orjson.loads(line)
    assert out["escalation"] is True and out["alerts"], "the seed raises a per-article alert"


def test_one_failing_article_does_not_take_the_batch(enricher: Enricher) -> None:
    poison = make_article("This article makes the pipeline fail.", "Poison")

    class Flaky:
        def enrich(self, articles: list[Any]) -> list[Any]:
            if any(a.id == poison.id for a in articles):
                raise RuntimeError("boom")
            return enricher.enrich(articles)

    host = SimpleNamespace(enricher=Flaky())
    out = EnrichmentService.enrich_each(host, [seed_article(), poison])  # type: ignore[arg-type]
    assert out[0].escalation is True  # type: ignore[union-attr]
    assert isinstance(out[1], RuntimeError)


def test_enormous_article_is_analysed_up_to_the_limit(enricher: Enricher) -> None:
    filler = "The committee met again and discussed the budget in detail. " * 6000
    big = make_article(filler + "Russia moved thousands of troops to the border.", "Long")
    result = enricher.enrich([big])[0]
    assert result.status == "ok"
    assert len(big.body) > enricher.max_chars
    assert not result.signals  # the cue lies past the analysed prefix


def test_analyze_says_skipped_language_for_non_english(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fr.jsonl"
    text = (
        "La Russie a massé des dizaines de milliers de soldats à la frontière ukrainienne, "
        "selon le ministère de la Défense, qui parle d'une menace pour toute la région."
    )
    path.write_bytes(orjson.dumps({"title": "Troupes à la frontière", "text": text}) + b"\n")
    assert brink(["analyze", str(path)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    out = orjson.loads(line)
    assert out["status"] == "skipped_language" and out["signals"] == []
