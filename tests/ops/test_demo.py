"""deploy/demo.sh end to end, on the real broker with its own ports and folder: the services (and
Prometheus) start and become healthy, the seeds raise alerts that are printed with their
evidence, a second run reuses the services and still shows alerts, and `stop` leaves none of
its processes running."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port, wait_for
from tests.console.helpers import console_port
from tests.ops.contract import ROOT, SERVICES

pytestmark = pytest.mark.kafka

DEMO = ROOT / "deploy" / "demo.sh"


def run(env: dict[str, str], *args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEMO), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (the demo's services are not our children)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rule_names() -> set[str]:
    doc = yaml.safe_load((ROOT / "services" / "alerting" / "rules.yaml").read_text())
    return {rule["name"] for rule in doc["rules"]}


def test_demo_shows_alerts_twice_and_stop_ends_its_services(tmp_path: Path, bootstrap: str) -> None:
    demo_dir = tmp_path / "demo"
    ports = [free_port() for _ in SERVICES]
    env = {
        **os.environ,
        "BRINK_BOOTSTRAP_SERVERS": bootstrap,
        "BRINK_DEMO_DIR": str(demo_dir),
        "BRINK_DEMO_PORTS": " ".join(map(str, ports)),
        "BRINK_DEMO_HTTP_PORT": str(free_port()),
        "BRINK_DEMO_IDLE": "4",
        "BRINK_DEMO_WAIT": "60",
        "BRINK_DEMO_START_TIMEOUT": "90",
        "BRINK_DEMO_PROMETHEUS_PORT": str(free_port()),
        "BRINK_DEMO_CONSOLE_PORT": str(console_port()),
    }
    # status and stop find the ports of the running demo in its folder: only the folder is given.
    folder_only = {
        k: v for k, v in env.items() if k == "BRINK_DEMO_DIR" or not k.startswith("BRINK_DEMO_")
    }
    pids: dict[str, int] = {}
    try:
        cold = run(env)
        output = cold.stdout + cold.stderr
        assert cold.returncode == 0, output
        for name in (*SERVICES, "console", "prometheus"):
            pids[name] = int((demo_dir / f"{name}.pid").read_text())
            assert alive(pids[name]), name
        console = f"http://127.0.0.1:{env['BRINK_DEMO_CONSOLE_PORT']}/"
        assert f"console     {console}" in output
        # the seed alerts are in the console too, with their evidence and cited articles

        def listed() -> list[dict[str, object]]:
            with urllib.request.urlopen(console + "api/alerts", timeout=10) as r:
                alerts: list[dict[str, object]] = json.loads(r.read())["alerts"]
            return alerts

        assert wait_for(listed, timeout=10, message="seed alerts in the console")
        assert all(a["evidence"] for a in listed())
        assert output.count("healthy") >= len(SERVICES)
        assert f"http://127.0.0.1:{env['BRINK_DEMO_PROMETHEUS_PORT']}/alerts" in output
        assert "fresh demo pipeline" in output
        shown = set(rule_names())
        assert any(rule in output for rule in shown), f"no alert printed:\n{output}"
        assert "brink publish" in output and "/articles" in output and "make down" in output

        def status_shows_lag() -> str:
            status = run(folder_only, "status", timeout=30)
            assert status.returncode == 0, status.stdout + status.stderr
            lines = [rf"running: {n} +\(pid {pids[n]}\) healthy, lag \d+" for n in SERVICES]
            return status.stdout if all(re.search(x, status.stdout) for x in lines) else ""

        # Each service measures its lag every 10 s (shared.lag): the first round may be pending.
        shown_status = wait_for(status_shows_lag, timeout=30, interval=1, message="lag in status")
        assert re.search(r"alerting .*alerts [1-9]", shown_status), shown_status

        warm = run(env)
        output = warm.stdout + warm.stderr
        assert warm.returncode == 0, output
        assert "reusing the demo services" in output
        assert any(rule in output for rule in shown), f"no alert on the second run:\n{output}"
        for name in (*SERVICES, "console", "prometheus"):
            assert int((demo_dir / f"{name}.pid").read_text()) == pids[name]
    finally:
        stopped = run(folder_only, "stop", timeout=60)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    for name, pid in pids.items():
        assert not alive(pid), f"{name} ({pid}) still runs after stop"
        assert not (demo_dir / f"{name}.pid").exists()
    assert run(env, "status", timeout=30).returncode == 1
    again = run(env, "stop", timeout=60)
    assert again.returncode == 0
    assert "no demo service was running" in again.stdout
