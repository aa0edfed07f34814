"""Enrichment throughput on the real corpus: Brink's two-pass Enricher against the naive
baseline (the full trained pipeline on every article) and the tokenizer alone.

Prints figures and ratios, the verdict agreement of the two, and peak memory; the last line
is ``speedup_vs_naive: N``. Nothing is asserted (timings are not tests).
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from services.cli.analyze import article_from_record
from services.enrichment.pipeline import Enricher, article_text, load_pipeline
from shared.schemas import Article, EnrichedArticle
from tests.conftest import CORPUS

EVERY = 4  # the corpus sample: every 4th article, so each subset keeps its share
BATCH = 64


def load_samples() -> dict[str, list[Article]]:
    """Two fixed samples of the real corpus: a proportional one (every 4th article: BBC,
    random Reuters and conflict-keyword Reuters in their corpus shares), and the
    conflict-heavy worst case (every reuters_geo_keyword story, where most sentences are
    candidates for the expensive pass)."""
    with CORPUS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "corpus (every 4th article)": [
            article_from_record(r, received_at=t0) for r in rows[::EVERY]
        ],
        "conflict-heavy (reuters_geo_keyword)": [
            article_from_record(r, received_at=t0)
            for r in rows
            if r["subset"] == "reuters_geo_keyword"
        ],
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Wall and CPU seconds spent in one configuration (CPU time is what this process used,
    so other work on the machine disturbs it less; both are printed)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def run(self, fn: Callable[[], Any]) -> Any:
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        self.wall += time.perf_counter() - w
        self.cpu += time.process_time() - c
        return out


def run_enricher(enricher: Enricher, articles: Sequence[Article]) -> list[EnrichedArticle]:
    out: list[EnrichedArticle] = []
    for i in range(0, len(articles), BATCH):
        out.extend(enricher.enrich(articles[i : i + BATCH]))
    return out


def measure(name: str, articles: list[Article], nlp: Any, fast: Enricher, full: Enricher) -> float:
    """Print one sample's figures; return the speedup (CPU time) of Brink over naive."""
    texts = [article_text(a) for a in articles]
    words = sum(len(t.split()) for t in texts)
    n = len(articles)
    print(f"{name}: {n} articles, {words} words")
    # Interleaved in chunks, so a burst of load elsewhere on the machine hits all three alike.
    tok, brink, naive = Clock(), Clock(), Clock()
    got_fast: list[EnrichedArticle] = []
    got_full: list[EnrichedArticle] = []
    chunk = 100
    for i in range(0, n, chunk):
        part, part_texts = articles[i : i + chunk], texts[i : i + chunk]
        tok.run(lambda t=part_texts: sum(len(d) for d in nlp.tokenizer.pipe(t, batch_size=256)))
        got_fast += brink.run(lambda p=part: run_enricher(fast, p))
        got_full += naive.run(lambda p=part: run_enricher(full, p))

    def line(label: str, clock: Clock) -> None:
        print(
            f"  {label:<38} {clock.wall:7.2f} s wall {clock.cpu:7.2f} s cpu"
            f" {n / clock.cpu:8.1f} articles/s {words / clock.cpu:9.0f} words/s"
        )

    line("tokenizer only", tok)
    line("naive: full pipeline on every article", naive)
    line("brink enrichment (two-pass)", brink)
    agree = sum(a.escalation == b.escalation for a, b in zip(got_fast, got_full, strict=True))
    sig_fast = {(e.article.id, s.kind, s.start, s.modality) for e in got_fast for s in e.signals}
    sig_full = {(e.article.id, s.kind, s.start, s.modality) for e in got_full for s in e.signals}
    print(f"  verdict agreement brink vs naive: {agree}/{n} ({100 * agree / n:.1f}%)")
    print(
        f"  signals: brink {len(sig_fast)}, naive {len(sig_full)},"
        f" identical {len(sig_fast & sig_full)} (escalation verdicts:"
        f" brink {sum(e.escalation for e in got_fast)}, naive {sum(e.escalation for e in got_full)})"
    )
    print(f"  brink speed / tokenizer-only speed: {tok.cpu / brink.cpu:.3f}")
    print(
        f"  speedup vs naive: {naive.cpu / brink.cpu:.1f} (cpu), {naive.wall / brink.wall:.1f} (wall)"
    )
    return naive.cpu / brink.cpu


def main() -> None:
    samples = load_samples()
    print(
        f"enrichment benchmark (one process, nlp.pipe batches of {BATCH} articles;"
        " articles/s and words/s from CPU time)"
    )
    base_rss = peak_rss_mb()
    nlp = load_pipeline()
    fast = Enricher(nlp, mode="fast")
    full = Enricher(nlp, mode="full", batch_size=16)
    first = next(iter(samples.values()))
    run_enricher(fast, first)  # warm-up, and the memory the service needs
    rss_fast = peak_rss_mb()
    speedups = [measure(name, arts, nlp, fast, full) for name, arts in samples.items()]
    print(
        f"peak RSS: before the model {base_rss:.0f} MB, Brink enrichment {rss_fast:.0f} MB,"
        f" after the naive runs {peak_rss_mb():.0f} MB"
    )
    print(f"speedup_vs_naive: {speedups[0]:.1f}")


if __name__ == "__main__":
    main()
