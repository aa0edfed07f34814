"""`python -m tests.bench`: every benchmark module's ``main()``; enrichment's last, so its
``speedup_vs_naive: N`` line ends the output."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def main() -> None:
    here = Path(__file__).parent
    others = sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if (m.name.startswith("ingest") or m.name.startswith("bench_")) and m.name != "enrichment"
    )
    for name in others:
        importlib.import_module(f"tests.bench.{name}").main()
    importlib.import_module("tests.bench.enrichment").main()


if __name__ == "__main__":
    main()
