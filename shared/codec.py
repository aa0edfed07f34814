"""All bytes <-> model conversion, through orjson. Every failure raises `DecodeError`.

`DecodeError.reason` is a short, fixed code (used as a metrics label and dead-letter header);
`DecodeError.detail` says what exactly was wrong, for people.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# Fixed set of reasons: safe as a Prometheus label.
EMPTY = "empty"
TOO_LARGE = "too_large"
TOO_DEEP = "too_deep"
INVALID_UTF8 = "invalid_utf8"
MALFORMED_JSON = "malformed_json"
NOT_AN_OBJECT = "not_an_object"
WRONG_SCHEMA = "wrong_schema"
INVALID_FIELDS = "invalid_fields"
UNKNOWN_FIELDS = "unknown_fields"
REASONS = (
    EMPTY,
    TOO_LARGE,
    TOO_DEEP,
    INVALID_UTF8,
    MALFORMED_JSON,
    NOT_AN_OBJECT,
    WRONG_SCHEMA,
    INVALID_FIELDS,
    UNKNOWN_FIELDS,
)


class DecodeError(ValueError):
    """Bytes that are not a valid message of the expected type."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode(model: BaseModel) -> bytes:
    """Serialise a schema model to compact JSON bytes (field aliases, UTC ISO timestamps).

    Raises `DecodeError` (``too_deep``, or ``invalid_fields`` for a value JSON cannot hold)
    rather than pydantic's or orjson's own errors, so a caller handles one error type.
    """
    try:
        return orjson.dumps(model.model_dump(mode="json", by_alias=True, exclude_none=False))
    except (ValueError, TypeError) as exc:  # orjson.JSONEncodeError is a TypeError
        deep = "depth" in str(exc) or "Recursion" in str(exc)
        raise DecodeError(TOO_DEEP if deep else INVALID_FIELDS, f"cannot encode: {exc}") from None


def dumps(obj: Any) -> bytes:
    """Serialise plain data (dicts, lists, datetimes) with the same options as `encode`."""
    return orjson.dumps(obj, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


def loads_object(data: bytes, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Parse bytes as one JSON object, classifying every way that can fail."""
    if not data or not data.strip():
        raise DecodeError(EMPTY, "the message is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise DecodeError(TOO_LARGE, f"{len(data)} bytes is over the limit of {max_bytes}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(INVALID_UTF8, f"not UTF-8 at byte {exc.start}: {exc.reason}") from None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # orjson stops at 1024 levels ("depth limit exceeded"): that is a shape limit, not a typo.
        reason = TOO_DEEP if "depth limit" in str(exc) else MALFORMED_JSON
        raise DecodeError(reason, str(exc)) from None
    if not isinstance(obj, dict):
        raise DecodeError(NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
    from shared.limits import check_depth  # limits builds on this module's DecodeError

    check_depth(obj)
    return obj


def validate(obj: dict[str, Any], model: type[M]) -> M:
    """Validate a parsed object against a schema model, raising `DecodeError`."""
    expected = model.model_fields.get("schema_")
    if expected is not None and "schema" in obj and obj["schema"] != expected.default:
        raise DecodeError(
            WRONG_SCHEMA, f"expected schema {expected.default!r}, got {obj['schema']!r}"
        )
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        unknown = [".".join(map(str, e["loc"])) for e in errors if e["type"] == "extra_forbidden"]
        if unknown:
            raise DecodeError(UNKNOWN_FIELDS, "unknown field(s): " + ", ".join(unknown)) from None
        parts = [f"{'.'.join(map(str, e['loc'])) or '(object)'}: {e['msg']}" for e in errors[:5]]
        raise DecodeError(INVALID_FIELDS, "; ".join(parts)) from None


def decode(data: bytes, model: type[M], *, max_bytes: int | None = None) -> M:
    """Bytes -> model. Raises `DecodeError` with a reason from `REASONS`."""
    return validate(loads_object(data, max_bytes=max_bytes), model)
