"""Rules file loading and per-article evaluation (pure, no network)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from services.alerting.rules import (
    RulesError,
    load_rules,
    parse_duration,
    parse_rules,
)
from shared.schemas import Modality, Severity, SignalKind
from tests.alerting.factories import T0, enriched, signal

SIMPLE = """
watchlists:
  flank: [Poland, Estonia]
rules:
  - name: buildup
    kinds: [military_buildup]
    severity: warning
    escalate:
      - {min_score: 8, severity: critical}
  - name: pressure
    kinds: [sanctions]
    include_demanded: true
    severity: info
  - name: flank
    targets: {any: ["@flank"]}
    severity: critical
  - name: not-china
    kinds: [threat]
    actors: {none: [CHN]}
"""


def test_default_rules_file_loads_and_has_every_rule_type() -> None:
    rules = load_rules()
    types = {type(r).__name__ for r in rules.rules}
    assert types == {"ArticleRule", "WindowRule", "SpikeRule"}
    assert "sanctions-pressure" in rules.by_name


def test_buildup_article_raises_one_alert_with_evidence_and_readable_summary() -> None:
    rules = parse_rules(SIMPLE)
    alerts = rules.evaluate_article(enriched("a1"))
    assert [a.rule for a in alerts] == ["buildup"]
    alert = alerts[0]
    assert alert.severity is Severity.WARNING
    assert alert.summary == "Russia → Ukraine: military buildup reported by Wire A"
    assert alert.group.actors == ["Russia"]
    assert alert.group.targets == ["Ukraine"]
    assert alert.articles[0].id == "a1"
    ev = alert.evidence[0]
    assert ev.sentence[ev.start : ev.end] == "massed troops"
    assert alert.first_seen == T0
    assert alert.count == 1


def test_alert_ids_depend_on_group_bucket_and_severity_not_on_which_story() -> None:
    rules = parse_rules(SIMPLE)  # repeat_interval 6h: buckets 06:00-12:00, 12:00-18:00 UTC
    first = rules.evaluate_article(enriched("a1"))[0]
    again = parse_rules(SIMPLE).evaluate_article(enriched("a1"))[0]
    same_bucket = rules.evaluate_article(enriched("a2", at=T0 + timedelta(hours=3)))[0]
    next_bucket = rules.evaluate_article(enriched("a3", at=T0 + timedelta(hours=4)))[0]
    copy = rules.evaluate_article(enriched("a4", duplicate_of="a1"))[0]
    poland = rules.evaluate_article(enriched("a5", [signal(target="Poland")]))[0]
    assert first.id == again.id == same_bucket.id == copy.id
    assert len({first.id, next_bucket.id, poland.id}) == 3
    assert first.group.key == next_bucket.group.key


@pytest.mark.parametrize("modality", [Modality.NEGATED, Modality.HISTORICAL, Modality.HYPOTHETICAL])
def test_negated_historical_and_hedged_signals_do_not_count_by_default(
    modality: Modality,
) -> None:
    rules = parse_rules(SIMPLE)
    assert rules.evaluate_article(enriched("a1", [signal(modality=modality)])) == []


def test_demanded_sanctions_count_only_where_the_rule_includes_them() -> None:
    rules = parse_rules(SIMPLE)
    called_for = signal(SignalKind.SANCTIONS, "NATO", "Russia", modality=Modality.DEMANDED)
    alerts = rules.evaluate_article(enriched("a1", [called_for]))
    assert [(a.rule, a.severity) for a in alerts] == [("pressure", Severity.INFO)]
    assert alerts[0].evidence[0].modality is Modality.DEMANDED


def test_default_rules_alert_on_called_for_sanctions_at_lower_severity() -> None:
    rules = load_rules()
    called = enriched(
        "a1", [signal(SignalKind.SANCTIONS, "NATO", "Russia", modality=Modality.DEMANDED)]
    )
    imposed = enriched("a2", [signal(SignalKind.SANCTIONS, "NATO", "Russia")])
    called_alerts = rules.evaluate_article(called)
    imposed_alerts = rules.evaluate_article(imposed)
    assert {a.rule for a in called_alerts} == {"sanctions-pressure"}
    assert {a.rule for a in imposed_alerts} == {"sanctions-expulsions"}
    assert max(a.severity.rank for a in called_alerts) < max(
        a.severity.rank for a in imposed_alerts
    )


def test_watchlist_filters_any_and_none() -> None:
    rules = parse_rules(SIMPLE)
    on_poland = enriched("a1", [signal(SignalKind.ARMED_CLASH, "Russia", "Poland")])
    assert [a.rule for a in rules.evaluate_article(on_poland)] == ["flank"]
    china_threat = enriched("a2", [signal(SignalKind.THREAT, "China", "Ukraine")])
    russia_threat = enriched("a3", [signal(SignalKind.THREAT, "Russia", "Ukraine")])
    assert [a.rule for a in rules.evaluate_article(china_threat)] == []
    assert [a.rule for a in rules.evaluate_article(russia_threat)] == ["not-china"]


def test_all_filter_needs_every_name() -> None:
    rules = parse_rules("rules:\n  - name: both\n    entities: {all: [Russia, NATO]}\n")
    assert rules.evaluate_article(enriched("a1")) == []
    two = enriched("a2", [signal(), signal(SignalKind.THREAT, "NATO", "Russia")])
    assert [a.rule for a in rules.evaluate_article(two)] == ["both", "both"]


def test_severity_escalates_with_score_and_min_score_filters() -> None:
    rules = parse_rules(SIMPLE)
    assert rules.evaluate_article(enriched("a1", score=9))[0].severity is Severity.CRITICAL
    strict = parse_rules("rules:\n  - name: big\n    min_score: 6\n")
    assert strict.evaluate_article(enriched("a1", score=5)) == []
    assert len(strict.evaluate_article(enriched("a1", score=6))) == 1


def test_group_by_kind_splits_groups() -> None:
    rules = parse_rules("rules:\n  - name: r\n    group_by: [actor, target, kind]\n")
    two = enriched("a1", [signal(), signal(SignalKind.THREAT)])
    alerts = rules.evaluate_article(two)
    assert sorted(k for a in alerts for k in a.group.kinds) == ["military_buildup", "threat"]
    assert len({a.group.key for a in alerts}) == 2


def test_deescalation_never_counts_unless_named() -> None:
    rules = parse_rules("rules:\n  - name: any\n")
    calm = enriched("a1", [signal(SignalKind.DEESCALATION)])
    assert rules.evaluate_article(calm) == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("rules:\n  - name: a\n    type: window\n    min_stories: zero\n", 4, "min_stories"),
        ("rules:\n  - name: a\n    kinds: [troops]\n", 3, "kinds"),
        ("rules:\n  - name: a\n    windw: 3h\n", 3, "windw"),
        ("rules:\n  - name: a\n  - name: a\n", 3, "used twice"),
        ("rules:\n  - name: a\n    type: window\n    window: soon\n", 4, "duration"),
        ("rules: [\n  {name: a\n", 3, "not valid YAML"),
        ("rules:\n  - name: a\n    targets: {any: ['@nope']}\n", 3, "watch-list"),
        ("rules:\n  - name: a\n    type: wndow\n", 2, "type must be"),
    ],
)
def test_malformed_rules_are_refused_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(text, "my-rules.yaml")
    assert f"my-rules.yaml: line {line}:" in str(err.value)
    assert words in str(err.value)


def test_missing_rules_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")


def test_durations() -> None:
    assert parse_duration("6h").total_seconds() == 21600
    assert parse_duration("1w").days == 7
    assert parse_duration(90).total_seconds() == 90
    with pytest.raises(ValueError, match="duration"):
        parse_duration("six hours")


def test_a_signal_missing_its_target_joins_the_articles_matching_pair() -> None:
    rules = parse_rules("rules:\n  - name: r\n")
    article = enriched(
        "a1",
        [
            signal(),
            signal(target=None, cue="massed", sentence="Russia massed more armour."),
            signal(SignalKind.THREAT, "Russia", None, cue="warned"),
            signal(actor="Belarus", target=None),  # no Belarus pair: stays unknown
        ],
    )
    alerts = rules.evaluate_article(article)
    pairs = sorted((a.group.actors, a.group.targets, len(a.evidence)) for a in alerts)
    assert pairs == [(["Belarus"], [], 1), (["Russia"], ["Ukraine"], 3)]
    assert "Belarus → unknown" in next(a.summary for a in alerts if a.group.actors == ["Belarus"])


def test_window_rules_skip_signals_without_a_pair() -> None:
    rules = parse_rules("rules:\n  - name: w\n    type: window\n    min_stories: 1\n")
    lone = enriched("a1", [signal(actor="Belarus", target=None)])
    assert rules.contributions(lone) == []
    assert len(rules.contributions(enriched("a2"))) == 1
