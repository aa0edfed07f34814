"""Size and shape limits, in one place, for every stage that accepts or produces a record.

Kafka refuses a record over the topic's ``max.message.bytes`` (broker default 1,048,588) and
kafka-python's producer one over ``max_request_size`` (1,048,576). Brink keeps every record it
produces well below both, so a record is refused by Brink with a reason (``too_large``,
``too_deep``) and dead-lettered, never by the broker after it was accepted.

Pure data and plain functions: importing this reads no environment and opens no connection.
What happens past each limit is listed in docs/security.md ("Limits").
"""

from __future__ import annotations

from typing import Any

from shared.codec import DecodeError

# What a producing stage may write in one record (value bytes, after encoding). Below the
# topic's max.message.bytes (1,048,588) and the producer's max_request_size (1,048,576) with
# room for key, headers and the record batch overhead, so the broker never refuses for size.
MAX_RECORD_BYTES = 900_000
# Room for the ``brink.dlq.*`` headers when a record is dead-lettered unchanged; a value over
# this is cut to it in the dead letter (header ``brink.dlq.truncated`` gives the original size).
MAX_DEADLETTER_VALUE_BYTES = 1_000_000
# A raw record a Brink producer (HTTP API, feeds) writes to articles.raw.
MAX_RAW_RECORD_BYTES = 1_000_000

# Per-field limits on an article, in characters (after cleaning).
MAX_TITLE_CHARS = 1_000
MAX_SOURCE_CHARS = 300
MAX_URL_CHARS = 4_096
MAX_LANGUAGE_CHARS = 35  # BCP 47 tags are short; 35 covers every registered form
MAX_ID_CHARS = 256  # the publisher's own id (Article.external_id)

# Free-form ``meta``: nesting depth (the object itself is depth 1), keys in all, chars per string.
MAX_META_DEPTH = 8
MAX_META_KEYS = 200
MAX_META_STRING_CHARS = 4_096

# Any JSON document Brink parses: nesting depth checked before validation.
MAX_JSON_DEPTH = 32

TOO_LARGE = "too_large"
TOO_DEEP = "too_deep"


class LimitError(DecodeError):
    """A value over one of the limits above; ``reason`` is ``too_large`` or ``too_deep``.

    A `DecodeError` (so a ``ValueError``): whoever dead-letters decode errors dead-letters these.
    """


def check_record_size(data: bytes, *, limit: int = MAX_RECORD_BYTES, what: str = "record") -> None:
    """Raise `LimitError` (``too_large``) when ``data`` is over ``limit`` bytes."""
    if len(data) > limit:
        raise LimitError(TOO_LARGE, f"{what} of {len(data)} bytes is over the limit of {limit}")


def depth_and_keys(value: Any, *, max_depth: int) -> tuple[int, int]:
    """Nesting depth and number of object keys of a parsed JSON value, without recursion.

    Stops counting depth once ``max_depth`` is passed (the caller only needs to know that),
    so the walk is linear in the size of the value whatever its shape.
    """
    depth = 0
    keys = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            depth = max(depth, level)
            keys += len(item)
            if level <= max_depth:
                stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            depth = max(depth, level)
            if level <= max_depth:
                stack.extend((v, level + 1) for v in item)
    return depth, keys


def check_depth(value: Any, *, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> None:
    """Raise `LimitError` (``too_deep``) when ``value`` nests deeper than ``max_depth``."""
    depth, _ = depth_and_keys(value, max_depth=max_depth)
    if depth > max_depth:
        raise LimitError(TOO_DEEP, f"{what} nests deeper than {max_depth} levels")
