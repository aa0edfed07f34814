"""Fresh starts on a fresh topic prefix: every one evaluates, and /healthz is 200 only once the
evaluate agent has partitions (real broker, the service as a subprocess).

Before the fix, 2 of 8 such starts logged "Ignoring missing topic '<prefix>brink-alerting-
by-group'" (Faust subscribed before it had created its internal topic), the evaluate agent never
got partitions, and /healthz said 200 all the same. `-m slow` runs 20 starts in a row.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from shared.kafka_admin import ensure_topics
from shared.settings import Settings
from tests.alerting.factories import enriched
from tests.alerting.kafka_helpers import AlertReader, health, produce
from tests.conftest import wait_for

pytestmark = pytest.mark.kafka

RULES = """
rules:
  - name: per-article
    kinds: [military_buildup]
    repeat_interval: 6h
"""


def fresh_start_raises_its_alert(
    bootstrap: str, start_service: Any, tmp_path: Path, partitions: int
) -> None:
    settings = Settings(
        bootstrap_servers=bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        partitions=partitions,
        replication_factor=1,
    )
    ensure_topics(settings)  # the pipeline's topics, as `make demo` creates them; not alerting's
    tmp_path.mkdir(parents=True, exist_ok=True)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    svc = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
    status, body = health(svc.url("/healthz"))
    assert status == 200, body
    assert body["evaluate_partitions"] == partitions, body

    prefix = settings.topic_prefix
    internal = [f"{prefix}brink-alerting-by-group", f"{prefix}brink-alerting-groups-changelog"]
    admin = KafkaAdminClient(**settings.kafka_python())
    try:
        described = {t["name"]: t for t in admin.describe_topics(internal)}
        assert {n: len(described[n]["partitions"]) for n in internal} == dict.fromkeys(
            internal, partitions
        )
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, internal[1], ["cleanup.policy"])]
        )
        assert "compact" in repr(configs)
    finally:
        admin.close()

    reader = AlertReader(settings, f"r-{uuid.uuid4().hex[:8]}")
    try:
        produce(settings, [enriched(f"a-{n}") for n in range(partitions * 2)])
        wait_for(reader.poll, timeout=30, message="the alert of a fresh start")
    finally:
        reader.close()
    assert "Ignoring missing topic" not in svc.log_tail(2000)
    svc.stop()


@pytest.mark.parametrize("run", range(3))
def test_a_fresh_start_creates_its_topics_first_and_raises_its_alert(
    bootstrap: str, start_service: Any, tmp_path: Path, run: int
) -> None:
    fresh_start_raises_its_alert(bootstrap, start_service, tmp_path / str(run), 3 - run % 2)


@pytest.mark.faults  # about 200 s: `make test-faults` (the default suite runs three)
def test_twenty_fresh_starts_in_a_row_each_raise_their_alert(
    bootstrap: str, start_service: Any, tmp_path: Path
) -> None:
    for run in range(20):
        fresh_start_raises_its_alert(bootstrap, start_service, tmp_path / str(run), 3)
