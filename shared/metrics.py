"""Prometheus helpers: one small HTTP server per service for ``/metrics`` and ``/healthz``.

Metric objects themselves are defined in each service's own ``metrics`` module, named
``brink_<service>_<noun>_<unit>``. The server is `shared.webserver.BackgroundServer` (aiohttp on
its own thread) with `METRICS_LIMITS`: scrapers and probes need few connections and no bodies.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from shared.webserver import BackgroundServer, Limits

HealthCheck = Callable[[], tuple[bool, dict[str, object]]]

# Buckets of the per-stage latency histograms (docs/operations.md, "Where time goes"): the
# promise is an alert within a second, so the fine steps are below 1 s and the tail reaches a
# backlog of 30 s. Queue wait is a record's Kafka timestamp to the moment the stage consumed it;
# processing adds the millisecond steps a cheap stage (ingest, alerting) needs.
QUEUE_WAIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PROCESSING_BUCKETS = (0.001, 0.0025, 0.005, *QUEUE_WAIT_BUCKETS)


def queue_wait(timestamp_s: float | None, now: float) -> float | None:
    """Seconds a record waited in Kafka: from its record timestamp (CreateTime, set by the
    producer; LogAppendTime on topics configured so) to ``now`` (wall clock, ``time.time()``).
    None when the record has no timestamp; clock skew between hosts is clipped at 0."""
    if timestamp_s is None or timestamp_s <= 0:
        return None
    return max(0.0, now - timestamp_s)


# Prometheus, a load balancer's probe and a person with curl: 64 connections is plenty, and
# nothing here reads a request body.
METRICS_LIMITS = Limits(max_connections=64, max_body_bytes=1024, workers=2)


def _always_ok() -> tuple[bool, dict[str, object]]:
    return True, {}


class MetricsServer:
    """Serves ``/metrics`` (text exposition) and ``/healthz`` (200 or 503 with JSON details).

    The port is bound by the constructor; `start` serves from a daemon thread; `stop` ends it.
    The registry is collected and ``health`` called on a worker thread, never on the thread
    that accepts connections.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry = REGISTRY,
        health: HealthCheck = _always_ok,
        limits: Limits = METRICS_LIMITS,
    ) -> None:
        self._registry = registry
        self._health = health
        routes = [
            web.get("/metrics", self._metrics),
            web.get("/healthz", self._healthz),
            web.get("/health", self._healthz),
            web.route("*", "/{tail:.*}", self._not_found),
        ]
        self._server = BackgroundServer(routes, host, port, limits, name="metrics")

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> MetricsServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = await self._server.run_blocking(generate_latest, self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok, details = await self._server.run_blocking(self._health)
        body = orjson.dumps({"status": "ok" if ok else "unhealthy", **details})
        return web.Response(status=200 if ok else 503, body=body, content_type="application/json")

    async def _not_found(self, _request: web.Request) -> web.Response:
        return web.Response(status=404, text="not found: try /metrics or /healthz\n")
