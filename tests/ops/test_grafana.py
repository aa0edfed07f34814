"""The provisioned Grafana dashboard: valid, wired to the provisioned datasource, and built
only from metrics the services export (PromQL checked by the real promtool parser)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.contract import (
    AGREED_METRICS,
    ALL_AGREED,
    GRAFANA,
    SERVICES,
    metric_names,
    promtool,
)

DASHBOARD = GRAFANA / "dashboards" / "brink.json"


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels() -> list[dict[str, Any]]:
    """The panels that query; row panels only group the ones below them."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def datasource_uid() -> str:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    return str(source["uid"])


def test_dashboard_has_uid_title_and_laid_out_panels() -> None:
    d = dashboard()
    assert d["uid"] == "brink-overview"
    assert d["title"]
    assert len(d["panels"]) >= 8
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in panels():
        assert p["title"] and p["targets"]
        assert {"x", "y", "w", "h"} <= set(p["gridPos"])
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_every_panel_queries_the_provisioned_datasource() -> None:
    uid = datasource_uid()
    for p in panels():
        assert p["datasource"]["uid"] == uid, p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == uid, p["title"]


def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    """promtool has no stand-alone PromQL check; recording rules go through the same parser."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"brink:panel_{i}", "expr": e} for i, e in enumerate(exprs())],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs())} rules found" in result.stdout


def test_expressions_use_only_agreed_metrics_and_cover_them_all() -> None:
    used: set[str] = set()
    for e in exprs():
        names = metric_names(e)
        assert names <= ALL_AGREED, f"unknown metric in {e}: {names - ALL_AGREED}"
        used |= names
    assert used == ALL_AGREED, f"not on the dashboard: {ALL_AGREED - used}"


def test_dashboard_answers_the_operators_questions() -> None:
    joined = "\n".join(exprs())
    titles = " ".join(p["title"].lower() for p in panels())
    for words in ("in and out", "dead letters", "signals by kind", "severity", "latency", "lag"):
        assert words in titles
    assert "sum by (severity)" in joined
    assert "sum by (kind) (rate(brink_enrichment_signals_total" in joined
    for q in ("0.5", "0.99"):
        assert (
            f"histogram_quantile({q}, sum by (le) (rate(brink_alerting_end_to_end_latency_seconds_bucket"
            in joined
        )
    for service in SERVICES:
        assert f"sum by (topic, partition) (brink_{service}_consumer_lag)" in joined
        assert f"sum by (reason) (rate(brink_{service}_dead_lettered_total" in joined


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "brink.yml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def exported_names(service: str) -> dict[str, str]:
    """Names (as on /metrics) and types of the metrics a service's metrics module defines."""
    from prometheus_client.metrics import MetricWrapperBase

    module = importlib.import_module(f"services.{service}.metrics")
    found: dict[str, str] = {}
    for value in vars(module).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                name = family.name + "_total" if family.type == "counter" else family.name
                found[name] = family.type
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_service_metrics_module_defines_the_agreed_metrics(service: str) -> None:
    found = exported_names(service)
    for name, kind in AGREED_METRICS[service].items():
        assert found.get(name) == kind, f"services/{service}/metrics.py: {name} ({kind})"
