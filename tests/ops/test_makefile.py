"""The Makefile wires the ops pieces: `make demo` and `make down` call deploy/demo.sh, and
`make test` runs the whole of tests/ (so the promtool checks here run with it)."""

from __future__ import annotations

import re
import subprocess

from tests.ops.contract import ROOT


def recipe(target: str) -> tuple[str, str]:
    """(prerequisites, recipe text) of a Makefile target."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(
        rf"^{re.escape(target)}:([^\n#]*)(?:##[^\n]*)?\n((?:\t[^\n]*\n)*)", text, re.M
    )
    assert match, f"no target {target}"
    return match[1], match[2]


def test_demo_sets_up_starts_kafka_and_runs_the_demo_script() -> None:
    prerequisites, commands = recipe("demo")
    assert prerequisites.split() == ["setup", "kafka-up"]
    assert "deploy/demo.sh" in commands


def test_down_stops_the_demo_then_kafka() -> None:
    _, commands = recipe("down")
    assert commands.index("deploy/demo.sh stop") < commands.index("$(KAFKA) down")


def test_make_test_runs_every_test_folder_including_ops() -> None:
    _, commands = recipe("test")
    assert re.search(r"-m pytest(?! [^\n]*tests/\w)", commands), commands
    assert "not kafka" not in commands


def test_help_lists_the_ops_targets() -> None:
    out = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for target in ("demo", "demo-status", "down", "promtool-check"):
        assert re.search(rf"^  make {target} +\S", out, re.M), out
