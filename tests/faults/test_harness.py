"""The fault harness's own logic, without a broker: the account it keeps must catch a lost
record, a bad input that got through and one that vanished, and its inputs must repeat."""

from __future__ import annotations

import random

import orjson

from tests.faults.harness import Row, Sent, Tally, Watch, evaluate, format_table, tag_of
from tests.faults.inputs import BAD_CASES, TAG_HEADER, Item, bad_items, url_for


def item(tag: str, kind: str = "good", via: str = "kafka") -> Item:
    value = orjson.dumps({"text": "t", "url": url_for("r", tag)})
    return Item(tag, kind, "case", value, via)


def test_a_good_record_missing_downstream_is_lost() -> None:
    tally = Tally()
    tally.article_tags.update(["g000001", "g000002", "g000003"])
    tally.enriched_tags.update(["g000001", "g000003"])
    tally.dlq_tags["g000004"] = "enrichment:processing_error"
    ledger = [Sent(item(f"g00000{i}"), acked=True) for i in range(1, 6)]
    out = evaluate(ledger, tally)
    assert out.good_tracked == 5
    assert out.good_deadlettered == 1
    assert [x.split(" ")[0] for x in out.lost] == ["g000002", "g000005"]
    assert "not in articles.enriched" in out.lost[0]
    assert "not in articles and not dead-lettered" in out.lost[1]


def test_good_http_items_count_only_when_accepted() -> None:
    tally = Tally()
    tally.article_tags["g000001"] += 1
    tally.enriched_tags["g000001"] += 1
    ok = Sent(item("g000001", via="http"), status=202)
    refused = Sent(item("g000002", via="http"), status=503)
    out = evaluate([ok, refused], tally)
    assert len(out.lost) == 1
    assert "never accepted over HTTP" in out.lost[0]


def test_bad_inputs_must_be_refused() -> None:
    tally = Tally()
    tally.dlq_tags["b000001"] = "ingest:malformed_json"
    tally.article_tags["b000002"] += 1
    ledger = [
        Sent(item("b000001", "bad"), acked=True),  # dead-lettered: refused
        Sent(item("b000002", "bad"), acked=True),  # became an article
        Sent(item("b000003", "bad"), acked=True),  # vanished
        Sent(item("b000004", "bad", "http"), status=422),
        Sent(item("b000005", "bad", "http"), status=202),
        Sent(item("b000006", "bad", "http"), status=503),
    ]
    out = evaluate(ledger, tally)
    assert (out.bad_total, out.bad_refused) == (6, 2)
    assert [x.split(" ")[0] for x in out.bad_accepted] == ["b000002", "b000005", "b000006"]
    assert [x.split(" ")[0] for x in out.bad_unaccounted] == ["b000003"]


def test_an_edge_item_may_be_refused_over_http_but_not_lost() -> None:
    tally = Tally()
    ledger = [
        Sent(item("e000001", "edge", "http"), status=400),
        Sent(item("e000002", "edge"), acked=True),
    ]
    out = evaluate(ledger, tally)
    assert out.good_tracked == 1
    assert [x.split(" ")[0] for x in out.lost] == ["e000002"]


def test_tags_are_found_in_headers_and_values() -> None:
    assert tag_of(b"\xff\x00", [(TAG_HEADER, b"b000009")]) == "b000009"
    enriched = orjson.dumps({"article": {"url": url_for("run-1", "g000042"), "body": "x"}})
    assert tag_of(enriched) == "g000042"
    assert tag_of(b"no tag here") is None
    assert tag_of(None) is None


def test_inputs_repeat_for_a_seed_and_cover_every_case() -> None:
    a = bad_items(random.Random(5), "r", 800)
    b = bad_items(random.Random(5), "r", 800)
    assert [(i.tag, i.value) for i in a] == [(i.tag, i.value) for i in b]
    assert {i.case for i in a if i.kind == "bad"} == set(BAD_CASES)
    assert {i.via for i in a} == {"http", "kafka"}
    assert all(i.case != "json_array" for i in a if i.via == "http")  # a valid batch over HTTP


def test_the_table_says_why_a_run_failed() -> None:
    row = Row(run="x", lost=2, failures=["2 lost"])
    text = format_table([row, Row(run="y")])
    assert "| x |" in text
    assert "FAIL" in text
    assert "PASS" in text
    assert "- x: 2 lost" in text


def test_a_restart_killed_again_counts_the_time_it_had_work() -> None:
    w = Watch("kill9(enrichment)", "enrichment", started=100.0, baseline=5, input_baseline=9)
    assert w.waited() is None  # still open
    w.input_at, w.cut_after = 102.0, 30.0
    assert w.waited() == 28.0
    idle = Watch("kill9(alerting)", "alerting", started=100.0, baseline=0, input_baseline=0)
    idle.cut_after = 30.0
    assert idle.waited() is None  # never had input: not its failure
    row = Row(run="k", recovery_s=28.0, recovery_at_least=True)
    assert "| >28.0 |" in format_table([row])
