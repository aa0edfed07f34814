"""Alert ids depend on what happened (group, aligned event-time bucket, severity), not on the
order articles arrive in: every arrival order gives the same set of ids, and so do runs of the
service with other partition counts and a replay under a new app id.

Arrival order here is realistic: articles come roughly in event-time order, each up to 3 hours
early or late, and near-duplicate copies of a story anywhere in that range around it
(docs/alerting.md, "Alert ids", says when ids can still differ).
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.schemas import EnrichedArticle, SignalKind
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import AlertReader, produce
from tests.alerting.test_engine import RULES, Harness
from tests.conftest import wait_for

PAIRS = [("Russia", "Ukraine"), ("Russia", "Poland"), ("China", "Ukraine"), ("NATO", "Russia")]


def dataset(n: int = 120, seed: int = 7) -> list[EnrichedArticle]:
    """``n`` articles over five days about four pairs: buildups and threats, some scores high
    enough to raise severity, a third of them near-duplicate copies of an earlier story."""
    rng = random.Random(seed)
    out: list[EnrichedArticle] = []
    stories: list[EnrichedArticle] = []
    for i in range(n):
        if stories and rng.random() < 0.33:
            story = rng.choice(stories[-6:])
            out.append(
                enriched(
                    f"c{i}",
                    list(story.signals),
                    at=story.article.published_at or T0,
                    duplicate_of=story.article.id,
                    source=f"Wire {i % 5}",
                    score=story.score,
                )
            )
            continue
        actor, target = rng.choice(PAIRS)
        kind = rng.choice([SignalKind.MILITARY_BUILDUP, SignalKind.THREAT])
        cue = "massed troops" if kind is SignalKind.MILITARY_BUILDUP else "threatened"
        sentence = f"{actor} {cue} {target}."
        at = T0 + timedelta(minutes=rng.randrange(0, 5 * 24 * 60))
        score = rng.choice([3.0, 5.0, 9.0])
        story = enriched(
            f"s{i}", [signal(kind, actor, target, sentence=sentence, cue=cue)], at=at, score=score
        )
        stories.append(story)
        out.append(story)
    return sorted(out, key=lambda a: a.article.published_at or T0)


def arrival_order(articles: list[EnrichedArticle], seed: int) -> list[EnrichedArticle]:
    rng = random.Random(seed)
    jitter = {a.article.id: rng.uniform(-3, 3) for a in articles}
    return sorted(
        articles,
        key=lambda a: (a.article.published_at or T0) + timedelta(hours=jitter[a.article.id]),
    )


def alert_ids(articles: list[EnrichedArticle]) -> set[str]:
    h = Harness()
    return {o.alert.id for a in articles for o in h.feed(a) if o.alert is not None}


def test_every_arrival_order_raises_the_same_alert_ids() -> None:
    articles = dataset()
    expected = alert_ids(articles)
    assert len(expected) > 20
    for seed in range(12):
        assert alert_ids(arrival_order(articles, seed)) == expected, f"arrival order {seed}"


@pytest.mark.kafka
def test_other_partition_counts_and_a_replay_under_a_new_app_id_give_the_same_ids(
    bootstrap: str, start_service: Any, tmp_path: Path
) -> None:
    import uuid

    from shared.kafka_admin import ensure_topics

    articles = dataset()
    expected = alert_ids(articles)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)

    def run(partitions: int, seed: int) -> Settings:
        settings = Settings(
            bootstrap_servers=bootstrap,
            topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
            partitions=partitions,
        )
        ensure_topics(settings)
        produce(settings, arrival_order(articles, seed))
        start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
        return settings

    def ids_of(settings: Settings, expect: int) -> set[str]:
        reader = AlertReader(settings, f"r-{uuid.uuid4().hex[:8]}")
        try:
            wait_for(lambda: len(reader.poll()) >= expect, timeout=90, message=f"{expect} alerts")
            return {a.id for a in reader.poll()}
        finally:
            reader.close()

    one = run(1, seed=1)
    assert ids_of(one, len(expected)) == expected
    three = run(3, seed=2)
    assert ids_of(three, len(expected)) == expected
    start_service(
        "alerting", three, BRINK_RULES_PATH=str(rules), BRINK_ALERTING_APP_ID="brink-replay"
    )
    # the replay writes the same ids again to the same topic: twice as many records
    reader = AlertReader(three, f"r-{uuid.uuid4().hex[:8]}")
    try:
        wait_for(lambda: len(reader.poll()) >= 2 * len(expected), timeout=90, message="the replay")
        replayed = [a.id for a in reader.poll()]
    finally:
        reader.close()
    assert sorted(replayed) == sorted([*expected, *expected])


def test_an_article_older_than_the_allowed_lateness_is_late_not_counted() -> None:
    from services.alerting.engine import LATE

    h = Harness()
    h.feed(enriched("new", at=T0 + timedelta(days=10)))
    outcomes = h.feed(enriched("old", at=T0))
    assert {o.suppressed for o in outcomes} == {LATE}
    assert all(o.alert is None for o in outcomes)


def test_a_lower_severity_after_a_higher_one_in_a_bucket_still_alerts_once() -> None:
    def ids(order: list[EnrichedArticle]) -> set[str]:
        h = Harness()
        return {
            o.alert.id
            for a in order
            for o in h.feed(a)
            if o.alert is not None and o.alert.rule == "per-article"
        }

    high = enriched("high", score=9)
    low = enriched("low", at=T0 + timedelta(hours=1))
    assert ids([high, low]) == ids([low, high])
    assert len(ids([high, low])) == 2
