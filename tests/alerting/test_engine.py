"""Windows, spikes, grouping, throttling and silences with a fake clock (pure, no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.alerting.engine import DUPLICATE, SILENCED, THROTTLED, Engine, Outcome
from services.alerting.rules import RuleSet, Silence, SilenceMatch, parse_rules
from shared.schemas import EnrichedArticle, Severity, SignalKind
from tests.alerting.factories import T0, enriched, signal

NOW = datetime(2030, 1, 1, tzinfo=UTC)  # wall clock: must never change a decision
H = timedelta(hours=1)

RULES = """
rules:
  - name: per-article
    kinds: [military_buildup]
    repeat_interval: 6h
    escalate:
      - {min_score: 8, severity: critical}
  - name: three-stories
    type: window
    window: 6h
    min_stories: 3
    repeat_interval: 6h
    escalate:
      - {min_stories: 5, severity: critical}
  - name: corroborated
    type: window
    window: 6h
    min_stories: 1
    min_sources: 3
    repeat_interval: 6h
  - name: spike
    type: spike
    kinds: [threat]
    window: 1d
    baseline: 4d
    factor: 2
    min_count: 3
    repeat_interval: 1d
"""


class Harness:
    def __init__(self, rules: str = RULES, state: dict[str, Any] | None = None) -> None:
        self.rules: RuleSet = parse_rules(rules)
        self.state: dict[str, Any] = {} if state is None else state
        self.engine = Engine(self.rules, self.state)
        self.silences: list[Silence] = []

    def feed(self, article: EnrichedArticle, now: datetime = NOW) -> list[Outcome]:
        return [
            self.engine.process(c, now, self.silences) for c in self.rules.contributions(article)
        ]

    def alerts(self, article: EnrichedArticle, rule: str | None = None) -> list[Any]:
        out = [o.alert for o in self.feed(article) if o.alert is not None]
        return [a for a in out if rule is None or a.rule == rule]


def test_article_rule_alerts_once_per_group_within_repeat_interval() -> None:
    h = Harness()
    assert [a.rule for a in h.alerts(enriched("a1"), "per-article")] == ["per-article"]
    outcomes = h.feed(enriched("a2", at=T0 + 2 * H))
    assert THROTTLED in [o.suppressed for o in outcomes]
    assert h.alerts(enriched("a3", at=T0 + 7 * H), "per-article")  # interval passed


def test_rising_severity_breaks_through_the_repeat_interval() -> None:
    h = Harness()
    h.alerts(enriched("a1"))
    alerts = h.alerts(enriched("a2", at=T0 + H, score=9), "per-article")
    assert [a.severity for a in alerts] == [Severity.CRITICAL]


def test_a_different_group_is_not_throttled() -> None:
    h = Harness()
    h.alerts(enriched("a1"))
    other = enriched("a2", [signal(actor="Russia", target="Poland")], at=T0 + H)
    assert [a.group.targets for a in h.alerts(other, "per-article")] == [["Poland"]]


def test_redelivery_and_copies_of_a_story_do_not_alert_again() -> None:
    h = Harness()
    first = h.alerts(enriched("a1"), "per-article")
    again = h.feed(enriched("a1"))
    copy = h.feed(enriched("a1-copy", duplicate_of="a1", at=T0 + H, source="Wire B"))
    assert len(first) == 1
    assert {o.suppressed for o in again} == {DUPLICATE}
    assert all(o.alert is None for o in copy)


def test_window_needs_n_distinct_stories_and_fires_once() -> None:
    h = Harness()
    assert h.alerts(enriched("s1"), "three-stories") == []
    assert h.alerts(enriched("s2", at=T0 + H), "three-stories") == []
    fired = h.alerts(enriched("s3", at=T0 + 2 * H), "three-stories")
    assert len(fired) == 1
    alert = fired[0]
    assert alert.count == 3
    assert alert.summary == "Russia → Ukraine: military buildup reported by 3 sources in 6h"
    assert [a.id for a in alert.articles] == ["s1", "s2", "s3"]
    assert alert.first_seen == T0
    assert alert.last_seen == T0 + 2 * H
    assert h.alerts(enriched("s4", at=T0 + 3 * H), "three-stories") == []  # throttled


def test_window_forgets_stories_older_than_the_window() -> None:
    h = Harness()
    h.feed(enriched("s1"))
    h.feed(enriched("s2", at=T0 + H))
    assert h.alerts(enriched("s3", at=T0 + 8 * H), "three-stories") == []


def test_near_duplicates_are_sources_of_one_story_not_more_stories() -> None:
    h = Harness()
    h.feed(enriched("w1", source="Wire A"))
    h.feed(enriched("w2", duplicate_of="w1", at=T0 + 0.1 * H, source="Wire B"))
    outs = h.feed(enriched("w3", duplicate_of="w1", at=T0 + 0.2 * H, source="Wire C"))
    windowed = [o.alert for o in outs if o.alert is not None and o.alert.rule != "per-article"]
    assert [a.rule for a in windowed] == ["corroborated"]  # not "three-stories"
    alert = windowed[0]
    assert alert.count == 1
    assert alert.articles[0].duplicates == 2
    assert alert.summary.endswith("reported by 3 sources in 6h (1 story)")


def test_window_severity_rises_with_more_stories_and_alerts_again() -> None:
    h = Harness()
    fired = [a for i in range(5) for a in h.alerts(enriched(f"s{i}", at=T0 + i * H / 2))]
    window = [a for a in fired if a.rule == "three-stories"]
    assert [(a.count, a.severity) for a in window] == [
        (3, Severity.WARNING),
        (5, Severity.CRITICAL),
    ]
    assert window[0].id != window[1].id


def test_window_alert_id_is_the_same_whichever_article_crosses_the_threshold() -> None:
    arts = [enriched(f"s{i}", at=T0 + i * H) for i in range(3)]

    def window_id(order: list[int]) -> str:
        h = Harness()
        ids = [a.id for i in order for a in h.alerts(arts[i], "three-stories")]
        assert len(ids) == 1
        return ids[0]

    assert window_id([0, 1, 2]) == window_id([2, 0, 1]) == window_id([1, 2, 0])


def test_state_in_a_plain_mapping_survives_a_new_engine() -> None:
    state: dict[str, Any] = {}
    Harness(state=state).alerts(enriched("s1"))
    Harness(state=state).alerts(enriched("s2", at=T0 + H))
    after_restart = Harness(state=state)
    assert after_restart.alerts(enriched("s3", at=T0 + 2 * H), "three-stories")
    assert after_restart.alerts(enriched("s4", at=T0 + 3 * H), "per-article") == []


def test_wall_clock_does_not_change_decisions_or_ids() -> None:
    a = Harness()
    b = Harness()
    arts = [enriched(f"s{i}", at=T0 + i * H) for i in range(3)]
    ids_a = [x.id for art in arts for o in a.feed(art, NOW) if (x := o.alert)]
    ids_b = [x.id for art in arts for o in b.feed(art, NOW + 400 * H) if (x := o.alert)]
    assert ids_a == ids_b
    assert ids_a


def threat(i: int, at: datetime) -> EnrichedArticle:
    return enriched(f"t{i}", [signal(SignalKind.THREAT, cue="threatened")], at=at)


def test_spike_fires_over_the_pairs_baseline_not_below() -> None:
    h = Harness()
    day = timedelta(days=1)
    # baseline: 4 stories over the 4 days before -> 1 per day, threshold 2 (factor) but min 3
    for i in range(4):
        assert h.alerts(threat(i, T0 + i * day), "spike") == []
    start = T0 + 4 * day + H
    assert h.alerts(threat(10, start), "spike") == []
    assert h.alerts(threat(11, start + H), "spike") == []
    fired = h.alerts(threat(12, start + 2 * H), "spike")
    assert len(fired) == 1
    assert fired[0].count == 3
    assert "3 stories in 1d" in fired[0].summary


def test_spike_with_a_busy_baseline_does_not_fire() -> None:
    h = Harness()
    day = timedelta(days=1)
    n = 0
    for d in range(4):
        for k in range(3):  # 3 a day: threshold becomes 6
            h.feed(threat(n, T0 + d * day + k * H))
            n += 1
    today = [
        a for k in range(5) for a in h.alerts(threat(100 + k, T0 + 4 * day + (k + 1) * H), "spike")
    ]
    assert today == []


def test_silence_suppresses_matching_groups_in_its_time_range_only() -> None:
    h = Harness()
    h.silences = [
        Silence(
            match=SilenceMatch(actor="russia", target="Ukraine"),
            starts_at=T0 - H,
            ends_at=T0 + 3 * H,
        )
    ]
    outs = h.feed(enriched("a1"))
    assert SILENCED in {o.suppressed for o in outs}
    assert all(o.alert is None for o in outs)
    assert h.alerts(enriched("a2", at=T0 + 4 * H), "per-article")  # silence over


def test_a_silence_in_force_when_the_alert_is_raised_applies_whatever_the_article_time() -> None:
    # issue 11: a silence set "from now on" must stop an alert raised now for an older article
    h = Harness()
    h.silences = [
        Silence(match=SilenceMatch(actor="Russia"), starts_at=NOW - H, ends_at=NOW + 6 * H)
    ]
    outs = h.feed(enriched("old-article", at=T0), now=NOW)
    assert SILENCED in {o.suppressed for o in outs}
    assert all(o.alert is None for o in outs)
    # after it ends (processing time) and outside it (article time): raised, with the same id
    later = Harness()
    ids_unsilenced = {o.alert.id for o in later.feed(enriched("old-article", at=T0)) if o.alert}
    h2 = Harness()
    h2.silences = h.silences
    raised = h2.feed(enriched("old-article", at=T0), now=NOW + 7 * H)
    assert {o.alert.id for o in raised if o.alert} == ids_unsilenced


def test_silence_by_group_key_leaves_other_groups_alone() -> None:
    h = Harness()
    key = h.rules.contributions(enriched("x"))[0].group.key
    h.silences = [Silence(match=SilenceMatch(group=key), ends_at=T0 + 9 * H)]
    assert h.alerts(enriched("a1"), "per-article") == []
    poland = enriched("a2", [signal(target="Poland")])
    assert h.alerts(poland, "per-article")


def test_rules_file_silences_are_loaded() -> None:
    rules = parse_rules(
        RULES
        + "silences:\n  - match: {rule: per-article}\n"
        + "    ends_at: 2021-04-14T00:00:00Z\n    comment: known exercise\n"
    )
    assert rules.silences[0].silences(
        "per-article", rules.contributions(enriched("a"))[0].group, T0
    )
