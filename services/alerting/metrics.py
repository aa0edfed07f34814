"""Alerting's Prometheus metrics (names agreed with the team: brink_alerting_<noun>_<unit>)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.codec import REASONS
from shared.metrics import PROCESSING_BUCKETS, QUEUE_WAIT_BUCKETS

ARTICLES = Counter(
    "brink_alerting_articles_total",
    "Enriched articles consumed from articles.enriched and evaluated against the rules.",
)
ALERTS = Counter(
    "brink_alerting_alerts_total",
    "Alerts produced to the alerts topic, by rule and severity.",
    ["rule", "severity"],
)
SUPPRESSED = Counter(
    "brink_alerting_suppressed_total",
    "Alerts not produced: throttled (repeat interval), silenced, or duplicate (redelivery/copy).",
    ["reason"],
)
RULE_EVALUATION = Histogram(
    "brink_alerting_rule_evaluation_seconds",
    "Time to evaluate the rules for one enriched article, or one group contribution.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
DELIVERY_FAILURES = Counter(
    "brink_alerting_delivery_failures_total",
    "Alert deliveries that failed after all retries (or were dropped from a full queue).",
    ["receiver"],
)
END_TO_END_LATENCY = Histogram(
    "brink_alerting_end_to_end_latency_seconds",
    "From Article.received_at (set at ingest) to the alert being produced.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
QUEUE_WAIT = Histogram(
    "brink_alerting_queue_wait_seconds",
    "Time a record waited in Kafka before an agent took it: its timestamp to consumed, by agent"
    " (route reads articles.enriched, evaluate reads the internal by-group topic).",
    ["agent"],
    buckets=QUEUE_WAIT_BUCKETS,
)
PROCESSING = Histogram(
    "brink_alerting_processing_seconds",
    "Time an agent spends on one record, by agent: route (decode, rules, hand contributions to"
    " the producer) or evaluate (decide, produce the alert and wait for its acknowledgement).",
    ["agent"],
    buckets=PROCESSING_BUCKETS,
)
AGENTS = ("route", "evaluate")
DEAD_LETTERED = Counter(
    "brink_alerting_dead_lettered_total",
    "Records sent unchanged to articles.deadletter, by reason.",
    ["reason"],
)
SEND_FAILURES = Counter(
    "brink_alerting_send_failures_total",
    "Writes to Kafka that failed and are being retried (the record is not committed meanwhile),"
    " by topic: alerts, by-group (the internal topic), deadletter.",
    ["topic"],
)
GROUPS = Gauge(
    "brink_alerting_groups",
    "Alert groups this worker holds in its state table (over its partitions).",
)
GROUPS_EVICTED = Counter(
    "brink_alerting_groups_evicted_total",
    "Alert groups deleted from the state table (a changelog tombstone): idle (longer than their"
    " rule needs them) or cap (over BRINK_ALERTING_MAX_GROUPS, least recently used first).",
    ["reason"],
)
LAG = Gauge(
    "brink_alerting_consumer_lag",
    "Records in articles.enriched not yet committed by the alerting consumer group.",
    ["topic", "partition"],
)

PROCESSING_ERROR = "processing_error"
SEVERITIES = ("info", "warning", "critical")


def initialise(rules: list[str]) -> None:
    """Create every label set at zero so rate() and alerts see the series from the start."""
    for agent in AGENTS:
        QUEUE_WAIT.labels(agent=agent)
        PROCESSING.labels(agent=agent)
    for reason in ("idle", "cap"):
        GROUPS_EVICTED.labels(reason=reason)
    for reason in ("throttled", "silenced", "duplicate", "late"):
        SUPPRESSED.labels(reason=reason)
    for receiver in ("webhook", "alertmanager"):
        DELIVERY_FAILURES.labels(receiver=receiver)
    for reason in (*REASONS, PROCESSING_ERROR):
        DEAD_LETTERED.labels(reason=reason)
    for topic in ("alerts", "by-group", "deadletter"):
        SEND_FAILURES.labels(topic=topic)
    for rule in rules:
        for severity in SEVERITIES:
            ALERTS.labels(rule=rule, severity=severity)
