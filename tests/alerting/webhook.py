"""A local webhook endpoint for receiver tests: records JSON bodies, optionally failing first."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    """Answers 503 to the first ``fail`` POSTs, then 200, keeping each accepted JSON body."""

    def __init__(self, fail: int = 0) -> None:
        self.calls = 0
        self.bodies: list[Any] = []
        self.raw: list[bytes] = []  # accepted bodies as sent, with their headers
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.calls += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.calls <= fail:
                    self.send_response(503)
                else:
                    outer.bodies.append(json.loads(body))
                    outer.raw.append(body)
                    outer.headers.append(dict(self.headers.items()))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
