"""Fault and fuzz runs: does the pipeline lose anything when processes die or input is hostile?

Each test is one run (see tests/faults/harness.py) and prints one row of the results table;
the session prints the whole table and writes it to ``.cache/faults/<time>/table.md``. A run
passes when nothing is lost, no service crashed, every bad input was refused, every restart
was followed by new output within 10 s, and no alert id was written twice.

``make test`` runs the short smoke run (``faults_short``, on the suite's broker);
``make test-faults`` runs everything (``faults``: own brokers and a 3-node cluster, ~24 min).
Sizes scale with BRINK_FAULTS_SCALE (1.0; e.g. 0.1 while developing), the inputs repeat for one
BRINK_FAULTS_SEED. Docs: docs/operations.md, "Fault runs".
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import CORPUS
from tests.faults.harness import Broker, Event, Row, Run, run_scenario
from tests.faults.inputs import Item, bad_items, good_item, interleave, load_corpus, pick_articles

pytestmark = pytest.mark.kafka

SEED = int(os.environ.get("BRINK_FAULTS_SEED", "20261201"))
SCALE = float(os.environ.get("BRINK_FAULTS_SCALE", "1.0"))
ENRICH_RATE = 8.0  # articles/s the publishing is paced at (about enrichment's pace here)

_corpus: list[dict[str, Any]] = []


def scaled(n: int) -> int:
    return max(1, round(n * SCALE))


def items_for(
    run: str, articles: int, hostile: int = 0, *, http_share: float = 0.1, near_1mb: int = 0
) -> list[Item]:
    """The good articles (a share over HTTP) and hostile items for one run, interleaved."""
    if not _corpus:
        _corpus.extend(load_corpus(CORPUS))
    rng = random.Random(f"{SEED}:{run}")
    good = [
        good_item(a, run, i, "http" if rng.random() < http_share else "kafka")
        for i, a in enumerate(pick_articles(_corpus, articles, rng))
    ]
    bad = bad_items(rng, run, hostile, near_1mb=near_1mb) if hostile else []
    return list(interleave(rng, good, bad))


def check(row: Row) -> None:
    assert not row.failures, f"{row.run}: " + "; ".join(row.failures)


# --------------------------------------------------------------------------- CI smoke run
@pytest.mark.faults_short
def test_smoke_kill9_each_service_and_bad_inputs(
    bootstrap: str, make_run: Callable[..., Run], record_row: Callable[[Row], None]
) -> None:
    """200 articles and 200 hostile items on the suite's broker, each service killed once."""
    run = make_run("smoke", bootstrap, publish_seconds=25, stall_seconds=60, drain_seconds=120)
    items = items_for("smoke", 200, 200)
    events = [
        Event(0.25, "kill9", "ingest"),
        Event(0.5, "kill9", "enrichment"),
        Event(0.75, "kill9", "alerting"),
    ]
    check(run_scenario(run, items, events, record_row))


# --------------------------------------------------------------------------- full runs
@pytest.mark.faults
def test_control_clean_run(
    own_broker: Callable[..., Broker],
    make_run: Callable[..., Run],
    record_row: Callable[[Row], None],
) -> None:
    """Good input only, no faults: the harness itself must find nothing wrong (today's code)."""
    broker = own_broker()
    n = scaled(200)
    run = make_run("control", broker.bootstrap, broker=broker, publish_seconds=n / ENRICH_RATE)
    check(run_scenario(run, items_for("control", n, http_share=0.2), [], record_row))


@pytest.mark.faults
def test_kill9_each_service_five_times(
    own_broker: Callable[..., Broker],
    make_run: Callable[..., Run],
    record_row: Callable[[Row], None],
) -> None:
    """2,000 articles; ingest, enrichment and alerting each killed -9 five times, restarted."""
    broker = own_broker()
    n = scaled(2000)
    run = make_run("kill9-x5", broker.bootstrap, broker=broker, publish_seconds=n / ENRICH_RATE)
    events = [
        Event(round(0.05 + 0.15 * k + 0.05 * j, 3), "kill9", svc)
        for k in range(5)
        for j, svc in enumerate(("ingest", "enrichment", "alerting"))
    ]
    check(run_scenario(run, items_for("kill9-x5", n), events, record_row))


@pytest.mark.faults
@pytest.mark.parametrize("how", ["kill9", "stop"])
def test_broker_restart(
    how: str,
    own_broker: Callable[..., Broker],
    make_run: Callable[..., Run],
    record_row: Callable[[Row], None],
) -> None:
    """The single broker killed -9 (or stopped cleanly) once mid-run and started again."""
    broker = own_broker()
    n = scaled(500)
    name = f"broker-{how}"
    run = make_run(name, broker.bootstrap, broker=broker, publish_seconds=n / ENRICH_RATE)
    events = [Event(0.4, "broker_kill9" if how == "kill9" else "broker_stop")]
    check(run_scenario(run, items_for(name, n), events, record_row))


@pytest.mark.faults
def test_broker_kill9_ten_times(
    own_broker: Callable[..., Broker],
    make_run: Callable[..., Run],
    record_row: Callable[[Row], None],
) -> None:
    """The single broker killed -9 ten times during one run (each time started again after a
    3 s outage): no service may exit, nothing may be lost."""
    broker = own_broker()
    n = scaled(1000)
    # 1,000 articles over 400 s: the broker is up ~40 s between kills, so each recovery is
    # timed on its own (a kill cuts the timing of the one before it short)
    run = make_run("broker-kill9-x10", broker.bootstrap, broker=broker, publish_seconds=n / 2.5)
    events = [Event(round(0.05 + 0.09 * k, 3), "broker_kill9") for k in range(10)]
    check(run_scenario(run, items_for("broker-kill9-x10", n), events, record_row))


@pytest.mark.faults
def test_cluster_node_stopped(
    own_broker: Callable[..., Broker],
    make_run: Callable[..., Run],
    record_row: Callable[[Row], None],
) -> None:
    """3-node cluster, replication 3 / min ISR 2: node 1 (first in the bootstrap list) stopped
    mid-run, started again later."""
    broker = own_broker(cluster=True)
    n = scaled(500)
    run = make_run(
        "cluster-node-stop",
        broker.bootstrap,
        broker=broker,
        replication_factor=3,
        publish_seconds=n / ENRICH_RATE,
    )
    events = [Event(0.3, "node_stop", "1"), Event(0.8, "node_start", "1")]
    check(run_scenario(run, items_for("cluster-node-stop", n), events, record_row))


@pytest.mark.faults
def test_bad_inputs(
    own_broker: Callable[..., Broker],
    make_run: Callable[..., Run],
    record_row: Callable[[Row], None],
) -> None:
    """1,000 generated hostile inputs, half to articles.raw and half to POST /articles,
    interleaved with 300 good articles."""
    broker = own_broker()
    n, hostile = scaled(300), scaled(1000)
    run = make_run(
        "bad-inputs", broker.bootstrap, broker=broker, publish_seconds=(n + hostile) / 20
    )
    items = items_for("bad-inputs", n, hostile, near_1mb=3)
    check(run_scenario(run, items, [], record_row))
