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
