"""``POST /articles``: articles over HTTP, fed into the same path as everything else.

Each accepted item is written to ``articles.raw`` (marked ``brink.via: http``) and acknowledged by
the broker before the response, so the one Kafka consumer normalises, deduplicates and counts it
exactly as it does records published directly. Items are validated here first (with the same pure
functions ingest uses) so callers get their errors at once instead of via the dead-letter topic;
refused items are not forwarded.

Bodies: ``application/json`` (one object, an array of objects, or JSON lines),
``application/x-ndjson`` / ``application/jsonl`` (JSON lines) or ``text/plain`` (one article,
first line = headline). Answers: 202 ``{"accepted": [{"index", "id"}], "errors": [...]}``;
400 unreadable body, 411 no Content-Length, 413 over ``max_body_bytes``, 415 other content type,
422 when no item is valid, 503 when the broker did not acknowledge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from services.ingest.normalise import normalise, parse_object, parse_raw
from shared import codec
from shared.codec import DecodeError

log = logging.getLogger(__name__)

Submit = Callable[[Sequence[tuple[bytes | None, bytes]]], None]

JSON_TYPES = ("application/json",)
JSONL_TYPES = (
    "application/x-ndjson",
    "application/jsonl",
    "application/json-lines",
    "application/jsonlines",
)
TEXT_TYPES = ("text/plain",)


class HttpError(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def split_items(body: bytes, content_type: str) -> list[tuple[bytes, dict[str, Any] | str | None]]:
    """The request body as (raw bytes, parsed item) pairs; parsed None = malformed JSON line."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in JSON_TYPES + JSONL_TYPES + TEXT_TYPES:
        raise HttpError(
            415,
            "unsupported_type",
            f"unsupported Content-Type {mime or '(none)'!r}; "
            "use application/json, application/x-ndjson or text/plain",
        )
    if not body.strip():
        raise HttpError(400, codec.EMPTY, "the request body is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, codec.INVALID_UTF8, f"not UTF-8 at byte {exc.start}") from None
    if mime in TEXT_TYPES:
        return [(body, text)]
    if mime in JSON_TYPES:
        try:
            whole = orjson.loads(body)
        except orjson.JSONDecodeError:
            whole = None
            lines = [ln for ln in text.splitlines() if ln.strip()]
            if len(lines) < 2:
                raise HttpError(400, codec.MALFORMED_JSON, "the body is not valid JSON") from None
        if whole is not None:
            if isinstance(whole, dict):
                return [(body, whole)]
            if isinstance(whole, list):
                return [(orjson.dumps(item), item) for item in whole]
            raise HttpError(400, codec.NOT_AN_OBJECT, "expected a JSON object or array of objects")
    items: list[tuple[bytes, dict[str, Any] | str | None]] = []
    for line in text.splitlines():
        if line.strip():
            try:
                items.append((line.encode(), orjson.loads(line)))
            except orjson.JSONDecodeError:
                items.append((line.encode(), None))
    if items and all(parsed is None for _, parsed in items):
        raise HttpError(400, codec.MALFORMED_JSON, "no line of the body is valid JSON")
    return items


def check_item(raw_bytes: bytes, parsed: Any) -> str:
    """Validate one item as ingest would; its article id, or `DecodeError`."""
    if parsed is None:
        raise DecodeError(codec.MALFORMED_JSON, "this line is not valid JSON")
    if isinstance(parsed, str):
        raw = parse_raw(raw_bytes)  # exactly how the consumer will read these bytes
    elif isinstance(parsed, dict):
        raw = parse_object(parsed)
    else:
        raise DecodeError(
            codec.NOT_AN_OBJECT, f"expected a JSON object, got {type(parsed).__name__}"
        )
    return normalise(raw, datetime.now(UTC)).id


def handle_post(
    body: bytes, content_type: str, max_bytes: int, submit: Submit
) -> tuple[int, dict[str, Any]]:
    """Status and JSON answer for one POST /articles body (`HttpError` for whole-request failures)."""
    accepted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    records: list[tuple[bytes | None, bytes]] = []
    for index, (raw, parsed) in enumerate(split_items(body, content_type)):
        try:
            if len(raw) > max_bytes:
                raise DecodeError(codec.TOO_LARGE, f"{len(raw)} bytes is over {max_bytes}")
            article_id = check_item(raw, parsed)
        except DecodeError as exc:
            errors.append({"index": index, "reason": exc.reason, "detail": exc.detail})
            continue
        accepted.append({"index": index, "id": article_id})
        records.append((article_id.encode(), raw))
    if not accepted:
        return 422, {"accepted": [], "errors": errors}
    submit(records)
    return 202, {"accepted": accepted, "errors": errors}


class ArticlesApi:
    """A threaded HTTP server for ``POST /articles`` (and ``GET /healthz``)."""

    def __init__(self, host: str, port: int, max_bytes: int, submit: Submit) -> None:
        max_bytes_, submit_ = max_bytes, submit

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.split("?", 1)[0].rstrip("/") != "/articles":
                    self._json(404, {"error": "not_found", "detail": "POST to /articles"})
                    return
                length = self.headers.get("Content-Length")
                if length is None or not length.isdigit():
                    self._json(411, {"error": "length_required", "detail": "send Content-Length"})
                    return
                if int(length) > max_bytes_:
                    self.close_connection = True
                    self._json(
                        413,
                        {
                            "error": codec.TOO_LARGE,
                            "detail": f"{length} bytes is over the limit of {max_bytes_}",
                        },
                    )
                    return
                body = self.rfile.read(int(length))
                try:
                    status, answer = handle_post(
                        body, self.headers.get("Content-Type", ""), max_bytes_, submit_
                    )
                except HttpError as exc:
                    status, answer = exc.status, {"error": exc.reason, "detail": exc.detail}
                except Exception as exc:  # the broker did not take it: the client may retry
                    log.warning("POST /articles not acknowledged by Kafka: %s", exc)
                    status, answer = 503, {"error": "unavailable", "detail": str(exc)}
                self._json(status, answer)

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/healthz":
                    self._json(200, {"status": "ok"})
                else:
                    self._json(405, {"error": "method_not_allowed", "detail": "POST /articles"})

            def _json(self, status: int, obj: dict[str, Any]) -> None:
                data = orjson.dumps(obj) + b"\n"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("http: %s", format % args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-api", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> ArticlesApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
