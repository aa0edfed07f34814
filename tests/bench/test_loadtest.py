"""`make loadtest` (tests/bench/loadtest.py): its figures logic, and a short run end to end on
the real broker (two tiny steps) that prints the table and the ceiling and draws the plot.
No timing is asserted: the machine is shared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.loadtest import (
    Step,
    buckets,
    ceiling,
    histogram_figures,
    plot,
    quantile,
    table,
)
from tests.conftest import ROOT


def step(
    mix: str, rate: float, p99: float | None, *, alerts: int = 50, drained: bool = True
) -> Step:
    s = Step(mix, rate, 10, sent=int(rate * 10), drained=drained, alerts=alerts)
    s.pub_alert = {"p50": p99, "p95": p99, "p99": p99}
    s.pub_enriched = {"p50": 0.2, "p95": 0.3, "p99": 0.4}
    return s


def test_quantile_is_nearest_rank() -> None:
    assert quantile([], 0.99) is None
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert quantile([float(i) for i in range(1, 101)], 0.99) == 99.0


def test_ceiling_is_the_highest_realistic_rate_within_one_second_that_drained() -> None:
    steps = [
        step("realistic", 10, 0.3),
        step("realistic", 50, 0.9),
        step("realistic", 100, 1.4),
        step("realistic", 150, 0.8, drained=False),  # behind: not a pass whatever its p99
        step("conflict", 200, 0.1),  # another mix never counts
    ]
    assert ceiling(steps) == 50
    assert ceiling([step("realistic", 10, 2.0)]) == 0


def test_too_few_alerts_judge_on_publish_to_enriched() -> None:
    few = step("realistic", 25, 5.0, alerts=3)  # alert p99 over 3 alerts says little
    assert few.p99() == 0.4
    assert ceiling([few]) == 25


def test_table_and_plot(tmp_path: Path) -> None:
    steps = [step("realistic", 10, 0.3), step("conflict", 10, 2.0, drained=False)]
    text = table(steps)
    assert text.count("\n") == 3  # header, rule, two rows
    assert "| realistic | 10 |" in text and "no (0 out)" in text
    plot(steps, tmp_path / "p99.png")
    assert (tmp_path / "p99.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.kafka
def test_a_short_load_test_prints_the_table_and_the_ceiling(tmp_path: Path, bootstrap: str) -> None:
    env = dict(
        os.environ,
        BRINK_BOOTSTRAP_SERVERS=bootstrap,
        BRINK_LOAD_RATES="4",
        BRINK_LOAD_SECONDS="3",
        BRINK_LOAD_DRAIN="60",
        BRINK_LOAD_OUT=str(tmp_path),
        BRINK_LOAD_PORT_BASE="39560",
        BRINK_ENRICHMENT_WORKERS="1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.bench.loadtest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "| realistic | 4 |" in out and "| conflict | 4 |" in out
    assert out.rstrip().splitlines()[-1].startswith("ceiling_articles_per_s: ")
    assert (tmp_path / "p99.png").exists() and (tmp_path / "table.md").exists()


def test_histogram_figures_from_two_scrapes() -> None:
    text = "\n".join(
        [
            "# TYPE x_seconds histogram",
            'x_seconds_bucket{le="0.1",worker="0"} 5',
            'x_seconds_bucket{le="1.0",worker="0"} 9',
            'x_seconds_bucket{le="+Inf",worker="0"} 10',
            'x_seconds_sum{worker="0"} 4.0',
            'x_seconds_count{worker="0"} 10',
            'x_seconds_bucket{le="0.1",worker="1"} 10',
            'x_seconds_bucket{le="1.0",worker="1"} 10',
            'x_seconds_bucket{le="+Inf",worker="1"} 10',
            'x_seconds_sum{worker="1"} 0.5',
            'x_seconds_count{worker="1"} 10',
        ]
    )
    after = buckets(text + "\n", "x_seconds", {})
    assert after[float("inf")] == 20 and after[-1.0] == 4.5
    figures = histogram_figures({}, after)
    assert figures == {"n": 20, "mean": 4.5 / 20, "p99_le": float("inf")}
    assert histogram_figures(after, after) == {}
