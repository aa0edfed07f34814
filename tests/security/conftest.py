"""A secure broker for the session: ``deploy/kafka/kafka.sh up --secure`` (SASL_SSL with
SCRAM-SHA-512, mutual TLS, the StandardAuthorizer, certificates made by the script) in its own
home under the session's temp dir, on free ports in 39300-39399 (``BRINK_SECURE_TEST_PORTS``
"low-high" to move them), stopped with ``kafka.sh down --secure`` after the session. It shares
the jars `make setup` fetched; the broker on 9092 is never touched."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.conftest import ROOT

KAFKA = ROOT / "deploy" / "kafka" / "kafka.sh"
ACLS = ROOT / "deploy" / "kafka" / "acls.sh"


def _taken(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


_GIVEN: set[int] = set()  # handed out this session: a service may not have bound it yet


def ports(n: int) -> list[int]:
    """``n`` free ports from ``BRINK_SECURE_TEST_PORTS`` (default 39300-39399), none of them
    handed out before in this session."""
    low, high = map(int, os.environ.get("BRINK_SECURE_TEST_PORTS", "39300-39399").split("-"))
    candidates = [p for p in range(low, high + 1) if p not in _GIVEN]
    random.shuffle(candidates)
    free = [p for p in candidates if not _taken(p)][:n]
    if len(free) < n:
        pytest.fail(f"fewer than {n} free ports in {low}-{high}")
    _GIVEN.update(free)
    return free


def read_env(path: Path) -> dict[str, str]:
    """A ``KEY=value`` file as kafka.sh writes it (comments and blank lines ignored)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


@dataclass(frozen=True)
class SecureBroker:
    home: Path
    sasl: str  # host:port, SASL_SSL
    mtls: str  # host:port, TLS with client certificates
    env: dict[str, str]  # what kafka.sh and acls.sh need to find this broker

    @property
    def ca(self) -> Path:
        return self.home / "secure" / "tls" / "ca.crt"

    def user_env(self, user: str, mtls: bool = False) -> dict[str, str]:
        """The BRINK_* variables kafka.sh wrote for ``user``."""
        suffix = "-mtls" if mtls else ""
        return read_env(self.home / "secure" / "env" / f"{user}{suffix}.env")

    def settings(self, user: str, prefix: str, mtls: bool = False, **extra: object) -> Settings:
        env = {k.removeprefix("BRINK_").lower(): v for k, v in self.user_env(user, mtls).items()}
        return Settings(**env, topic_prefix=prefix, **extra)  # type: ignore[arg-type]

    def acls(self, *args: str) -> str:
        done = subprocess.run(
            [str(ACLS), *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


def _start(tmp_path_factory: pytest.TempPathFactory) -> tuple[SecureBroker, str]:
    """One `kafka.sh up --secure` on fresh ports in a fresh home: (broker, stderr if it failed)."""
    home = tmp_path_factory.mktemp("secure-kafka")
    sasl, mtls, controller = ports(3)
    env = {
        **os.environ,
        "BRINK_KAFKA_HOME": str(home),
        "BRINK_KAFKA_LIBS": str(ROOT / ".cache" / "kafka" / "libs"),
        "BRINK_KAFKA_SECURE_PORT": str(sasl),
        "BRINK_KAFKA_MTLS_PORT": str(mtls),
        "BRINK_KAFKA_SECURE_CONTROLLER_PORT": str(controller),
        "BRINK_KAFKA_HEAP": "-Xms128m -Xmx512m",
    }
    for key in [k for k in env if k.startswith("BRINK_") and not k.startswith("BRINK_KAFKA")]:
        del env[key]  # the CI's BRINK_BOOTSTRAP_SERVERS etc. are for the plain broker
    up = subprocess.run(
        [str(KAFKA), "up", "--secure"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    broker = SecureBroker(home, f"127.0.0.1:{sasl}", f"127.0.0.1:{mtls}", env)
    return broker, "" if up.returncode == 0 else up.stderr


def _down(broker: SecureBroker) -> None:
    subprocess.run(
        [str(KAFKA), "down", "--secure"],
        check=False,
        env=broker.env,
        capture_output=True,
        timeout=90,
    )


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    broker, failed = _start(tmp_path_factory)
    log = broker.home / "secure" / "node" / "kafka.out"
    in_use = log.exists() and "Address already in use" in log.read_text(errors="replace")
    if failed and (in_use or "is taken" in failed):
        # a port seen free was taken before the JVM bound it (a client's ephemeral port, say):
        # once more, on other ports
        _down(broker)
        broker, failed = _start(tmp_path_factory)
    try:
        if failed:
            pytest.fail(f"kafka.sh up --secure failed:\n{failed[-3000:]}")
        yield broker
    finally:
        _down(broker)
