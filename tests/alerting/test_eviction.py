"""Bounded state: idle groups are evicted, and the number of groups is capped (least recently
used first), each eviction a tombstone in the table's changelog and counted by reason."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from services.alerting.eviction import GroupIndex
from services.alerting.rules import parse_rules
from shared.settings import Settings
from tests.alerting.factories import enriched, signal
from tests.alerting.kafka_helpers import AlertReader, produce
from tests.conftest import metric_value, wait_for

RULES = """
rules:
  - name: per-article
    kinds: [military_buildup]
    repeat_interval: 1s
"""


def test_the_index_evicts_the_least_recently_used_over_the_cap() -> None:
    index = GroupIndex(max_per_partition=2)
    assert index.touch(0, "a", touched=1.0, keep=10.0) == []
    assert index.touch(0, "b", touched=2.0, keep=10.0) == []
    assert index.touch(1, "x", touched=2.0, keep=10.0) == []  # another partition
    assert index.touch(0, "a", touched=3.0, keep=10.0) == []  # a is used again
    assert index.touch(0, "c", touched=4.0, keep=10.0) == ["b"]
    assert index.count(0) == 2
    assert len(index) == 3


def test_the_index_finds_groups_idle_longer_than_they_matter() -> None:
    index = GroupIndex(max_per_partition=100)
    index.touch(0, "short", touched=0.0, keep=5.0)
    index.touch(0, "long", touched=0.0, keep=50.0)
    index.touch(1, "other", touched=0.0, keep=5.0)
    assert index.idle(0, now=4.0) == []
    assert index.idle(0, now=6.0) == ["short"]
    assert index.idle(0, now=6.0) == []  # forgotten once returned
    assert index.idle(1, now=6.0) == ["other"]


def test_the_index_is_rebuilt_from_the_table_after_a_rebalance() -> None:
    index = GroupIndex(max_per_partition=100)
    index.rebuild(
        [
            ("g1", {"p": 0, "touched": 0.0, "keep": 5.0}),
            ("g2", {"p": 2, "touched": 0.0, "keep": 5.0}),
            ("old", {"entries": []}),  # written before the index existed: not evicted by idle
        ]
    )
    assert index.idle(0, now=9.0) == ["g1"]
    assert len(index) == 1


def changelog_tombstones(settings: Settings) -> set[bytes]:
    consumer = KafkaConsumer(
        f"{settings.topic_prefix}brink-alerting-groups-changelog",
        group_id=f"cl-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        **settings.kafka_python(),
    )
    try:
        return {r.key for r in consumer if r.value is None}
    finally:
        consumer.close()


def key_of(actor: str) -> str:
    return parse_rules(RULES).contributions(enriched("x", [signal(actor=actor)]))[0].group.key


@pytest.mark.kafka
def test_the_service_caps_groups_and_tombstones_the_evicted(
    settings: Settings, start_service: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    svc = start_service(
        "alerting",
        settings,
        BRINK_RULES_PATH=str(rules),
        BRINK_ALERTING_MAX_GROUPS=str(2 * settings.partitions),  # 2 per partition
    )
    actors = [f"Actor{n}" for n in range(12)]
    produce(settings, [enriched(f"a{n}", [signal(actor=a)]) for n, a in enumerate(actors)])
    wait_for(
        lambda: metric_value(svc.metrics(), "brink_alerting_rule_evaluation_seconds_count") >= 24,
        message="12 articles routed and evaluated",
    )
    text = svc.metrics()
    assert metric_value(text, "brink_alerting_groups") <= 2 * settings.partitions
    evicted = metric_value(text, "brink_alerting_groups_evicted_total", reason="cap")
    assert evicted == 12 - metric_value(text, "brink_alerting_groups") >= 6
    tombstones = changelog_tombstones(settings)
    assert len(tombstones) == evicted
    assert tombstones <= {key_of(a).encode() for a in actors}


@pytest.mark.kafka
def test_the_service_evicts_groups_idle_longer_than_their_rules_need(
    settings: Settings, group_id: str, start_service: Any, tmp_path: Path
) -> None:
    one = settings
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    svc = start_service(
        "alerting",
        one,
        BRINK_RULES_PATH=str(rules),  # repeat_interval 1s: a group is idle 1s + 1s after use
    )
    reader = AlertReader(one, group_id)
    try:
        produce(one, [enriched("first", [signal(actor="Idle")])])
        wait_for(reader.poll, message="the first group's alert")
        n = iter(range(1, 10_000))

        def evicted() -> bool:
            # articles keep arriving (a sweep runs as records of a partition are evaluated)
            produce(one, [enriched(f"next{i}", [signal(actor=f"Busy{i}")]) for i in [next(n)]])
            tombstones = changelog_tombstones(one)
            return key_of("Idle").encode() in tombstones

        wait_for(evicted, timeout=60, interval=0.5, message="the idle group's tombstone")
        assert (
            metric_value(svc.metrics(), "brink_alerting_groups_evicted_total", reason="idle") >= 1
        )
    finally:
        reader.close()
