"""Enrichment's Prometheus metrics (names agreed with ops: brink_enrichment_<noun>_<unit>)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import QUEUE_WAIT_BUCKETS
from shared.schemas import SignalKind

DEFAULT_METRICS_PORT = 9102
PROCESSING_ERROR = "processing_error"  # dead-letter reason when the pipeline raises

ARTICLES = Counter("brink_enrichment_articles_total", "Articles enriched, by status.", ["status"])
SIGNALS = Counter("brink_enrichment_signals_total", "Signals found, by kind.", ["kind"])
NEGATED = Counter("brink_enrichment_negated_signals_total", "Signals found negated.")
DEAD_LETTERED = Counter(
    "brink_enrichment_dead_lettered_total", "Records sent to the dead-letter topic.", ["reason"]
)
PROCESSING = Histogram(
    "brink_enrichment_processing_seconds",
    "Time to enrich one batch (decode, spaCy, encode, produce).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
QUEUE_WAIT = Histogram(
    "brink_enrichment_queue_wait_seconds",
    "Time an article waited in the articles topic: its Kafka timestamp to enrichment taking it"
    " in a batch.",
    buckets=QUEUE_WAIT_BUCKETS,
)
BATCH_SIZE = Histogram(
    "brink_enrichment_batch_size",
    "Records per batch taken from the stream.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
LAG = Gauge(
    "brink_enrichment_consumer_lag",
    "Records not yet processed, per partition.",
    ["topic", "partition"],
)


def initialise() -> None:
    """Export every label value at zero from the start, so rates and alerts see them."""
    for status in ("ok", "skipped_language", "empty"):
        ARTICLES.labels(status=status)
    for kind in SignalKind:
        SIGNALS.labels(kind=kind.value)


CAPPED = Counter(
    "brink_enrichment_capped_total",
    "Enriched articles whose signals, entities or evidence were cut to the caps"
    " (services/enrichment/bounds.py) before they were produced.",
)
