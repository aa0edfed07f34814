"""A takeover while articles keep arriving: the new owner reads everything, once.

Worker A runs alone and commits on one partition only; worker B joins; then a background
thread starts producing an article every few milliseconds to every partition and A stops, so B
takes over partitions that have never had a committed offset while records arrive on them
(the case faust-streaming 0.15.3 alone left unread, see docs/alerting.md). Each article has
its own actor, so the per-article rule gives exactly one alert per article: every article must
come out as an alert, and no alert may come out twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from shared import codec
from shared.schemas import EnrichedArticle
from shared.settings import Settings
from tests.alerting.factories import enriched, signal
from tests.alerting.kafka_helpers import AlertReader
from tests.conftest import wait_for

pytestmark = pytest.mark.kafka

RULES = """
rules:
  - name: per-article
    kinds: [military_buildup]
    repeat_interval: 6h
"""


def article(n: int) -> EnrichedArticle:
    return enriched(f"t{n}", [signal(actor=f"Actor{n}", target="Ukraine")])


class Trickle:
    """Produces `article(n)` to partition ``n % partitions`` every `every` seconds until stopped."""

    def __init__(self, settings: Settings, first: int, every: float = 0.02) -> None:
        self.settings = settings
        self.first = first
        self.every = every
        self.sent: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        producer = KafkaProducer(**self.settings.kafka_python())
        try:
            n = self.first
            while not self._stop.wait(self.every):
                a = article(n)
                producer.send(
                    self.settings.topics.enriched,
                    key=a.article.id.encode(),
                    value=codec.encode(a),
                    partition=n % self.settings.partitions,
                ).get(timeout=30)
                self.sent.append(a.article.id)
                n += 1
        finally:
            producer.close()

    def start(self) -> Trickle:
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(30)
        return list(self.sent)


@pytest.fixture
def reader(settings: Settings, group_id: str) -> Iterator[AlertReader]:
    r = AlertReader(settings, group_id)
    yield r
    r.close()


def test_articles_produced_during_a_takeover_are_all_evaluated_once(
    settings: Settings, reader: AlertReader, start_service: Any, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    first = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    producer = KafkaProducer(**settings.kafka_python())
    warm = article(0)
    producer.send(settings.topics.enriched, key=b"t0", value=codec.encode(warm), partition=0).get(
        timeout=30
    )
    producer.close()
    wait_for(reader.poll, message="the first worker's alert")
    second = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    wait_for(
        lambda: second.log_tail(400).count("Worker ready") >= 1,
        timeout=60,
        message="the second worker joining",
    )
    trickle = Trickle(settings, first=1).start()
    try:
        first.stop()  # the second worker takes over every partition, mid-stream
        # "Worker ready" ends each rebalance: the second is the takeover.
        wait_for(
            lambda: second.log_tail(400).count("Worker ready") >= 2,
            timeout=60,
            message="the takeover rebalance",
        )
    finally:
        sent = ["t0", *trickle.stop()]

    def articles() -> Counter[str]:
        return Counter(art.id for alert in reader.poll() for art in alert.articles)

    try:
        wait_for(lambda: set(sent) <= set(articles()), message="an alert for every article")
    finally:
        missing = sorted(set(sent) - set(articles()), key=lambda i: int(i[1:]))
        print(f"{len(sent)} articles sent, {len(missing)} not evaluated: {missing[:20]}")
    assert missing == []
    assert [i for i, n in Counter(a.id for a in reader.poll()).items() if n > 1] == []
    assert sorted(articles()) == sorted(sent)
    assert max(articles().values()) == 1
