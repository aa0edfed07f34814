"""``POST /articles``: articles over HTTP, fed into the same path as everything else.

Each item of a request is checked with exactly the function the consumer runs on a record,
`services.ingest.normalise.process` on the item's bytes with the same ``max_bytes``, so the API
accepts what the consumer accepts and refuses what it would dead-letter, with the same reason.
Accepted items are written to ``articles.raw`` (marked ``brink.via: http``) and acknowledged by
the broker before the answer; the one Kafka consumer then normalises, deduplicates and counts
them exactly as records published directly. Refused items are not forwarded.

Bodies: ``application/json`` (one object, an array of objects, or JSON lines),
``application/x-ndjson`` / ``application/jsonl`` (JSON lines) or ``text/plain`` (one article,
first line = headline). The item bytes are: the whole body for one object or text; each line for
JSON lines; each element re-serialised (orjson, as ``brink publish`` sends it) for an array.

Answers: 202 ``{"accepted": [{"index", "id"}], "errors": [{"index", "reason", "detail"}]}``
when at least one item was taken. When none was: 400 unreadable (``empty``, ``invalid_utf8``,
``malformed_json``), 413 ``too_large``, 422 any other reason (``too_deep``, ``invalid_fields``,
``unknown_fields``, ``binary``, ...), with ``error``/``detail`` of the first refusal. Before the
items: 411 no Content-Length, 413 Content-Length over ``max_body_bytes``, 415 other type, 408 body
not sent in time. 503 with ``Retry-After`` only when the server is at its limits or Kafka did not
acknowledge: never for something wrong with the request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import hdrs, web

from services.ingest.normalise import PROCESSING_ERROR, process
from shared import codec, limits
from shared.codec import DecodeError
from shared.limits import LimitError
from shared.webserver import Access, BackgroundServer, BodyTimeoutError, Limits, read_body

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

# Reasons that mean "could not be read at all" (400); too_large is 413; every other refusal 422.
UNREADABLE = frozenset({codec.EMPTY, codec.INVALID_UTF8, codec.MALFORMED_JSON})

# The API's limits (docs/ingest.md, "Limits"). Memory is bounded by MAX_IN_FLIGHT bodies of at
# most max_body_bytes each, plus the WORKERS items being processed.
API_LIMITS = Limits(
    head_timeout=10.0,
    body_timeout=30.0,
    max_connections=512,
    backlog=511,
    workers=4,
)
MAX_IN_FLIGHT = 64  # POSTs being read, processed or sent to Kafka at once
SENDERS = 16  # threads waiting for Kafka's acknowledgement (no CPU: more than the workers)
WARM_UP = b"Warm-up\n\nThis article loads the language model before the first request."
QUEUE_TIMEOUT = 5.0  # seconds a POST waits for one of those slots before 503 + Retry-After


class HttpError(Exception):
    """A whole request refused before its items are looked at."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a request: the bytes the consumer would get, or why there are none."""

    raw: bytes | None
    refused: DecodeError | None = None


def status_for(reason: str) -> int:
    if reason in UNREADABLE:
        return 400
    return 413 if reason == codec.TOO_LARGE else 422


def check_type(content_type: str) -> str:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in JSON_TYPES + JSONL_TYPES + TEXT_TYPES:
        raise HttpError(
            415,
            "unsupported_type",
            f"unsupported Content-Type {mime or '(none)'!r}; "
            "use application/json, application/x-ndjson or text/plain",
        )
    return mime


def split_items(body: bytes, content_type: str) -> list[Item]:
    """The request body as items. Only framing is judged here (what an item is); what an item
    holds is judged by `process`, on the bytes the consumer would get."""
    mime = check_type(content_type)
    if mime in TEXT_TYPES:
        return [Item(body)]
    if mime in JSON_TYPES:
        try:
            whole = orjson.loads(body)
        except orjson.JSONDecodeError:
            if len([ln for ln in body.splitlines() if ln.strip()]) < 2:
                return [Item(body)]  # one record: process() says what is wrong with it
        else:
            if isinstance(whole, list):
                return [array_item(element) for element in whole]
            return [Item(body)]
    return [line_item(line) for line in body.splitlines() if line.strip()]


def array_item(element: Any) -> Item:
    """One element of a JSON array, as the record ``brink publish`` would send for it."""
    if not isinstance(element, dict):
        return Item(None, not_an_object(element))
    try:
        return Item(orjson.dumps(element))
    except orjson.JSONEncodeError:  # only nesting past orjson's limit (255) can fail here
        return Item(None, DecodeError(limits.TOO_DEEP, "the object nests too deeply"))


def line_item(line: bytes) -> Item:
    """One JSON line: the line itself is the record, when it holds an object."""
    if line.lstrip()[:1] in (b"{", b"["):
        return Item(line)  # process() reads it, and refuses an array as the consumer does
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Item(None, DecodeError(codec.MALFORMED_JSON, "this line is not valid JSON"))
    return Item(None, not_an_object(value))


def not_an_object(value: Any) -> DecodeError:
    return DecodeError(codec.NOT_AN_OBJECT, f"expected a JSON object, got {type(value).__name__}")


def check_item(raw: bytes, max_bytes: int) -> str:
    """Run the consumer's own processing on one item; its article id, or `DecodeError`."""
    try:
        return process(raw, datetime.now(UTC), max_bytes=max_bytes).id
    except DecodeError:
        raise
    except LimitError as exc:
        raise DecodeError(exc.reason, exc.detail) from None
    except Exception as exc:  # the consumer dead-letters these as processing_error: so do we
        log.exception("processing an HTTP item failed")
        raise DecodeError(PROCESSING_ERROR, f"{type(exc).__name__}: {exc}") from None


def check_post(
    body: bytes, content_type: str, max_bytes: int
) -> tuple[int, dict[str, Any], list[tuple[bytes | None, bytes]]]:
    """Status, JSON answer and the (key, value) records to send for one POST /articles body
    (records only with 202). Raises `HttpError` (415) for a content type it does not take."""
    accepted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    records: list[tuple[bytes | None, bytes]] = []
    for index, item in enumerate(split_items(body, content_type)):
        try:
            if item.refused is not None:
                raise item.refused
            assert item.raw is not None
            article_id = check_item(item.raw, max_bytes)
        except DecodeError as exc:
            errors.append({"index": index, "reason": exc.reason, "detail": exc.detail})
            continue
        accepted.append({"index": index, "id": article_id})
        records.append((article_id.encode(), item.raw))
    if not accepted:
        if not errors:
            errors.append({"index": 0, "reason": codec.EMPTY, "detail": "no item in the body"})
        statuses = {status_for(e["reason"]) for e in errors}
        status = statuses.pop() if len(statuses) == 1 else 422
        first = errors[0]
        answer = {
            "error": first["reason"],
            "detail": first["detail"],
            "accepted": [],
            "errors": errors,
        }
        return status, answer, []
    return 202, {"accepted": accepted, "errors": errors}, records


def handle_post(
    body: bytes, content_type: str, max_bytes: int, submit: Submit
) -> tuple[int, dict[str, Any]]:
    """`check_post`, then ``submit`` of the accepted records; what ``submit`` raises (the broker
    did not acknowledge) propagates."""
    status, answer, records = check_post(body, content_type, max_bytes)
    if records:
        submit(records)
    return status, answer


def json_response(
    status: int, obj: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(obj) + b"\n",
        content_type="application/json",
        headers=headers,
    )


class ArticlesApi:
    """``POST /articles`` (and ``GET /healthz``) on its own port.

    Bound by the constructor, served by `start` from a daemon thread (`shared.webserver`),
    stopped by `stop`. At most ``max_in_flight`` POSTs are read and handled at once; a POST that
    waits ``queue_timeout`` seconds for a slot gets 503 with ``Retry-After``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        max_bytes: int,
        submit: Submit,
        *,
        limits: Limits = API_LIMITS,
        max_in_flight: int = MAX_IN_FLIGHT,
        queue_timeout: float = QUEUE_TIMEOUT,
        access: Access | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.submit = submit
        self.limits = dataclasses.replace(limits, max_body_bytes=max_bytes)
        self.queue_timeout = queue_timeout
        self.max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)
        routes = [
            web.post("/articles", self._post),
            web.post("/articles/", self._post),
            web.get("/healthz", self._healthz),
            web.route("*", "/{tail:.*}", self._elsewhere),
        ]
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="http-api-send")
        self._server = BackgroundServer(
            routes,
            host,
            port,
            self.limits,
            name="http-api",
            warm_up=self._warm_up,
            access=access,  # token (401) and TLS; /healthz stays open
        )

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> ArticlesApi:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self._senders.shutdown(wait=False, cancel_futures=True)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return json_response(200, {"status": "ok"})

    async def _elsewhere(self, request: web.Request) -> web.Response:
        if request.method == hdrs.METH_POST:
            return json_response(404, {"error": "not_found", "detail": "POST to /articles"})
        return json_response(405, {"error": "method_not_allowed", "detail": "POST /articles"})

    async def _post(self, request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is None:
            return json_response(411, {"error": "length_required", "detail": "send Content-Length"})
        if length > self.max_bytes:
            resp = json_response(
                413,
                {
                    "error": codec.TOO_LARGE,
                    "detail": f"{length} bytes is over the limit of {self.max_bytes}",
                },
            )
            resp.force_close()
            return resp
        ctype = request.headers.get(hdrs.CONTENT_TYPE, "")
        try:
            check_type(ctype)
        except HttpError as exc:
            return json_response(exc.status, {"error": exc.reason, "detail": exc.detail})
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            log.warning(
                "POST /articles: %d in flight for %.0f s; 503",
                self.max_in_flight,
                self.queue_timeout,
            )
            return json_response(
                503,
                {
                    "error": "busy",
                    "detail": f"{self.max_in_flight} requests in flight; retry later",
                },
                {"Retry-After": str(self.limits.retry_after_seconds), "Connection": "close"},
            )
        handed_over = False
        try:
            try:
                body = await read_body(request, self.limits)
            except BodyTimeoutError:
                resp = json_response(
                    408, {"error": "timeout", "detail": "the body did not arrive in time"}
                )
                resp.force_close()
                return resp
            work = asyncio.ensure_future(self._answer(body, ctype))
            # The slot is freed when the work is done, not when a client gives up waiting.
            work.add_done_callback(lambda _done: self._slots.release())
            handed_over = True
            status, answer, headers = await asyncio.shield(work)
            return json_response(status, answer, headers)
        finally:
            if not handed_over:
                self._slots.release()

    async def _answer(self, body: bytes, ctype: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Items checked on a worker thread, accepted ones sent and acknowledged on a sender
        thread (waiting for Kafka takes no CPU, so more of those run at once)."""
        try:
            status, answer, records = await self._server.run_blocking(
                check_post, body, ctype, self.max_bytes
            )
        except HttpError as exc:
            return exc.status, {"error": exc.reason, "detail": exc.detail}, {}
        if records:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._senders, self.submit, records)
            except LimitError as exc:  # a record the producer will never send: the client's fault
                return 413, {"error": exc.reason, "detail": exc.detail}, {}
            except Exception as exc:  # the broker did not take them: the client may retry
                log.warning("POST /articles not acknowledged by Kafka: %s", exc)
                retry = {"Retry-After": str(self.limits.retry_after_seconds)}
                return 503, {"error": "unavailable", "detail": str(exc)}, retry
        return status, answer, {}

    def _warm_up(self) -> None:
        """One article through `process` before serving: the language model loads once here,
        instead of in every worker thread that the first burst of requests reaches at once."""
        check_post(WARM_UP, "text/plain", self.max_bytes)
