"""POST /articles through the real server (no broker: a fake submit): one validation path with
the consumer, 4xx with a reason for every client fault, 503 + Retry-After only for the broker
or a full server."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kafka.errors import KafkaTimeoutError

from services.ingest.http_api import ArticlesApi
from services.ingest.normalise import process
from shared.codec import DecodeError
from shared.limits import LimitError

MAX_BYTES = 20_000
Records = Sequence[tuple[bytes | None, bytes]]


class FakeSubmit:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []

    def __call__(self, records: Records) -> None:
        self.sent.extend(records)


def serve(submit: Callable[[Records], None], **kw: Any) -> ArticlesApi:
    return ArticlesApi("127.0.0.1", 0, MAX_BYTES, submit, **kw).start()


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[ArticlesApi, FakeSubmit]]:
    submit = FakeSubmit()
    server = serve(submit)
    yield server, submit
    server.stop()


def post(
    port: int, body: bytes, ctype: str = "application/json"
) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/articles", body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, orjson.loads(resp.read()), resp
    finally:
        conn.close()


def consumer_reason(raw: bytes) -> str | None:
    """What ingest's consumer does with these record bytes: None = accepted, else the reason."""
    try:
        process(raw, datetime.now(UTC), max_bytes=MAX_BYTES)
    except (DecodeError, LimitError) as exc:
        return exc.reason
    return None


def nested(depth: int, open_: str, close: str, inner: str = "1") -> str:
    return open_ * depth + inner + close * depth


def deep_object(depth: int) -> str:
    return nested(depth, '{"a":', "}")


BODY = "Troops massed near the border on Friday, officials said."
# One record per body (application/json, one object; text/plain): the body is the record.
SINGLE: dict[str, tuple[bytes, str]] = {
    "deep arrays in meta": (
        f'{{"text": "{BODY}", "meta": {{"a": {nested(40, "[", "]")}}}}}'.encode(),
        "application/json",
    ),
    "very deep arrays in meta": (
        f'{{"text": "{BODY}", "meta": {{"a": {nested(300, "[", "]")}}}}}'.encode(),
        "application/json",
    ),
    "deep objects in meta": (
        f'{{"text": "{BODY}", "meta": {deep_object(40)}}}'.encode(),
        "application/json",
    ),
    "objects deeper than any parser takes": (
        f'{{"text": "{BODY}", "meta": {deep_object(2000)}}}'.encode(),
        "application/json",
    ),
    "a bare deep array": (nested(3000, "[", "]").encode(), "application/json"),
    "invalid UTF-8": (b'{"text": "caf\xe9 ' + BODY.encode() + b'"}', "application/json"),
    "invalid UTF-8 text": (b"Headline\n\ncaf\xe9 \xff\xfe", "text/plain"),
    "raw C1 controls": (
        f'{{"title": "a\u0085\u009b31mred\u009c", "text": "{BODY}\u0090"}}'.encode(),
        "application/json",
    ),
    "raw C0 controls": (
        b'{"title": "bell\x07 esc\x1b]0;pwned\x07", "text": "' + BODY.encode() + b'"}',
        "application/json",
    ),
    "binary text": (bytes(range(1, 32)) * 20, "text/plain"),
    "huge title": (
        orjson.dumps({"title": "T" * 15_000, "text": BODY}),
        "application/json",
    ),
    "too large": (orjson.dumps({"text": "x " * 12_000}), "application/json"),
    "duplicate keys": (f'{{"text": "{BODY}", "text": 5}}'.encode(), "application/json"),
    "wrong type": (b'{"text": 5}', "application/json"),
    "wrong nested type": (f'{{"title": ["x"], "text": "{BODY}"}}'.encode(), "application/json"),
    "bad time": (f'{{"text": "{BODY}", "published_at": true}}'.encode(), "application/json"),
    "unknown field": (f'{{"titel": "x", "text": "{BODY}"}}'.encode(), "application/json"),
    "no body field": (b'{"title": "only a title"}', "application/json"),
    "empty body text": (b'{"text": "   "}', "application/json"),
    "cut JSON": (b'{"text": "cut', "application/json"),
    "empty": (b"", "application/json"),
    "a good article": (f'{{"title": "T", "text": "{BODY}"}}'.encode(), "application/json"),
}


@pytest.mark.parametrize("case", sorted(SINGLE))
def test_http_and_consumer_agree_on_one_record(
    case: str, api: tuple[ArticlesApi, FakeSubmit]
) -> None:
    server, submit = api
    body, ctype = SINGLE[case]
    expected = consumer_reason(body)
    status, answer, _ = post(server.port, body, ctype)
    if expected is None:
        assert status == 202, answer
        assert (answer["errors"], len(answer["accepted"])) == ([], 1)
        assert (answer["accepted"][0]["id"].encode(), body) in submit.sent
    else:
        assert 400 <= status < 500, (status, answer)
        assert answer["error"] == expected, answer
        assert answer["detail"]
        assert status == {"too_large": 413}.get(expected, status)


# Array elements as JSON text (one is too deep for orjson.dumps: the body is built by hand).
ARRAY_ITEMS: list[str] = [
    f'{{"text": "{BODY}", "meta": {{"a": {nested(40, "[", "]")}}}}}',
    f'{{"text": "{BODY}", "meta": {{"a": {nested(300, "[", "]")}}}}}',
    f'{{"text": "{BODY}", "meta": {deep_object(40)}}}',
    f'{{"title": "a\u0085\u009b31m", "text": "{BODY}\u202e"}}',
    orjson.dumps({"title": "T" * 15_000, "text": BODY}).decode(),
    '{"text": 5}',
    f'{{"titel": "x", "text": "{BODY}"}}',
    f'{{"title": "fine", "text": "{BODY}"}}',
    "5",
    '"text"',
    f'[{{"text": "{BODY}"}}]',
]


def test_http_and_consumer_agree_on_each_item_of_an_array(
    api: tuple[ArticlesApi, FakeSubmit],
) -> None:
    server, _ = api
    status, answer, _ = post(server.port, ("[" + ",".join(ARRAY_ITEMS) + "]").encode())
    assert status in (202, 422), answer
    refused = {e["index"]: e["reason"] for e in answer["errors"]}
    taken = {a["index"] for a in answer["accepted"]}
    assert refused.keys() | taken == set(range(len(ARRAY_ITEMS)))
    for index, text in enumerate(ARRAY_ITEMS):
        item = orjson.loads(text)
        if not isinstance(item, dict):
            assert refused[index] == "not_an_object"
            continue
        try:
            expected = consumer_reason(orjson.dumps(item))
        except orjson.JSONEncodeError:
            expected = "too_deep"  # too deep for any record to carry it
        assert refused.get(index) == expected, (index, answer)


def test_json_lines_are_each_the_record_the_consumer_gets(
    api: tuple[ArticlesApi, FakeSubmit],
) -> None:
    server, submit = api
    lines = [
        f'{{"text": "{BODY}"}}'.encode(),
        b'{"text": 5}',
        b"not json",
        b"[1, 2]",
        f'{{"text": "{BODY}", "meta": {deep_object(2000)}}}'.encode(),
    ]
    status, answer, _ = post(server.port, b"\n".join(lines) + b"\n", "application/x-ndjson")
    assert status == 202
    assert answer["accepted"][0]["index"] == 0
    assert (answer["accepted"][0]["id"].encode(), lines[0]) in submit.sent
    assert [(e["index"], e["reason"]) for e in answer["errors"]] == [
        (1, consumer_reason(lines[1])),
        (2, "malformed_json"),
        (3, consumer_reason(lines[3])),
        (4, consumer_reason(lines[4])),
    ]


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    api: tuple[ArticlesApi, FakeSubmit],
) -> None:
    server, _ = api
    status, answer, _ = post(server.port, b"x" * (MAX_BYTES + 1), "text/plain")
    assert (status, answer["error"]) == (413, "too_large")
    assert post(server.port, b"<a/>", "application/xml")[0] == 415


def test_a_broker_that_does_not_acknowledge_gets_503_with_retry_after() -> None:
    def fail(records: Records) -> None:
        raise KafkaTimeoutError("flush timed out")

    server = serve(fail)
    try:
        status, answer, resp = post(server.port, f'{{"text": "{BODY}"}}'.encode())
        assert (status, answer["error"]) == (503, "unavailable")
        assert resp.getheader("Retry-After")
    finally:
        server.stop()


def test_a_record_the_producer_refuses_for_size_is_413_not_503() -> None:
    def refuse(records: Records) -> None:
        raise LimitError("too_large", "raw record of 1000001 bytes is over the limit of 1000000")

    server = serve(refuse)
    try:
        status, answer, _ = post(server.port, f'{{"text": "{BODY}"}}'.encode())
        assert (status, answer["error"]) == (413, "too_large")
    finally:
        server.stop()


def test_a_full_server_answers_503_with_retry_after() -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(records: Records) -> None:
        entered.set()
        release.wait(30)

    server = serve(slow, max_in_flight=1, queue_timeout=0.2)
    first: list[int] = []
    body = f'{{"text": "{BODY}"}}'.encode()
    worker = threading.Thread(target=lambda: first.append(post(server.port, body)[0]))
    try:
        worker.start()
        assert entered.wait(30)
        status, answer, resp = post(server.port, body)
        assert (status, answer["error"]) == (503, "busy")
        assert resp.getheader("Retry-After")
    finally:
        release.set()
        worker.join(30)
        server.stop()
    assert first == [202]
