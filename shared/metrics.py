"""Prometheus helpers: one small HTTP server per service for ``/metrics`` and ``/healthz``.

Metric objects themselves are defined in each service's own ``metrics`` module, named
``brink_<service>_<noun>_<unit>``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

HealthCheck = Callable[[], tuple[bool, dict[str, object]]]


def _always_ok() -> tuple[bool, dict[str, object]]:
    return True, {}


class MetricsServer:
    """Serves ``/metrics`` (text exposition) and ``/healthz`` (200 or 503 with JSON details)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry = REGISTRY,
        health: HealthCheck = _always_ok,
    ) -> None:
        registry_ = registry
        health_ = health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry_))
                elif path in ("/healthz", "/health"):
                    ok, details = health_()
                    body = orjson.dumps({"status": "ok" if ok else "unhealthy", **details})
                    self._send(200 if ok else 503, "application/json", body)
                else:
                    self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # scrapes are not news
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
