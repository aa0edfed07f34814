"""Each running service's /metrics follows Prometheus conventions, checked by the real
`promtool check metrics`, exports the agreed metrics, and its consumer lag per partition."""

from __future__ import annotations

import re

import pytest

from shared.settings import Settings
from tests.conftest import wait_for
from tests.ops.contract import AGREED_METRICS, SERVICES, promtool

pytestmark = pytest.mark.kafka


def input_topic(service: str, settings: Settings) -> str:
    topics = settings.topics
    return {"ingest": topics.raw, "enrichment": topics.articles, "alerting": topics.enriched}[
        service
    ]


def lint(exposition: str) -> str:
    """promtool's findings (empty when clean); it exits 3 on lint problems, 1 on parse errors."""
    result = promtool("check", "metrics", stdin=exposition)
    findings = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        return findings or f"promtool exited {result.returncode}"
    return findings


def test_promtool_finds_convention_problems() -> None:
    """The check below can fail: promtool flags a counter without _total and a missing HELP."""
    bad = "# TYPE brink_x_seconds counter\nbrink_x_seconds 1\n"
    findings = lint(bad)
    assert 'should have "_total" suffix' in findings
    assert "no help text" in findings


@pytest.mark.parametrize("service", SERVICES)
def test_service_metrics_pass_promtool_and_export_lag_per_partition(
    service: str, settings: Settings, start_service
) -> None:  # type: ignore[no-untyped-def]
    svc = start_service(service, settings)
    topic = input_topic(service, settings)
    lag = re.compile(
        rf'^brink_{service}_consumer_lag\{{partition="(\d+)",topic="{re.escape(topic)}"\}} ',
        re.M,
    )

    def lag_partitions() -> set[str]:
        return set(lag.findall(svc.metrics()))

    parts = wait_for(
        lambda: lag_partitions() == {"0", "1", "2"} and lag_partitions(),
        timeout=30,
        interval=0.5,
        message=f"{service} consumer lag for the 3 partitions of {topic}",
    )
    assert parts == {"0", "1", "2"}

    exposition = svc.metrics()
    assert lint(exposition) == ""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M))
    for name, kind in AGREED_METRICS[service].items():
        assert types.get(name) == kind, f"{service} /metrics lacks {name} ({kind})"
