"""What a fault run publishes: good articles from the real corpus and generated hostile inputs.

Everything comes from one `random.Random(seed)`, so a run with the same seed and sizes
publishes the same bytes in the same order. Every item carries a tag (``g000012`` good,
``e000003`` edge, ``b000007`` bad) that the counting side finds again: in the article's URL
(``https://faults.brink.test/<run>/<tag>``) and, for records published to Kafka, in the
``faults.tag`` header that ingest copies onto a dead letter unchanged.

Three kinds, by what the contract (DESIGN.md "Messages", shared/limits.py) requires:

- ``good``: a corpus article as a JSON object with a unique URL. Must reach ``articles`` and
  ``articles.enriched`` (or a dead letter with a reason).
- ``bad``: must be refused: dead-lettered by ingest when published to ``articles.raw``, answered
  with a 4xx status by ``POST /articles``. Never an article.
- ``edge``: legal but hostile (a body near the size limit, control characters as ``\\u``
  escapes among real words, duplicate keys whose last value is valid). Either outcome is
  right, but like a good one it must not be lost: articles + enriched, or a dead letter.

Plain text that is valid UTF-8 is an article by contract (a value not starting with ``{``), so
the bad cases never rely on that being refused.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

URL_BASE = "https://faults.brink.test"
TAG_HEADER = "faults.tag"

# Sizes around the 1 MB limits: ingest's max_body_bytes (1,000,000), kafka-python's
# max_request_size (1,048,576) and the broker's max.message.bytes (1,048,588).
ONE_MB = 1_000_000
OVER_LIMIT_MAX = 1_040_000  # the largest record the harness can still get onto the broker


@dataclass(frozen=True, slots=True)
class Item:
    tag: str
    kind: str  # good | bad | edge
    case: str  # what it is: "article", "invalid_utf8", "deep_object", ...
    value: bytes | None
    via: str  # kafka | http
    content_type: str = "application/json"


def url_for(run: str, tag: str) -> str:
    return f"{URL_BASE}/{run}/{tag}"


def load_corpus(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def pick_articles(
    corpus: Sequence[dict[str, Any]], n: int, rng: random.Random
) -> list[dict[str, Any]]:
    """``n`` corpus articles, half from the conflict stories (Reuters items that mention troops,
    sanctions, ...) so alerts fire, half from the rest, shuffled; repeats only past the corpus."""
    conflict = [a for a in corpus if a.get("subset") == "reuters_geo_keyword"]
    other = [a for a in corpus if a.get("subset") != "reuters_geo_keyword"]
    rng.shuffle(conflict)
    rng.shuffle(other)
    want_conflict = min(len(conflict), n // 2)
    chosen = conflict[:want_conflict] + other[: n - want_conflict]
    while len(chosen) < n:  # more than the corpus holds: reuse (each still gets its own URL)
        chosen.append(rng.choice(corpus))
    rng.shuffle(chosen)
    return chosen


def good_item(article: dict[str, Any], run: str, index: int, via: str) -> Item:
    tag = f"g{index:06d}"
    obj = {
        "title": article["title"],
        "text": article["text"],
        "url": url_for(run, tag),
        "source": "faults",
    }
    return Item(tag, "good", "article", orjson.dumps(obj), via)


# --------------------------------------------------------------------------- hostile inputs
def _words(rng: random.Random, n: int) -> str:
    vocab = ("troops", "border", "sanctions", "the", "ministry", "said", "on", "talks", "army")
    return " ".join(rng.choice(vocab) for _ in range(n))


def _nest(depth: int, kind: str, leaf: str = "1") -> str:
    if kind == "object":
        return '{"a":' * depth + leaf + "}" * depth
    return "[" * depth + leaf + "]" * depth


def _sized_text(rng: random.Random, size: int) -> str:
    chunk = _words(rng, 400) + ". "
    return (chunk * (size // len(chunk) + 1))[:size]


def _bad_kafka(rng: random.Random, run: str, tag: str) -> tuple[str, bytes | None]:
    """One record for articles.raw that ingest must dead-letter, and its case name."""
    body = _words(rng, 40)
    url = url_for(run, tag)
    case = rng.choice(BAD_CASES)
    if case == "invalid_utf8":
        raw = orjson.dumps({"text": body, "url": url})
        cut = rng.randrange(2, len(raw) - 2)
        return case, raw[:cut] + rng.choice(
            [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xe2\x82"]
        ) + raw[cut:]
    if case == "invalid_utf8_text":
        return case, body.encode() + b"\n\xfe\xfe" + body.encode()
    if case == "truncated_json":
        raw = orjson.dumps({"title": "t", "text": body, "url": url})
        return case, raw[: rng.randrange(1, len(raw) - 1)]
    if case == "deep_object":
        depth = rng.choice([40, 100, 1000, 3000, 10_000])
        return case, f'{{"text":"{body}","url":"{url}","meta":{_nest(depth, "object")}}}'.encode()
    if case == "deep_array":
        depth = rng.choice([40, 100, 1000, 3000, 10_000])
        return (
            case,
            f'{{"text":"{body}","url":"{url}","meta":{{"k":{_nest(depth, "array")}}}}}'.encode(),
        )
    if case == "deep_top_level":
        depth = rng.choice([1000, 5000])
        return case, _nest(depth, rng.choice(["object", "array"])).encode()
    if case == "wrong_type":
        bad: Any = rng.choice([123, 1.5, True, None, ["a", "b"], {"x": body}])
        field = rng.choice(["text", "title", "url", "source", "language"])
        obj: dict[str, Any] = {"text": body, "url": url}
        if field == "text":
            obj["text"] = bad
        else:
            obj[field] = bad if bad is not None else 7
        return case, orjson.dumps(obj)
    if case == "unknown_field":
        return case, orjson.dumps({"text": body, "url": url, "titel": "typo"})
    if case == "over_1mb":
        size = rng.randrange(ONE_MB + 1, OVER_LIMIT_MAX - 200)
        raw = orjson.dumps({"text": "", "url": url})
        return case, orjson.dumps({"text": _sized_text(rng, size - len(raw)), "url": url})
    if case == "huge_field":
        field = rng.choice(["title", "url", "source", "language", "meta_string", "meta_keys"])
        obj = {"text": body, "url": url}
        if field == "meta_string":
            obj["meta"] = {"note": _sized_text(rng, 200_000)}
        elif field == "meta_keys":
            obj["meta"] = {f"k{i}": i for i in range(20_000)}
        elif field == "url":
            obj["url"] = url + "?" + "q" * 200_000
        else:
            obj[field] = _sized_text(rng, 200_000)
        return case, orjson.dumps(obj)
    if case == "control_raw":
        # unescaped control characters inside a JSON string: not JSON
        return (
            case,
            b'{"text": "'
            + body.encode()
            + b"\x01\x02\x1b\x7f"
            + b'", "url": "'
            + url.encode()
            + b'"}',
        )
    if case == "control_binary_text":
        return case, bytes(rng.randrange(1, 9) for _ in range(300)) + body.encode()
    if case == "control_only_escaped":
        # a body of nothing but control characters, as \u escapes: no text to read
        return case, orjson.dumps(
            {"text": "".join(chr(rng.randrange(0, 32)) for _ in range(200)), "url": url}
        )
    if case == "duplicate_keys_bad_last":
        return (
            case,
            f'{{"text":"{body}","url":"{url}","text":{rng.choice(["5", "null", "[]", "{}"])}}}'.encode(),
        )
    if case == "binary":
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(16, 4096)))
        return case, b"\xff\x00" + data
    if case == "nul_bytes":
        return case, b"\x00" * rng.randrange(1, 1000)
    if case == "empty":
        return case, rng.choice([b"", b" ", b"\n\t\r\n ", None])
    if case == "json_array":
        return case, orjson.dumps([{"text": body, "url": url}])
    raise AssertionError(case)


BAD_CASES = (
    "invalid_utf8",
    "invalid_utf8_text",
    "truncated_json",
    "deep_object",
    "deep_array",
    "deep_top_level",
    "wrong_type",
    "unknown_field",
    "over_1mb",
    "huge_field",
    "control_raw",
    "control_binary_text",
    "control_only_escaped",
    "duplicate_keys_bad_last",
    "binary",
    "nul_bytes",
    "empty",
    "json_array",
)
# For POST /articles, a JSON array of objects is a valid batch: not a bad case there.
BAD_HTTP_CASES = tuple(c for c in BAD_CASES if c != "json_array")
EDGE_CASES = ("control_escaped_in_words", "duplicate_keys_valid", "near_1mb")


def _bad_http(rng: random.Random, run: str, tag: str) -> tuple[str, bytes | None, str]:
    """One POST /articles body that must get a 4xx, its case name and Content-Type."""
    while True:
        case, value = _bad_kafka(rng, run, tag)
        if case in BAD_HTTP_CASES:
            break
    ctype = "application/json"
    if case in ("invalid_utf8_text", "control_binary_text", "binary", "nul_bytes"):
        ctype = rng.choice(["text/plain", "application/json"])
    elif rng.random() < 0.15:
        ctype = "application/x-ndjson"
    return case, value, ctype


def _edge(rng: random.Random, run: str, tag: str, allow_near_1mb: bool) -> tuple[str, bytes]:
    url = url_for(run, tag)
    body = _words(rng, 60)
    cases = EDGE_CASES if allow_near_1mb else EDGE_CASES[:-1]
    case = rng.choice(cases)
    if case == "control_escaped_in_words":
        ctl = "".join(chr(rng.choice([0, 1, 7, 8, 11, 12, 27, 127, 0x85, 0x9F])) for _ in range(5))
        return case, orjson.dumps({"title": "ctl" + ctl, "text": body + ctl + body, "url": url})
    if case == "duplicate_keys_valid":
        return case, f'{{"text":"{_words(rng, 30)}","url":"{url}","text":"{body}"}}'.encode()
    size = rng.randrange(900_000, ONE_MB - 1000)
    raw = orjson.dumps({"text": "", "url": url})
    return case, orjson.dumps({"text": _sized_text(rng, size - len(raw)), "url": url})


def bad_items(
    rng: random.Random,
    run: str,
    n: int,
    *,
    http_share: float = 0.5,
    edge_share: float = 0.1,
    near_1mb: int = 0,
) -> list[Item]:
    """``n`` hostile items: about ``edge_share`` of them edge cases (at most ``near_1mb`` of
    those near the 1 MB limit, which are slow to enrich), the rest bad; about ``http_share``
    go to ``POST /articles``, the others straight to ``articles.raw``."""
    items: list[Item] = []
    near_left = near_1mb
    for i in range(n):
        via = "http" if rng.random() < http_share else "kafka"
        if rng.random() < edge_share:
            tag = f"e{i:06d}"
            case, value = _edge(rng, run, tag, near_left > 0)
            near_left -= case == "near_1mb"
            items.append(Item(tag, "edge", case, value, via))
            continue
        tag = f"b{i:06d}"
        if via == "http":
            case, hvalue, ctype = _bad_http(rng, run, tag)
            items.append(Item(tag, "bad", case, hvalue, via, ctype))
        else:
            case, kvalue = _bad_kafka(rng, run, tag)
            items.append(Item(tag, "bad", case, kvalue, via))
    return items


def interleave(rng: random.Random, good: Sequence[Item], hostile: Sequence[Item]) -> Iterator[Item]:
    """Good and hostile items mixed at random, each list keeping its own order."""
    slots = [True] * len(good) + [False] * len(hostile)
    rng.shuffle(slots)
    gi, hi = iter(good), iter(hostile)
    for is_good in slots:
        yield next(gi) if is_good else next(hi)
