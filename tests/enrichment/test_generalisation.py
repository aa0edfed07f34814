"""Accuracy on the labelled generalisation sets (tests/data/units*.jsonl, written*.jsonl;
tests/enrichment/labelled.py), gated at the level measured minus a small margin.

Which figure is which (docs/enrichment.md, "Accuracy"):
- ``dev``: the half the patterns were tuned on: a training figure.
- ``test``: the first held-out half. Scored once (F1 0.690), then its errors were read to find
  classes the patterns lacked, so it too is now a training figure.
- ``test2``: labelled after that by annotators who saw neither code nor earlier texts; scored
  once (P 0.894, R 0.795, F1 0.842), its errors never read; scored a second time at the end of
  the third session (P 0.882, R 0.829, F1 0.855), still unread.
- ``test3``: labelled during the third session by an annotator who saw no code and no earlier
  text; scored once at its end (P 0.902, R 0.803, F1 0.849), errors never read. With test2,
  the honest figure.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.enrichment.pipeline import Enricher
from tests.enrichment.labelled import Report, enrich_units, evaluate, load_units, print_report

pytestmark = pytest.mark.slow

# split: (precision, recall, f1) floors, a little under what was measured (dev 0.928 / 0.838 /
# 0.881; test 0.922 / 0.770 / 0.839; test2 0.882 / 0.829 / 0.855; test3 0.902 / 0.803 / 0.849)
FLOORS = {
    "dev": (0.90, 0.81, 0.86),
    "test": (0.89, 0.74, 0.81),
    "test2": (0.85, 0.79, 0.82),
    "test3": (0.87, 0.77, 0.82),
}


@pytest.fixture(scope="module")
def reports(enricher: Enricher, corpus: dict[str, dict[str, Any]]) -> dict[str, Report]:
    out = {}
    for split in FLOORS:
        units = load_units(corpus, split)
        assert len(units) >= 400, f"the {split} set is missing or truncated"
        out[split] = evaluate(units, enrich_units(enricher, units))
    return out


@pytest.mark.parametrize("split", list(FLOORS))
def test_verdict_holds_on_each_split(reports: dict[str, Report], split: str) -> None:
    rep = reports[split]
    print()
    print_report(split, rep)
    precision, recall, f1 = FLOORS[split]
    assert rep.overall.precision >= precision
    assert rep.overall.recall >= recall
    assert rep.overall.f1 >= f1
