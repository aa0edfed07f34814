"""Normalisation, ids and raw-record classification on real corpus text (no network)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.ingest import normalise as n
from shared.codec import DecodeError
from shared.schemas import RawArticle

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STORY = "reuters-4030"  # IRAQ SAYS IRAN ATTACK REPULSED ON SOUTHERN FRONT


def reason(value: bytes, max_bytes: int | None = None) -> str:
    with pytest.raises(DecodeError) as info:
        n.process(value, T0, max_bytes=max_bytes)
    return info.value.reason


def test_unicode_is_nfc_and_whitespace_is_normalised() -> None:
    raw = RawArticle(
        title="  Cafe\u0301  talks\t collapse ", text="A\u00a0 b\u200b  c\r\n\r\n\r\n\r\nd  "
    )
    article = n.normalise(raw, T0)
    assert article.title == "Café talks collapse"
    assert article.body == "A b c\n\nd"


def test_corpus_article_normalises_with_hash_language_and_stable_id(
    corpus: dict[str, dict[str, Any]],
) -> None:
    src = corpus[STORY]
    article = n.normalise(RawArticle(title=src["title"], text=src["text"], id=STORY), T0)
    assert article.language == "en"
    assert article.external_id == STORY
    assert article.body.startswith(src["text"].strip()[:40])
    expected = hashlib.sha256(f"{article.title}\n\n{article.body}".encode()).hexdigest()
    assert article.content_hash == expected
    assert article.id == expected[: n.ID_HEX_CHARS]
    # The same story with messier whitespace gets the same id: ids come from normalised content.
    messy = RawArticle(title=" " + src["title"] + "\n", text=src["text"].replace(" ", "  "))
    assert n.normalise(messy, T0).id == article.id


def test_html_body_becomes_text_for_pages_and_fragments(corpus: dict[str, dict[str, Any]]) -> None:
    paragraphs = [p for p in corpus[STORY]["text"].split("\n") if p.strip()][:3]
    page = (
        "<html><head><title>x</title><script>var a=1;</script></head><body><nav>Home | World</nav>"
        + "<article>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "</article></body></html>"
    )
    body = n.normalise(RawArticle(text=page), T0).body
    assert paragraphs[0].strip()[:50] in body
    assert "var a=1" not in body
    assert "<p>" not in body
    # trafilatura gives up on a bare fragment; lxml's text (paragraphs kept apart) stands in.
    fragment = "<p>Troops <b>massed</b> at the border.</p><p>Second paragraph.</p>"
    text = n.clean_body(fragment)
    assert [ln for ln in text.splitlines() if ln] == [
        "Troops massed at the border.",
        "Second paragraph.",
    ]
    assert n.clean_body("<span>Troops massed.</span>") == "Troops massed."


def test_plain_text_first_line_is_the_title(corpus: dict[str, dict[str, Any]]) -> None:
    src = corpus[STORY]
    raw = n.parse_raw(f"\n\n{src['title']}\n\n{src['text']}".encode())
    assert raw.title == src["title"]
    assert raw.text is not None and raw.text.strip() == src["text"].strip()
    one_line = n.parse_raw(b"Troops massed at the border overnight.")
    assert one_line.title is None and one_line.text == "Troops massed at the border overnight."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-04-13T08:05:00Z", datetime(2021, 4, 13, 8, 5, tzinfo=UTC)),
        ("2021-04-13T11:15:00+02:00", datetime(2021, 4, 13, 9, 15, tzinfo=UTC)),
        ("Tue, 13 Apr 2021 08:05:00 +0000", datetime(2021, 4, 13, 8, 5, tzinfo=UTC)),
        ("Tue, 13 Apr 2021 10:05:00 +0200", datetime(2021, 4, 13, 8, 5, tzinfo=UTC)),
        ("2021-04-13 09:40", datetime(2021, 4, 13, 9, 40, tzinfo=UTC)),
        (1618301100, datetime(2021, 4, 13, 8, 5, tzinfo=UTC)),
        ("1618301100", datetime(2021, 4, 13, 8, 5, tzinfo=UTC)),
        (1618301100000, datetime(2021, 4, 13, 8, 5, tzinfo=UTC)),
        (None, None),
    ],
)
def test_timestamps_parse_to_utc(value: str | int | None, expected: datetime | None) -> None:
    assert n.parse_timestamp(value) == expected


def test_unreadable_timestamp_is_refused() -> None:
    with pytest.raises(DecodeError) as info:
        n.parse_timestamp("26-MAR-1987 09:43:48.80 somewhere")
    assert info.value.reason == n.INVALID_TIMESTAMP


def test_language_is_detected_and_recorded() -> None:
    german = "Die Regierung hat am Dienstag neue Sanktionen gegen das Land beschlossen."
    assert n.normalise(RawArticle(text=german), T0).language == "de"
    assert n.normalise(RawArticle(text=german, language="fr"), T0).language == "fr"
    assert n.detect_language("ok") == "und"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://News.Example.COM:443/world/story?utm_source=rss&b=2&a=1&fbclid=x#comments",
            "https://news.example.com/world/story?a=1&b=2",
        ),
        ("http://example.org", "http://example.org/"),
        ("http://example.org:8080/a?gclid=1&utm_medium=feed", "http://example.org:8080/a"),
        ("ftp://example.org/a", None),
        ("not a url", None),
    ],
)
def test_canonical_url(url: str, canonical: str | None) -> None:
    assert n.canonical_url(url) == canonical


def test_id_comes_from_the_canonical_url_when_given(corpus: dict[str, dict[str, Any]]) -> None:
    src = corpus[STORY]
    a = n.normalise(RawArticle(text=src["text"], url="https://x.example/a?utm_source=t#top"), T0)
    b = n.normalise(RawArticle(text=src["text"] + " Updated.", url="https://X.example/a"), T0)
    c = n.normalise(RawArticle(text=src["text"], url="https://x.example/b"), T0)
    assert a.id == b.id != c.id
    assert a.url == "https://x.example/a"
    assert a.content_hash != b.content_hash


def test_bad_raw_records_are_classified() -> None:
    assert reason(b"") == "empty"
    assert reason(b"  \n ") == "empty"
    assert reason(b'{"title": "cut off", "text": "Troops were') == "malformed_json"
    assert reason(b'{"text": 5}') == "invalid_fields"
    assert reason(b'{"title": "no body"}') == "invalid_fields"
    assert reason(b'{"title": " - ", "text": "   "}') == "empty_body"
    assert reason(b'{"text": "<p> </p>"}') == "empty_body"
    assert reason(b'{"titel": "typo", "text": "body"}') == "unknown_fields"
    assert reason(b'[{"text": "a"}]') == "not_an_object"
    assert reason(b"Troops massed \xff\xfe at the border") == "invalid_utf8"
    assert reason(b"\x00\x01\x02\x03\x04binary\x05\x06") == "binary"
    assert reason(orjson.dumps({"text": "x" * 500}), max_bytes=100) == "too_large"
    assert reason(b'{"text": "body", "published_at": "last Tuesday"}') == "invalid_timestamp"
    assert reason(b'{"schema": "brink.article/1", "text": "a"}') == "unknown_fields"


def test_a_headline_alone_is_an_article() -> None:
    article = n.process(
        b'{"title": "Army shells border town", "text": ""}', datetime.now(UTC), max_bytes=None
    )
    assert (article.title, article.body) == ("Army shells border town", "")


def test_short_english_is_never_labelled_another_language() -> None:
    # py3langid alone calls these corpus headlines something else (pcm, la, ...)
    for title in ("Yukos loses US bankruptcy battle", "Ebbers denies WorldCom fraud"):
        assert n.detect_language(title) in ("en", "und"), title
    assert n.detect_language("La Russie masse des troupes à la frontière ukrainienne") == "fr"
