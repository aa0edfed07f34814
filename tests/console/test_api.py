"""The console's API on the real broker, beside the real alerting service: articles published
to ``articles.enriched`` -> alerts in the API; filters, search, explain, silences (and a new
matching alert suppressed), feedback on ``alerts.feedback``, the token, limits, OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared import codec
from shared.schemas import Feedback
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import AlertReader, produce
from tests.alerting.test_service import seed_like
from tests.conftest import ROOT, metric_value, wait_for
from tests.console.helpers import H, call, console_env, read_topic

pytestmark = pytest.mark.kafka


def ids(body: dict[str, Any]) -> set[str]:
    return {a["id"] for a in body["alerts"]}


def test_alerts_flow_into_the_api_and_can_be_searched_explained_silenced_and_judged(
    settings: Settings, start_service: Any, group_id: str
) -> None:
    alerting = start_service("alerting", settings, wait=False)
    console = start_service("console", settings, wait=False, **console_env())
    alerting.wait_healthy()
    console.wait_healthy()
    base = console.url("")
    reader = AlertReader(settings, group_id)
    try:
        produce(settings, seed_like())
        wait_for(lambda: len(reader.poll()) >= 3, timeout=60, message="3 alerts on the topic")
        on_topic = {a.id: a for a in reader.poll()}
        # on the topic -> in the API within 2 s
        wait_for(
            lambda: ids(call(base, "/api/alerts")[1]) == set(on_topic),
            timeout=2,
            message="the topic's alerts in the API",
        )
        by_rule = {a.rule: a for a in on_topic.values()}
        expulsion = by_rule["sanctions-expulsions"]

        # filters: severity, rule, actor/target by name or ISO code, kind, text, story, time
        def q(query: str) -> set[str]:
            status, body = call(base, "/api/alerts?" + query)
            assert status == 200, body
            return ids(body)

        assert q("min_severity=warning") == {
            a.id for a in on_topic.values() if a.severity.rank >= 1
        }
        assert q("rule=sanctions-pressure") == {by_rule["sanctions-pressure"].id}
        assert q("actor=Poland") == q("actor=POL") == q("actor=pol") == {expulsion.id}
        assert q("target=RUS") == {
            by_rule["sanctions-pressure"].id,
            expulsion.id,
        }
        assert q("kind=diplomatic_expulsion") == {expulsion.id}
        assert q("q=diplomats") == q("q=expel") == {expulsion.id}  # prefix match, article text
        assert q("story=seed-expulsion") == {expulsion.id}
        assert q("since=2021-04-13T08:20:00Z") == {expulsion.id}
        assert q("until=2021-04-13T08:05:00Z") == {by_rule["buildup-or-mobilization"].id}
        assert call(base, "/api/alerts?kind=nonsense")[0] == 400
        assert call(base, "/api/alerts?q=%22unbalanced%20NEAR(")[0] == 200  # no FTS syntax error

        # one alert, its article with signals, stories, dyad timeline
        status, one = call(base, f"/api/alerts/{expulsion.id}")
        assert status == 200
        assert one["group"]["key"] == expulsion.group.key
        assert one["codes"]["parties"] == {"Poland": "POL", "Russia": "RUS"}
        assert one["codes"]["events"]["diplomatic_expulsion"] == {
            "cameo": "15",
            "plover": "MOBILIZE",
        }
        status, article = call(base, "/api/articles/seed-expulsion")
        assert status == 200 and article["signals"][0]["cue"] == "expelled three Russian diplomats"
        assert call(base, "/api/articles/nope")[0] == 404
        # an article the store did not keep (no signals, cited by nothing): read from its
        # partition of articles.enriched when asked for, then kept
        status, fans = call(base, "/api/articles/seed-army-of-fans")
        assert (
            status == 200 and fans["signals"] == [] and fans["article"]["id"] == "seed-army-of-fans"
        )
        status, why = call(base, "/api/explain", "POST", {"article_id": "seed-army-of-fans"})
        assert status == 200
        assert all(r["why"] == ["no escalation signal in the article"] for r in why["rules"])
        stories = {s["story"]: s for s in call(base, "/api/stories")[1]["stories"]}
        assert {"seed-buildup", "seed-sanctions-called", "seed-expulsion"} <= set(stories)
        status, dyad = call(base, "/api/dyads/RUS/UKR?bucket=hour")
        assert dyad["series"] == [
            {"bucket": "2021-04-13T08:00Z", "articles": 1, "kinds": {"military_buildup": 1}}
        ]

        # explain an article the store holds: the negated one did not alert, and why
        status, why = call(base, "/api/explain", "POST", {"article_id": "seed-denial"})
        assert status == 200, why
        assert why["signals"][0]["reasons"][0].startswith("negated")
        assert not any(r["matched"] for r in why["rules"])
        assert any("negated" in " ".join(r["why"]) for r in why["rules"])
        # ... and pasted text, through the real spaCy pipeline
        status, why = call(
            base,
            "/api/explain",
            "POST",
            {
                "title": "Troops at the border",
                "text": "Russia has massed tens of thousands of troops near its border with "
                "Ukraine, officials said on Tuesday.",
            },
        )
        assert status == 200, why
        assert [s["kind"] for s in why["signals"]] == ["military_buildup"]
        matched = {r["rule"] for r in why["rules"] if r["matched"]}
        assert "buildup-or-mobilization" in matched
        assert any("cue" in s["css"].split() for s in why["segments"])

        # silences: an unknown group key is refused; a known one silences a new matching alert
        status, body = call(base, "/api/silences", "POST", {"group": "not-a-key"})
        assert status == 400 and "no alert has group key" in body["error"]
        buildup = by_rule["buildup-or-mobilization"]
        status, silence = call(
            base, "/api/silences", "POST", {"group": buildup.group.key, "for": "1h", "comment": "t"}
        )
        assert status == 201, silence
        wait_for(
            lambda: any(
                s["id"] == silence["id"] for s in call(base, "/api/silences")[1]["silences"]
            ),
            message="the silence read back from the topic",
        )
        wait_for(
            lambda: call(alerting.url(""), "/healthz")[1].get("silences", 0) >= 1,
            message="alerting knows the silence",
        )
        # the same group in a later bucket (not throttled), an old article date: silenced now
        produce(settings, [enriched("seed-buildup-2", at=T0 + 13 * H)])
        produce(settings, [enriched("other-pair", [signal(target="Poland")], at=T0 + 13 * H)])
        wait_for(
            lambda: any(a.articles[0].id == "other-pair" for a in reader.poll()),
            timeout=30,
            message="the unsilenced alert",
        )
        assert not any(a.articles[0].id == "seed-buildup-2" for a in reader.poll())
        assert (
            metric_value(alerting.metrics(), "brink_alerting_suppressed_total", reason="silenced")
            >= 1
        )
        status, _ = call(base, f"/api/silences/{silence['id']}", "DELETE")
        assert status == 200
        wait_for(lambda: not call(base, "/api/silences")[1]["silences"], message="silence expired")

        # acknowledgement and false-alarm feedback: one compacted record per alert id
        pressure = by_rule["sanctions-pressure"]
        status, fb = call(base, f"/api/alerts/{pressure.id}/ack", "POST", {"by": "ana"})
        assert status == 200 and fb["acknowledged"] is True
        wait_for(
            lambda: (call(base, f"/api/alerts/{pressure.id}")[1]["feedback"] or {}).get(
                "acknowledged"
            ),
            message="ack read back",
        )
        status, fb = call(
            base,
            f"/api/alerts/{pressure.id}/feedback",
            "POST",
            {"false_alarm": True, "comment": "a call, not a step", "by": "ana"},
        )
        assert status == 200
        records = read_topic(settings, settings.topics.feedback)
        assert [k for k, _ in records] == [pressure.id.encode()] * 2
        last = json.loads(records[-1][1] or b"")
        schema = json.loads((ROOT / "schemas" / "alerts.feedback.schema.json").read_text())
        jsonschema.validate(last, schema)
        model = codec.decode(records[-1][1] or b"", Feedback)
        assert (model.acknowledged, model.false_alarm, model.comment) == (
            True,
            True,
            "a call, not a step",
        )
        assert call(base, "/api/alerts/nope/ack", "POST", {})[0] == 404

        # OpenAPI, metrics
        status, doc = call(base, "/api/openapi.json")
        assert doc["openapi"].startswith("3.1") and "/api/stream" in doc["paths"]
        text = console.metrics()
        assert metric_value(text, "brink_console_actions_total", action="silence") == 1
        assert metric_value(text, "brink_console_records_total") >= 5
    finally:
        reader.close()


def test_write_actions_need_the_token_and_bodies_are_limited(
    settings: Settings, start_service: Any, tmp_path: Path
) -> None:
    console = start_service(
        "console",
        settings,
        **console_env(BRINK_CONSOLE_TOKEN="s3cret", BRINK_CONSOLE_EXPLAIN="off"),
    )
    base = console.url("")
    body = {"rule": "per-article", "for": "1h"}
    assert call(base, "/api/silences", "POST", body)[0] == 401
    assert (
        call(base, "/api/silences", "POST", body, headers={"Authorization": "Bearer wrong"})[0]
        == 401
    )
    status, made = call(
        base, "/api/silences", "POST", body, headers={"Authorization": "Bearer s3cret"}
    )
    assert status == 201, made
    assert call(base, f"/api/silences/{made['id']}", "DELETE")[0] == 401
    # reading needs no token; a cross-site form (not JSON) cannot write
    assert call(base, "/api/alerts")[0] == 200
    status, _ = call(
        base,
        "/api/silences",
        "POST",
        raw=b"rule=x",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Bearer s3cret",
        },
    )
    assert status == 415
    # request size limit (256 KiB by default)
    big = json.dumps({"text": "x" * 400_000}).encode()
    assert call(base, "/api/explain", "POST", raw=big)[0] == 413
    # loopback by default
    assert "http://127.0.0.1:" in console.log_tail()


def test_every_page_renders_from_the_store(settings: Settings, start_service: Any) -> None:
    from tests.console.helpers import publish_articles_and_alerts

    console = start_service("console", settings, **console_env(BRINK_CONSOLE_EXPLAIN="off"))
    base = console.url("")
    (alert,) = publish_articles_and_alerts(settings, [enriched("page-1")])
    wait_for(lambda: call(base, f"/api/alerts/{alert.id}")[0] == 200, message="alert stored")
    pages = {
        "/": "Russia → Ukraine: military buildup",
        f"/alerts/{alert.id}": "massed troops",
        "/stories": "Story page-1",
        "/stories/page-1": "1 alert cite",
        "/dyads": "Russia → Ukraine",
        "/dyads/RUS/UKR": "<svg",
        "/dyads/Russia/Ukraine?bucket=hour": "<rect",
        "/explain?article_id=page-1": "buildup-or-mobilization",
        "/silences": "No silences.",
        "/alerts/nope": "no alert",
    }
    for path, expected in pages.items():
        status, html = call(base, path)
        assert status == (404 if path.endswith("nope") else 200), (path, html)
        assert expected in html, path
    # the explain form posts like a browser (form-encoded, no token needed: it writes nothing)
    status, html = call(
        base,
        "/explain",
        "POST",
        raw=b"article_id=page-1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and "Verdict: escalation" in html
    status, html = call(base, "/static/console.js")
    assert status == 200 and "EventSource" in html
