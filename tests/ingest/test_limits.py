"""Size and shape limits at ingest's edge (shared.limits): over a limit is a dead letter with
reason ``too_large`` or ``too_deep``, never a crash (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from services.ingest import normalise as n
from services.ingest.config import IngestConfig
from services.ingest.worker import IngestWorker
from shared import codec, deadletter, limits
from shared.codec import DecodeError
from shared.settings import Settings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BODY = "Troops massed at the border overnight, officials said."


def nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_meta(depth: int) -> bytes:
    """A raw article whose meta nests ``depth`` objects (built as bytes: orjson stops at 255)."""
    meta = b'{"a": ' * depth + b'"x"' + b"}" * depth
    return b'{"text": "' + BODY.encode() + b'", "meta": ' + meta + b"}"


def reason(obj: dict[str, Any] | bytes, max_bytes: int | None = 1_000_000) -> str:
    value = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    with pytest.raises(DecodeError) as info:
        n.process(value, T0, max_bytes=max_bytes)
    return info.value.reason


def test_limit_errors_are_decode_errors_with_a_fixed_reason() -> None:
    assert issubclass(limits.LimitError, DecodeError)
    assert {limits.TOO_LARGE, limits.TOO_DEEP} <= set(n.REASONS)


def test_meta_nested_past_the_limit_is_too_deep() -> None:
    # ~254+ levels made codec.encode fail in the worker, outside the dead-letter try.
    assert reason(deep_meta(300)) == "too_deep"
    assert reason({"text": BODY, "meta": nested(limits.MAX_META_DEPTH + 1)}) == "too_deep"
    ok = n.process(
        orjson.dumps({"text": BODY, "meta": nested(limits.MAX_META_DEPTH)}), T0, max_bytes=None
    )
    assert ok.meta is not None


def test_deeply_nested_json_is_too_deep_not_malformed() -> None:
    deep = b'{"text": "' + BODY.encode() + b'", "meta": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    assert reason(deep) == "too_deep"
    medium = b'{"text": "x", "meta": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}"
    assert reason(medium) == "too_deep"
    with pytest.raises(DecodeError) as info:
        codec.loads_object(b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}")
    assert info.value.reason == "too_deep"


def test_fields_over_their_length_are_too_large() -> None:
    over = {
        "title": "t" * (limits.MAX_TITLE_CHARS + 1),
        "source": "s" * (limits.MAX_SOURCE_CHARS + 1),
        "url": "https://example.org/" + "u" * limits.MAX_URL_CHARS,
        "language": "x" * (limits.MAX_LANGUAGE_CHARS + 1),
        "id": "i" * (limits.MAX_ID_CHARS + 1),
    }
    for field, value in over.items():
        assert reason({"text": BODY, field: value}) == "too_large", field
    assert reason({"text": BODY, "meta": {"k": "v" * (limits.MAX_META_STRING_CHARS + 1)}}) == (
        "too_large"
    )
    many = {f"k{i}": i for i in range(limits.MAX_META_KEYS + 1)}
    assert reason({"text": BODY, "meta": many}) == "too_large"
    at_limits = {
        "text": BODY,
        "title": "t" * limits.MAX_TITLE_CHARS,
        "source": "s" * limits.MAX_SOURCE_CHARS,
        "meta": {f"k{i}": "v" * 10 for i in range(limits.MAX_META_KEYS)},
    }
    article = n.process(orjson.dumps(at_limits), T0, max_bytes=None)
    assert len(article.title) == limits.MAX_TITLE_CHARS


def test_a_body_that_grows_past_the_record_limit_when_encoded_is_too_large() -> None:
    # 999 KB of '"' is under the raw limit but doubles with JSON escaping: > 1 MiB encoded.
    value = b"Headline\n\n" + b'"' * 999_000
    assert reason(value, max_bytes=1_000_000) == "too_large"


def record(value: bytes, offset: int = 3) -> SimpleNamespace:
    return SimpleNamespace(
        topic="unit.articles.raw", partition=0, offset=offset, key=b"k", value=value, headers=[]
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (deep_meta(300), "too_deep"),
        (b"Headline\n\n" + b'"' * 999_000, "too_large"),
        (b'{"text": "x", "meta": {"a": ' + b"[" * 3000 + b"]" * 3000 + b"}}", "too_deep"),
    ],
)
def test_the_worker_dead_letters_what_is_over_a_limit(value: bytes, expected: str) -> None:
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig())
    (out,) = w.handle(record(value))
    assert out.topic == "unit.articles.deadletter" and out.value == value
    assert deadletter.describe(out.headers).reason == expected


def test_every_output_of_the_worker_fits_in_a_record() -> None:
    w = IngestWorker(Settings(topic_prefix="unit."), IngestConfig())
    big = orjson.dumps({"text": "word " * 150_000, "meta": {"k": "v" * 4000}})
    for out in w.handle(record(big)):
        assert out.value is None or len(out.value) <= limits.MAX_RECORD_BYTES
