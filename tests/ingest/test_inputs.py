"""`brink publish` input reading and the HTTP API's request handling (no network)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.cli.publish import Summary, expand, map_corpus, records_from_bytes
from services.ingest.http_api import HttpError, handle_post
from shared.limits import LimitError
from tests.conftest import SEEDS

Sent = list[tuple[bytes | None, bytes]]


def test_corpus_lines_are_mapped_to_raw_article_fields(
    corpus: dict[str, dict[str, Any]],
) -> None:
    src = corpus["reuters-4030"]
    mapped = map_corpus(src)
    assert {k: mapped[k] for k in ("id", "title", "text")} == {
        k: src[k] for k in ("id", "title", "text")
    }
    assert mapped["meta"]["category"] == src["category"]
    assert mapped["meta"]["date"] == src["date"]
    assert set(mapped) == {"id", "title", "text", "meta"}
    # Not corpus-style: left alone, so ingest dead-letters the unknown field.
    typo = {"titel": "typo", "text": "body"}
    assert map_corpus(typo) == typo


def test_records_are_split_by_format_and_bad_ones_sent_as_they_are() -> None:
    arr = orjson.dumps([{"text": "a"}, {"text": "b"}])
    assert [orjson.loads(r) for r in records_from_bytes(arr, "json", None)] == [
        {"text": "a"},
        {"text": "b"},
    ]
    lines = b'{"text": "a"}\n\n{"text": "b", \n{"text": "c"}\n'
    out = list(records_from_bytes(lines, "jsonl", "Wire"))
    assert out[1] == b'{"text": "b", '
    assert [orjson.loads(out[i])["source"] for i in (0, 2)] == ["Wire", "Wire"]
    broken = (SEEDS / "bad" / "malformed.json").read_bytes()
    assert list(records_from_bytes(broken, "json", None)) == [broken]
    bad_utf8 = (SEEDS / "bad" / "invalid-utf8.txt").read_bytes()
    assert list(records_from_bytes(bad_utf8, "text", None)) == [bad_utf8]
    assert list(records_from_bytes(lines, "sniff", None))[1] == b'{"text": "b", '
    assert list(records_from_bytes(b"Headline\n\nBody", "sniff", None)) == [b"Headline\n\nBody"]


def test_items_too_deep_to_write_out_again_are_refused_not_fatal() -> None:
    deep = "[" * 300 + "]" * 300  # orjson reads 1024 levels but writes only 255
    array = f'[{{"text": "a"}}, {{"text": "b", "meta": {{"x": {deep}}}}}]'.encode()
    out = list(records_from_bytes(array, "json", "Wire"))
    assert orjson.loads(out[0]) == {"text": "a", "source": "Wire"}
    assert isinstance(out[1], LimitError) and out[1].reason == "too_deep"
    one = f'{{"text": "b", "meta": {{"x": {deep}}}}}'.encode()
    assert list(records_from_bytes(one, "json", "Wire")) == [one]
    assert list(records_from_bytes(one + b"\n" + one, "jsonl", "Wire")) == [one, one]


def test_directories_are_read_recursively_and_missing_paths_fail(tmp_path: Path) -> None:
    summary = Summary()
    files = expand([str(SEEDS), str(tmp_path / "missing.json")], summary)
    names = {p.name for p in files if p is not None}
    assert "malformed.json" in names and "nato-russia-ukraine-troops.txt" in names
    assert "README.md" not in names
    assert summary.failed == 1


class FakeSubmit:
    def __init__(self) -> None:
        self.sent: Sent = []

    def __call__(self, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        self.sent.extend(records)


def post(body: bytes, ctype: str = "application/json", limit: int = 10_000) -> Any:
    submit = FakeSubmit()
    status, answer = handle_post(body, ctype, limit, submit)
    return status, answer, submit.sent


def test_http_accepts_objects_arrays_lines_and_text() -> None:
    status, answer, sent = post(b'{"title": "T", "text": "Troops massed at the border."}')
    assert status == 202 and len(answer["accepted"]) == 1 and answer["errors"] == []
    assert sent[0][0] == answer["accepted"][0]["id"].encode()
    status, answer, sent = post(orjson.dumps([{"text": "one story"}, {"text": "another one"}]))
    assert (status, len(sent)) == (202, 2)
    body = b'{"text": "one story"}\n{"text": 5}\nnot json\n'
    status, answer, sent = post(body, "application/x-ndjson")
    assert status == 202 and len(sent) == 1
    assert [(e["index"], e["reason"]) for e in answer["errors"]] == [
        (1, "invalid_fields"),
        (2, "malformed_json"),
    ]
    status, answer, sent = post(b"Headline\n\nBody text here.", "text/plain; charset=utf-8")
    assert status == 202 and sent == [
        (answer["accepted"][0]["id"].encode(), b"Headline\n\nBody text here.")
    ]


def test_http_refuses_what_it_cannot_take() -> None:
    status, answer, sent = post(b'{"titel": "x", "text": "y"}')
    assert (status, answer["errors"][0]["reason"], sent) == (422, "unknown_fields", [])
    assert post(b'{"text": "   "}')[0] == 422
    for body, ctype, code, reason in [
        (b'{"text": "cut', "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "text/plain", 400, "invalid_utf8"),
        (b"", "application/json", 400, "empty"),
    ]:
        status, answer, sent = post(body, ctype)
        assert (status, answer["error"], sent) == (code, reason, [])
    with pytest.raises(HttpError) as info:
        post(b"<xml/>", "application/xml")
    assert info.value.status == 415
