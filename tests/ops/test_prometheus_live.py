"""The real Prometheus server, with deploy/prometheus's local scrape config and rules, scrapes the
three running services; every dashboard query runs without error and the rules load healthy."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import Settings
from tests.conftest import free_port, wait_for
from tests.console.helpers import console_env
from tests.ops.contract import GRAFANA, PROMETHEUS, SERVICES
from tests.ops.test_prometheus import ALERTS

pytestmark = pytest.mark.kafka


def query(port: int, expr: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(expr)}"
    with urllib.request.urlopen(url, timeout=5) as r:
        return dict(json.load(r))


def get(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return dict(json.load(r))


def test_prometheus_scrapes_the_services_and_runs_every_dashboard_query(
    tmp_path: Path, settings: Settings, start_service
) -> None:  # type: ignore[no-untyped-def]
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.fail("prometheus not found: run `make tools` (Debian package prometheus)")
    services = {name: start_service(name, settings) for name in SERVICES}
    services["console"] = start_service(
        "console", settings, **console_env(BRINK_CONSOLE_EXPLAIN="off")
    )

    # The local config as shipped, with this test's ports and a 1 s scrape so it runs quickly.
    config = yaml.safe_load((PROMETHEUS / "prometheus-local.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    for job in config["scrape_configs"]:
        name = job["job_name"].removeprefix("brink-")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{services[name].metrics_port}"]}]
    config["rule_files"] = [str(PROMETHEUS / "rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            exe,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def all_up() -> bool:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                result = query(port, 'up{job=~"brink-.+"} == 1')["data"]["result"]
            except OSError:
                return False
            return {r["metric"]["job"] for r in result} == {f"brink-{s}" for s in services}

        wait_for(all_up, timeout=60, interval=0.5, message="Prometheus scraping every service")

        dashboard = json.loads((GRAFANA / "dashboards" / "brink.json").read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", ()):  # row panels have none
                answer = query(port, target["expr"])
                assert answer["status"] == "success", (panel["title"], answer)
        for service in SERVICES:
            lag = query(port, f"sum by (topic, partition) (brink_{service}_consumer_lag)")
            assert len(lag["data"]["result"]) == settings.partitions, service

        rules = get(port, "/api/v1/rules")["data"]["groups"]
        loaded = {r["name"]: r["health"] for g in rules for r in g["rules"]}
        assert set(loaded) == ALERTS
        wait_for(
            lambda: all(
                r["health"] == "ok"
                for g in get(port, "/api/v1/rules")["data"]["groups"]
                for r in g["rules"]
            ),
            timeout=20,
            message="every rule evaluated without error",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
