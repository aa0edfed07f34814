"""The console's Prometheus metrics (``brink_console_*``), all in one place."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("brink_console_records_total", "Records read from Kafka into the store.")
APPLIED = Counter("brink_console_records_applied_total", "Records that changed the store.")
BATCH_SECONDS = Histogram(
    "brink_console_store_batch_seconds", "Time to write one batch (rows + offsets) to the store."
)
REQUESTS = Counter(
    "brink_console_requests_total",
    "HTTP requests by route kind and status class.",
    ["kind", "status"],
)
STREAM_CLIENTS = Gauge("brink_console_stream_clients", "Open Server-Sent Events streams.")
ACTIONS = Counter("brink_console_actions_total", "Analyst actions written to Kafka.", ["action"])
DELIVERIES = Counter(
    "brink_console_receiver_deliveries_total", "Receiver mode: alerts POSTed.", ["result"]
)
