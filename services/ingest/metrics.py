"""Ingest's Prometheus metrics (names agreed with the team: brink_ingest_<noun>_<unit>)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.ingest.normalise import REASONS
from shared.metrics import PROCESSING_BUCKETS, QUEUE_WAIT_BUCKETS

RECEIVED = Counter(
    "brink_ingest_received_total",
    "Raw records consumed from articles.raw, by how they came in (kafka, or http via the API).",
    ["via"],
)
PUBLISHED = Counter(
    "brink_ingest_published_total",
    "Articles written to the articles topic (first copies and marked duplicates).",
)
DUPLICATES = Counter(
    "brink_ingest_duplicates_total",
    "Articles marked as a later copy of a story seen within the window.",
    ["kind"],
)
DEAD_LETTERED = Counter(
    "brink_ingest_dead_lettered_total",
    "Raw records sent unchanged to articles.deadletter, by reason.",
    ["reason"],
)
PROCESSING = Histogram(
    "brink_ingest_processing_seconds",
    "Time to validate, normalise and deduplicate one raw record.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
QUEUE_WAIT = Histogram(
    "brink_ingest_queue_wait_seconds",
    "Time a raw record waited in articles.raw: its Kafka timestamp to ingest polling it.",
    buckets=QUEUE_WAIT_BUCKETS,
)
BATCH_PROCESSING = Histogram(
    "brink_ingest_batch_processing_seconds",
    "Time to handle one polled batch of raw records: process each, produce, wait for the"
    " broker's acknowledgements and commit.",
    buckets=PROCESSING_BUCKETS,
)
DEDUP_EVICTED = Counter(
    "brink_ingest_dedup_evicted_total",
    "First copies the deduplicator forgot: past the window, or pushed out by "
    "BRINK_INGEST_DEDUP_MAX_ENTRIES (cause=cap: the cap is too small for the traffic).",
    ["cause"],
)
DEDUP_ENTRIES = Gauge(
    "brink_ingest_dedup_entries",
    "Articles the deduplicator remembers now (at most BRINK_INGEST_DEDUP_MAX_ENTRIES).",
)
OUTPUT_RETRIES = Counter(
    "brink_ingest_output_retries_total",
    "Records re-sent because the broker did not acknowledge them (transient errors).",
)
PRODUCER_RESETS = Counter(
    "brink_ingest_producer_resets_total",
    "Producers replaced after a fatal error (a refused record poisons an idempotent producer).",
)
LAG = Gauge(
    "brink_ingest_consumer_lag",
    "Records in articles.raw not yet committed by the ingest consumer group.",
    ["topic", "partition"],
)


def initialise() -> None:
    """Create every label set at zero so rate() and alerts see the series from the start."""
    for via in ("kafka", "http"):
        RECEIVED.labels(via=via)
    for kind in ("exact", "near"):
        DUPLICATES.labels(kind=kind)
    for reason in REASONS:
        DEAD_LETTERED.labels(reason=reason)
    for cause in ("window", "cap"):
        DEDUP_EVICTED.labels(cause=cause)
