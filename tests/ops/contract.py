"""What the ops files are built against: the metric names the services agreed to export, their
default ports, and paths to the deploy files. One place, so a rename shows up as a failing test."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
COMPOSE = ROOT / "docker-compose.yml"

SERVICES = ("ingest", "enrichment", "alerting")
METRICS_PORTS = {"ingest": 9101, "enrichment": 9102, "alerting": 9103}
INGEST_HTTP_PORT = 8080

# name as exposed on /metrics -> Prometheus type (histograms also expose _bucket/_sum/_count).
AGREED_METRICS: dict[str, dict[str, str]] = {
    "ingest": {
        "brink_ingest_received_total": "counter",
        "brink_ingest_published_total": "counter",
        "brink_ingest_duplicates_total": "counter",
        "brink_ingest_dead_lettered_total": "counter",
        "brink_ingest_processing_seconds": "histogram",
        "brink_ingest_consumer_lag": "gauge",
        "brink_ingest_queue_wait_seconds": "histogram",
        "brink_ingest_batch_processing_seconds": "histogram",
    },
    "enrichment": {
        "brink_enrichment_articles_total": "counter",
        "brink_enrichment_signals_total": "counter",
        "brink_enrichment_negated_signals_total": "counter",
        "brink_enrichment_dead_lettered_total": "counter",
        "brink_enrichment_processing_seconds": "histogram",
        "brink_enrichment_batch_size": "histogram",
        "brink_enrichment_consumer_lag": "gauge",
        "brink_enrichment_queue_wait_seconds": "histogram",
    },
    "alerting": {
        "brink_alerting_articles_total": "counter",
        "brink_alerting_alerts_total": "counter",
        "brink_alerting_suppressed_total": "counter",
        "brink_alerting_rule_evaluation_seconds": "histogram",
        "brink_alerting_delivery_failures_total": "counter",
        "brink_alerting_end_to_end_latency_seconds": "histogram",
        "brink_alerting_dead_lettered_total": "counter",
        "brink_alerting_consumer_lag": "gauge",
        "brink_alerting_queue_wait_seconds": "histogram",
        "brink_alerting_processing_seconds": "histogram",
    },
}
ALL_AGREED = {name for names in AGREED_METRICS.values() for name in names}

_HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def base_name(series: str) -> str:
    """`brink_x_seconds_bucket` -> `brink_x_seconds` for histograms; other names unchanged."""
    stripped = _HISTOGRAM_SERIES.sub("", series)
    return stripped if stripped in ALL_AGREED else series


def metric_names(expr: str) -> set[str]:
    """Brink metric names a PromQL expression selects, by literal name or by a __name__ regex."""
    names = {base_name(m) for m in re.findall(r"\bbrink_[a-z0-9_]*[a-z0-9]", expr)}
    for pattern in re.findall(r'__name__=~"([^"]+)"', expr):
        names |= {n for n in ALL_AGREED if re.fullmatch(pattern, n)}
    return names


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real promtool (Debian's package; `make tools` installs it)."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: run `make tools` (Debian package prometheus)")
    return subprocess.run(
        [exe, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
