"""Fixtures for the fault runs: an output folder per session, the results table, and runs and
brokers that are always stopped (finalizers), whatever the test did.

Selection: tests marked ``faults`` (the long runs) are deselected unless the ``-m`` expression
names ``faults`` (``make test-faults``); ``faults_short`` (the CI smoke run) runs with the rest
of the suite in ``make test``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.faults.harness import Broker, Row, Run, format_table

ROWS = pytest.StashKey[list[Row]]()
OUT = pytest.StashKey[Path]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if re.search(r"\bfaults\b", config.option.markexpr or ""):
        return
    keep = [i for i in items if i.get_closest_marker("faults") is None]
    drop = [i for i in items if i.get_closest_marker("faults") is not None]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _out_dir(config: pytest.Config) -> Path:
    if OUT not in config.stash:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        config.stash[OUT] = ROOT / ".cache" / "faults" / stamp
        config.stash[ROWS] = []
    return config.stash[OUT]


@pytest.fixture(scope="session")
def faults_dir(pytestconfig: pytest.Config) -> Path:
    d = _out_dir(pytestconfig)
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def record_row(pytestconfig: pytest.Config, faults_dir: Path) -> Callable[[Row], None]:
    """Add a run's row to the session table and rewrite ``table.md`` at once (so a row survives
    an interrupted session)."""

    def record(row: Row) -> None:
        rows = pytestconfig.stash[ROWS]
        rows.append(row)
        (faults_dir / "table.md").write_text(format_table(rows) + "\n")
        print("\n" + format_table([row]))

    return record


@pytest.fixture
def make_run(faults_dir: Path) -> Iterator[Callable[..., Run]]:
    """Factory: ``make_run(name, bootstrap, broker=..., ...)``; every run is closed at the end."""
    runs: list[Run] = []
    # The harness's own clients log every refused connection while a broker is down on purpose;
    # pytest would print thousands of those lines under a failed run.
    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)

    def make(name: str, bootstrap: str, **kwargs: object) -> Run:
        run = Run(name, bootstrap, faults_dir / name, **kwargs)  # type: ignore[arg-type]
        runs.append(run)
        return run

    try:
        yield make
    finally:
        for run in runs:
            run.close()
        kafka_log.setLevel(level)


@pytest.fixture
def own_broker(faults_dir: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Broker]]:
    """Factory: ``own_broker(cluster=False)`` starts a broker (or 3-node cluster) on free ports
    with its data under the session's output folder; stopped (and killed if need be) at the end."""
    brokers: list[Broker] = []

    def start(cluster: bool = False) -> Broker:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        broker = Broker(faults_dir / f"kafka-{name}-{len(brokers)}", cluster=cluster)
        brokers.append(broker)
        broker.up()
        return broker

    try:
        yield start
    finally:
        for broker in brokers:
            broker.close()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    rows = config.stash.get(ROWS, [])
    if not rows:
        return
    terminalreporter.write_sep("=", "fault runs")
    terminalreporter.write_line(format_table(rows))
    terminalreporter.write_line(f"(also in {config.stash[OUT] / 'table.md'})")
