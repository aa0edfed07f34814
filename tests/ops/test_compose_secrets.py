"""docker-compose.yml carries no default password or token: every secret comes from the .env
the user creates from deploy/compose.env.example, which Compose does not read by itself."""

from __future__ import annotations

import re
import subprocess

from tests.ops.contract import COMPOSE, DEPLOY, ROOT

SECRET = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)
EXAMPLE = DEPLOY / "compose.env.example"


def test_no_secret_has_a_default_in_the_compose_file() -> None:
    found = 0
    for line in COMPOSE.read_text().splitlines():
        key, sep, value = line.strip().partition(":")
        if not sep or not SECRET.search(key) or key.startswith("#"):
            continue
        found += 1
        value = value.strip()
        required = re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", value)
        empty = re.fullmatch(r"\$\{[A-Z0-9_]+:-\}", value)
        assert required or empty, f"{key} has a default or a literal value: {value}"
    assert found >= 3  # Grafana's password, the HTTP token, the SASL password


def test_the_required_secrets_are_in_the_example_and_it_is_not_read_automatically() -> None:
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    assert required >= {"GRAFANA_ADMIN_PASSWORD", "BRINK_HTTP_TOKEN"}
    example = dict(
        line.split("=", 1)
        for line in EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example)
    assert all(example[name] == "" for name in required)  # no usable value ships
    assert EXAMPLE.name != ".env" and EXAMPLE.parent != COMPOSE.parent
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0, ".env (the user's secrets) must be git-ignored"
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
