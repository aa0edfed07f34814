"""Size caps: nothing alerting writes (contribution, table value, alert) can outgrow a Kafka
record, whatever an enriched article carries (pure, no network)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from services.alerting import caps
from services.alerting.rules import parse_rules
from shared import codec
from shared.limits import MAX_RECORD_BYTES, LimitError
from shared.schemas import Article, EnrichedArticle
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import AlertReader, produce
from tests.alerting.test_engine import RULES, H, Harness
from tests.conftest import wait_for

BIG = 400_000


def huge(article_id: str, i: int, **fields: Any) -> EnrichedArticle:
    base = enriched(article_id, at=T0 + i * H / 4)
    update = {"source": "S" * BIG, **fields}
    return base.model_copy(update={"article": base.article.model_copy(update=update)})


def test_four_stories_with_a_400kb_source_keep_every_record_under_the_limit() -> None:
    h = Harness()
    alerts = [a for i in range(4) for a in h.alerts(huge(f"s{i}", i))]
    contributions = [c for i in range(4) for c in h.rules.contributions(huge(f"s{i}", i))]
    assert max(len(codec.encode(c)) for c in contributions) < 10_000
    assert {a.rule for a in alerts} >= {"per-article", "three-stories"}
    for value in h.state.values():
        assert len(orjson.dumps(value)) <= caps.MAX_STATE_BYTES < MAX_RECORD_BYTES
    for alert in alerts:
        assert len(codec.encode(alert)) < MAX_RECORD_BYTES
        for a in alert.articles:
            assert a.source is not None
            assert len(a.source) == caps.MAX_SOURCE_CHARS
            assert a.source.endswith(caps.ELLIPSIS)
    window = [a for a in alerts if a.rule == "three-stories"]
    assert window[-1].count == 3  # counts are exact, only text is cut


def test_huge_title_url_sentence_and_names_are_cut_and_the_cue_kept() -> None:
    sentence = "x " * BIG + "Russia has massed troops near its border with Ukraine." + " y" * BIG
    sig = signal(actor="A" * BIG, target="B" * BIG, sentence=sentence, cue="massed troops")
    base = enriched("big", [sig])
    art = base.article.model_copy(update={"title": "T" * BIG, "url": "https://x/" + "u" * BIG})
    h = Harness()
    alerts = h.alerts(base.model_copy(update={"article": art}))
    assert alerts
    for alert in alerts:
        assert len(codec.encode(alert)) < 50_000
        ev = alert.evidence[0]
        assert len(ev.sentence) <= caps.MAX_SENTENCE_CHARS
        assert "massed troops" in ev.sentence
        assert ev.actor is not None
        assert len(ev.actor) == caps.MAX_NAME_CHARS
        assert all(len(n) <= caps.MAX_NAME_CHARS for n in alert.group.actors)
        assert len(alert.articles[0].title) == caps.MAX_TITLE_CHARS
        assert alert.articles[0].url is not None
        assert len(alert.articles[0].url) == caps.MAX_URL_CHARS


def test_a_story_with_many_copies_keeps_its_state_bounded_and_its_source_count() -> None:
    h = Harness()
    h.feed(huge("w0", 0))
    for n in range(1, 60):
        h.feed(huge(f"w{n}", 0, duplicate=enriched("x", duplicate_of="w0").article.duplicate))
    for value in h.state.values():
        assert len(orjson.dumps(value)) <= caps.MAX_STATE_BYTES
        assert [e["sources"] for e in value["entries"]] == [60]


def test_five_hundred_big_stories_in_one_group_stay_under_the_state_limit() -> None:
    rules = parse_rules(RULES.split("  - name: corroborated", maxsplit=1)[0])
    h = Harness()
    h.rules = rules
    h.engine.rules = rules
    for i in range(500):
        sentence = (
            f"Story {i}: Russia has massed troops near its border with Ukraine. " + "z" * 5000
        )
        art = huge(f"s{i:03d}", 0, title="T" * 5000)
        h.feed(art.model_copy(update={"signals": [signal(sentence=sentence)]}))
    for value in h.state.values():
        assert len(orjson.dumps(value)) <= caps.MAX_STATE_BYTES


def test_an_id_too_long_to_be_an_id_is_refused_as_too_large() -> None:
    base = enriched("x")
    art: Article = base.article.model_copy(update={"id": "i" * 1000})
    with pytest.raises(LimitError) as err:
        Harness().rules.contributions(base.model_copy(update={"article": art}))
    assert err.value.reason == "too_large"


def test_clip_around_keeps_the_cue_and_marks_both_cuts() -> None:
    text = "a" * 50 + "CUE" + "b" * 50
    out = caps.clip_around(text, 50, 53, 21)
    assert len(out) == 21
    assert "CUE" in out
    assert out.startswith(caps.ELLIPSIS)
    assert out.endswith(caps.ELLIPSIS)
    assert caps.clip_around("short", 0, 1, 10) == "short"
    assert caps.clip("abcdef", 4) == "abc" + caps.ELLIPSIS


@pytest.mark.kafka
def test_the_400kb_source_attack_on_the_running_service_alerts_and_keeps_running(
    settings: Settings, group_id: str, start_service: Any
) -> None:
    svc = start_service("alerting", settings)
    reader = AlertReader(settings, group_id)
    try:
        produce(settings, [huge(f"s{i}", i) for i in range(4)])
        wait_for(
            lambda: any(a.rule == "pair-escalation-reported-widely" for a in reader.poll()),
            timeout=60,
            message="the window alert over the four stories",
        )
        produce(settings, [enriched("after", [signal(actor="Poland")], at=T0 + 3 * H)])
        wait_for(
            lambda: any(a.articles[0].id == "after" for a in reader.poll()),
            timeout=60,
            message="an alert for an article sent after the attack",
        )
        assert svc.healthy()
        assert all(len(codec.encode(a)) < MAX_RECORD_BYTES for a in reader.poll())
    finally:
        reader.close()
