"""The message contract: every schema round-trips through the one codec; bad bytes raise DecodeError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared import codec
from shared.codec import DecodeError, decode, encode
from shared.schemas import (
    Alert,
    AlertArticle,
    AlertGroup,
    Article,
    DeadLetter,
    Duplicate,
    DuplicateKind,
    EnrichedArticle,
    Entity,
    Evidence,
    Modality,
    ModelInfo,
    Party,
    RawArticle,
    Severity,
    Signal,
    SignalKind,
)

T0 = datetime(2021, 4, 13, 9, 30, tzinfo=UTC)


def make_article(**kw: object) -> Article:
    base: dict[str, object] = dict(
        id="a1",
        title="NATO calls on Russia to withdraw troops",
        body="Russia has moved troops.",
        url="https://example.org/a1",
        source="DW",
        published_at=T0,
        received_at=T0,
        language="en",
        content_hash="0" * 64,
    )
    base.update(kw)
    return Article.model_validate(base)


def make_enriched() -> EnrichedArticle:
    sig = Signal(
        kind=SignalKind.MILITARY_BUILDUP,
        cue="moved thousands of combat-ready troops",
        sentence="Russia has moved thousands of combat-ready troops to Ukraine's borders.",
        start=10,
        end=48,
        sentence_start=0,
        sentence_end=70,
        modality=Modality.ASSERTED,
        actor=Party(name="Russia", code="RUS"),
        target=Party(name="Ukraine", code="UKR"),
        weight=-7.2,
        cameo="154",
        plover="MOBILIZE",
    )
    return EnrichedArticle(
        article=make_article(
            duplicate=Duplicate(of="a0", kind=DuplicateKind.NEAR, similarity=0.91)
        ),
        entities=[Entity(text="Russia", label="GPE", start=0, end=6, code="RUS")],
        signals=[sig],
        score=7.2,
        escalation=True,
        model=ModelInfo(name="en_core_web_sm", version="3.8.0"),
        enriched_at=T0,
    )


def make_alert() -> Alert:
    return Alert(
        id="al1",
        rule="buildup",
        severity=Severity.CRITICAL,
        title="Russia → Ukraine",
        summary="Russia → Ukraine: military buildup reported by 1 source",
        group=AlertGroup(
            key="g", actors=["RUS"], targets=["UKR"], kinds=[SignalKind.MILITARY_BUILDUP]
        ),
        articles=[AlertArticle(id="a1", title="t", received_at=T0)],
        evidence=[
            Evidence(
                article_id="a1",
                kind=SignalKind.MILITARY_BUILDUP,
                cue="c",
                sentence="s",
                start=0,
                end=1,
            )
        ],
        score=7.2,
        first_seen=T0,
        last_seen=T0,
        count=1,
        created_at=T0,
    )


@pytest.mark.parametrize(
    "model",
    [
        RawArticle(text="body", title="t", published_at="2021-04-13T09:30:00Z", meta={"k": [1]}),
        make_article(),
        make_enriched(),
        make_alert(),
        DeadLetter(
            stage="ingest",
            reason="malformed_json",
            detail="x",
            topic="t",
            partition=0,
            offset=5,
            at=T0,
        ),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_schema_round_trips(model: object) -> None:
    data = encode(model)  # type: ignore[arg-type]
    back = decode(data, type(model))  # type: ignore[arg-type]
    assert back == model
    assert encode(back) == data


def test_payloads_carry_their_schema_version() -> None:
    assert b'"schema":"brink.article/1"' in encode(make_article())
    assert b'"schema":"brink.enriched/1"' in encode(make_enriched())
    assert b'"schema":"brink.alert/1"' in encode(make_alert())


def test_timestamps_are_normalised_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    a = make_article(received_at=datetime(2021, 4, 13, 11, 30, tzinfo=plus2))
    assert a.received_at == T0 and a.received_at.utcoffset() == timedelta(0)
    assert b'"received_at":"2021-04-13T09:30:00Z"' in encode(a)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", codec.EMPTY),
        (b"   \n", codec.EMPTY),
        (b"\xff\xfe{}", codec.INVALID_UTF8),
        (b'{"text": "abc"', codec.MALFORMED_JSON),
        (b"[1, 2]", codec.NOT_AN_OBJECT),
        (b'"just a string"', codec.NOT_AN_OBJECT),
        (b'{"text": 42}', codec.INVALID_FIELDS),
        (b'{"title": "no body"}', codec.INVALID_FIELDS),
        (b'{"text": "x", "titel": "typo"}', codec.UNKNOWN_FIELDS),
    ],
)
def test_bad_raw_input_raises_one_error_type_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(data, RawArticle)
    assert info.value.reason == reason
    assert info.value.detail


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(DecodeError) as info:
        decode(b'{"text": "' + b"a" * 100 + b'"}', RawArticle, max_bytes=50)
    assert info.value.reason == codec.TOO_LARGE


def test_a_message_of_another_schema_version_is_refused() -> None:
    data = encode(make_article()).replace(b"brink.article/1", b"brink.article/9")
    with pytest.raises(DecodeError) as info:
        decode(data, Article)
    assert info.value.reason == codec.WRONG_SCHEMA


def test_published_json_schemas_are_up_to_date() -> None:
    from shared import jsonschema

    assert jsonschema.main(["--check"]) == 0, "run `make schemas` and commit schemas/"


def test_published_json_schema_accepts_what_the_codec_writes() -> None:
    import json

    import jsonschema as js

    from shared.jsonschema import SCHEMA_DIR

    for topic, payload in [
        ("articles", make_article()),
        ("articles.enriched", make_enriched()),
        ("alerts", make_alert()),
    ]:
        schema = json.loads((SCHEMA_DIR / f"{topic}.schema.json").read_text())
        js.validate(json.loads(encode(payload)), schema)
        with pytest.raises(js.ValidationError):
            js.validate({"schema": "brink.article/1"}, schema)
