"""docker-compose.yml, Dockerfile and the Alertmanager config, without a Docker engine: the
Compose specification's JSON schema (vendored by check-jsonschema), the real amtool, and the
services' own code (commands, settings, ports) as the reference."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import Settings
from tests.ops.contract import COMPOSE, DEPLOY, INGEST_HTTP_PORT, METRICS_PORTS, ROOT, SERVICES

BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def service(name: str) -> dict[str, Any]:
    return dict(compose()["services"][name])


def default(value: object) -> str:
    """`${VAR:-default}` -> `default` (what compose uses when VAR is unset); others unchanged."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(value))


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    exe = BIN / "check-jsonschema"
    if not exe.exists():
        pytest.fail("check-jsonschema missing from .venv: run `make setup`")
    return subprocess.run(
        [str(exe), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_follows_the_compose_specification() -> None:
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation done" in result.stdout


def test_the_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a non-list `ports` are refused."""
    broken = compose()
    broken["services"]["ingest"]["healthchek"] = broken["services"]["ingest"].pop("healthcheck")
    broken["services"]["kafka"]["ports"] = 9092
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = check_jsonschema(path)
    assert result.returncode != 0
    assert "healthchek" in result.stdout + result.stderr


def test_the_three_services_run_from_one_image_with_their_module() -> None:
    builds = set()
    for name in SERVICES:
        svc = service(name)
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        assert (ROOT / "services" / name / "__main__.py").exists(), f"services/{name} missing"
        builds.add((svc["build"]["context"], svc["build"]["dockerfile"], svc["image"]))
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert builds == {(".", "Dockerfile", "brink:${BRINK_IMAGE_TAG:-local}")}


def service_reads(name: str) -> str:
    return "\n".join(p.read_text() for p in (ROOT / "services" / name).rglob("*.py"))


def test_every_brink_variable_is_one_the_code_reads() -> None:
    settings_vars = {"BRINK_" + f.name.upper() for f in fields(Settings)}
    for name in SERVICES:
        env = service(name)["environment"]
        assert env, name
        code = service_reads(name)
        for var in env:
            if var.startswith("BRINK_"):
                assert var in settings_vars or f'"{var}"' in code, (
                    f"{name}: {var} is read by nothing"
                )


def test_healthchecks_and_ports_match_the_metrics_ports_set() -> None:
    for name in SERVICES:
        svc = service(name)
        port = int(svc["environment"]["BRINK_METRICS_PORT"])
        assert port == METRICS_PORTS[name]
        assert svc["environment"]["BRINK_METRICS_HOST"] == "0.0.0.0"  # the container's network
        health = " ".join(svc["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/healthz" in health
        published = [str(p) for p in svc.get("ports", [])] + [str(p) for p in svc.get("expose", [])]
        assert any(p.endswith(str(port)) for p in published), f"{name}: {port} not exposed"
    ingest = service("ingest")
    assert int(ingest["environment"]["BRINK_HTTP_PORT"]) == INGEST_HTTP_PORT
    assert f"127.0.0.1:{INGEST_HTTP_PORT}:{INGEST_HTTP_PORT}" in ingest["ports"]


def test_host_ports_are_published_on_loopback_only() -> None:
    published = [
        (name, str(port))
        for name, svc in compose()["services"].items()
        for port in svc.get("ports", [])
    ]
    assert published
    for name, port in published:
        assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", port), f"{name} publishes {port}"


def test_every_service_has_a_healthcheck() -> None:
    for name, svc in compose()["services"].items():
        assert svc["healthcheck"]["test"], name


def test_kafka_is_the_official_image_in_kraft_mode_and_the_default_broker() -> None:
    kafka = service("kafka")
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    internal = re.search(r"INTERNAL://([^,]+)", env["KAFKA_ADVERTISED_LISTENERS"])
    assert internal is not None
    for name in SERVICES:
        assert default(service(name)["environment"]["BRINK_BOOTSTRAP_SERVERS"]) == internal[1]
    assert "kafka:19092" in " ".join(kafka["healthcheck"]["test"])


def test_monitoring_is_wired_to_the_files_in_deploy() -> None:
    mounts = {
        name: {
            v.split(":")[0]: v.split(":")[1] for v in svc.get("volumes", []) if v.startswith(".")
        }
        for name, svc in compose()["services"].items()
    }
    assert mounts["prometheus"]["./deploy/prometheus"] == "/etc/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in service("prometheus")["command"]
    assert mounts["alertmanager"]["./deploy/alertmanager"] == "/etc/alertmanager"
    assert mounts["grafana"]["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["grafana"]["./deploy/grafana/dashboards"] == "/var/lib/grafana/dashboards"
    for local in (p for m in mounts.values() for p in m):
        assert (ROOT / local).is_dir(), local
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (am,) = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == "alertmanager:9093"
    assert "127.0.0.1:9093:9093" in service("alertmanager")["ports"]
    assert default(service("alerting")["environment"]["BRINK_ALERTMANAGER_URL"]) == (
        "http://alertmanager:9093"
    )


def test_alertmanager_config_is_valid() -> None:
    exe = shutil.which("amtool")
    if exe is None:
        pytest.fail("amtool not found: run `make tools` (Debian package prometheus-alertmanager)")
    config = DEPLOY / "alertmanager" / "alertmanager.yml"
    result = subprocess.run(
        [exe, "check-config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_dockerfile_builds_a_non_root_image_from_the_pins() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert "pip install -r deploy/requirements.lock" in text
    assert "--require-hashes -r deploy/requirements-model.txt" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    for src in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in src.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".cache", ".venv"} <= set(ignored)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["service=brink", "alertname=armed-clash", "severity=critical"], "escalations"),
        (["alertname=BrinkServiceDown", "job=brink-ingest", "severity=critical"], "default"),
    ],
)
def test_alertmanager_routes_escalations_apart_from_brinks_own_alerts(
    labels: list[str], receiver: str
) -> None:
    """Escalation alerts carry service="brink" (services/alerting/delivery.py); Prometheus's do not."""
    exe = shutil.which("amtool")
    if exe is None:
        pytest.fail("amtool not found: run `make tools` (Debian package prometheus-alertmanager)")
    config = DEPLOY / "alertmanager" / "alertmanager.yml"
    result = subprocess.run(
        [exe, "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver
