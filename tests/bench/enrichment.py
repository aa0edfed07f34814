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

OTHERS = 369  # besides every reuters_geo_keyword article: 1,000 articles in all
BATCH = 64


def sample() -> list[Article]:
    """Every reuters_geo_keyword story (where signals are) plus an even spread of the rest."""
    with CORPUS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    geo = [r for r in rows if r["subset"] == "reuters_geo_keyword"]
    rest = [r for r in rows if r["subset"] != "reuters_geo_keyword"]
    step = max(1, len(rest) // OTHERS)
    chosen = geo + rest[::step][:OTHERS]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [article_from_record(r, received_at=t0) for r in chosen]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_enricher(enricher: Enricher, articles: Sequence[Article]) -> list[EnrichedArticle]:
    out: list[EnrichedArticle] = []
    for i in range(0, len(articles), BATCH):
        out.extend(enricher.enrich(articles[i : i + BATCH]))
    return out


def main() -> None:
    articles = sample()
    texts = [article_text(a) for a in articles]
    words = sum(len(t.split()) for t in texts)
    n = len(articles)
    print(f"enrichment benchmark: {n} corpus articles, {words} words, batches of {BATCH}")
    base_rss = peak_rss_mb()
    nlp = load_pipeline()
    fast = Enricher(nlp, mode="fast", batch_size=BATCH)
    full = Enricher(nlp, mode="full", batch_size=16)
    run_enricher(fast, articles[:20])  # warm-up (vocab, matchers)

    t_tok, _ = timed(lambda: sum(len(d) for d in nlp.tokenizer.pipe(texts, batch_size=256)))
    t_fast, got_fast = timed(lambda: run_enricher(fast, articles))
    rss_fast = peak_rss_mb()
    t_full, got_full = timed(lambda: run_enricher(full, articles))
    rss_full = peak_rss_mb()

    def line(name: str, seconds: float) -> None:
        print(
            f"  {name:<38} {seconds:8.2f} s {n / seconds:9.1f} articles/s {words / seconds:11.0f} words/s"
        )

    line("tokenizer only", t_tok)
    line("naive: full pipeline on every article", t_full)
    line("brink enrichment (two-pass)", t_fast)
    agree = sum(a.escalation == b.escalation for a, b in zip(got_fast, got_full, strict=True))
    sig_fast = {(e.article.id, s.kind, s.start, s.modality) for e in got_fast for s in e.signals}
    sig_full = {(e.article.id, s.kind, s.start, s.modality) for e in got_full for s in e.signals}
    both = len(sig_fast & sig_full)
    print(f"  verdict agreement brink vs naive: {agree}/{n} ({100 * agree / n:.1f}%)")
    print(
        f"  signals: brink {len(sig_fast)}, naive {len(sig_full)}, identical {both}"
        f" (escalation verdicts: brink {sum(e.escalation for e in got_fast)},"
        f" naive {sum(e.escalation for e in got_full)})"
    )
    print(f"  ratio brink / tokenizer-only speed: {t_tok / t_fast:.3f}")
    print(
        f"  peak RSS: before model {base_rss:.0f} MB, brink service {rss_fast:.0f} MB,"
        f" after naive run {rss_full:.0f} MB"
    )
    print(f"speedup_vs_naive: {t_full / t_fast:.1f}")


if __name__ == "__main__":
    main()
