"""Prometheus config and Brink's own alert rules, checked by the real promtool (no network)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.ops.contract import (
    ALL_AGREED,
    METRICS_PORTS,
    PROMETHEUS,
    metric_names,
    promtool,
)

ALERTS = {
    "BrinkServiceDown",
    "BrinkConsumerLagGrowing",
    "BrinkDeadLettersRising",
    "BrinkNoArticles",
    "BrinkAlertDeliveryFailing",
}


def load(name: str) -> Any:
    return yaml.safe_load((PROMETHEUS / name).read_text())


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("rules.yml")["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-local.yml"])
def test_promtool_check_config(config: str) -> None:
    result = promtool("check", "config", str(PROMETHEUS / config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(PROMETHEUS / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(PROMETHEUS / "tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_exist_with_severity_and_summary() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert set(by_name) == ALERTS
    for rule in by_name.values():
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
    assert by_name["BrinkServiceDown"]["for"] == "1m"
    assert "up{" in by_name["BrinkServiceDown"]["expr"]


def test_unit_tests_make_each_alert_fire_and_stay_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in load("tests.yml")["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fired == ALERTS
    assert quiet == ALERTS


def test_rules_select_only_metrics_the_services_export() -> None:
    for rule in rules():
        expr = rule["expr"]
        if rule["alert"] == "BrinkServiceDown":
            continue  # `up` is Prometheus's own
        names = metric_names(expr)
        assert names, f"{rule['alert']} selects no Brink metric: {expr}"
        assert names <= ALL_AGREED, names - ALL_AGREED
    lag = metric_names(next(r["expr"] for r in rules() if r["alert"] == "BrinkConsumerLagGrowing"))
    assert lag == {f"brink_{s}_consumer_lag" for s in METRICS_PORTS}
    dead = metric_names(next(r["expr"] for r in rules() if r["alert"] == "BrinkDeadLettersRising"))
    assert dead == {f"brink_{s}_dead_lettered_total" for s in METRICS_PORTS}


def job_config(config: str, job: str) -> dict[str, Any]:
    return next(j for j in load(config)["scrape_configs"] if j["job_name"] == job)


def scrape_targets(config: str) -> dict[str, list[str]]:
    return {
        job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        for job in load(config)["scrape_configs"]
    }


def test_local_scrape_config_points_at_the_demo_services() -> None:
    targets = scrape_targets("prometheus-local.yml")
    for service, port in METRICS_PORTS.items():
        assert targets[f"brink-{service}"] == [f"127.0.0.1:{port}"]


def test_compose_scrape_config_points_at_the_compose_services() -> None:
    """DNS discovery: every copy of a service scaled with `docker compose --scale` is scraped."""
    targets = scrape_targets("prometheus.yml")
    for service, port in METRICS_PORTS.items():
        sd = job_config("prometheus.yml", f"brink-{service}")["dns_sd_configs"]
        assert sd == [{"names": [service], "type": "A", "port": port}]
    rule_jobs = {f"brink-{s}" for s in METRICS_PORTS}
    assert rule_jobs <= set(targets)
