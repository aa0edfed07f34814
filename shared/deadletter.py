"""Dead-letter records: the original key, value and headers, plus ``brink.dlq.*`` headers.

Modelled on Kafka Connect's DeadLetterQueueReporter: nothing about the original record is
changed, so it can be inspected and replayed; the added headers say where it came from and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from shared.schemas import DeadLetter, utcnow

PREFIX = "brink.dlq."
Headers = list[tuple[str, bytes]]


def headers(
    *,
    stage: str,
    reason: str,
    detail: str,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    original: Iterable[tuple[str, bytes]] = (),
    at: datetime | None = None,
) -> Headers:
    """Headers for a dead-letter record: the original ones first, then Brink's."""
    out: Headers = [(k, v) for k, v in original if not k.startswith(PREFIX)]
    fields = {
        "stage": stage,
        "reason": reason,
        "detail": detail[:2000],
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "at": (at or utcnow()).isoformat(),
    }
    out.extend((PREFIX + k, str(v).encode()) for k, v in fields.items() if v is not None)
    return out


def describe(record_headers: Sequence[tuple[str, bytes]]) -> DeadLetter:
    """Read Brink's dead-letter headers back into a `DeadLetter`."""
    raw = {
        k[len(PREFIX) :]: v.decode("utf-8", "replace")
        for k, v in record_headers
        if k.startswith(PREFIX)
    }
    return DeadLetter.model_validate(
        {
            "stage": raw.get("stage", "ingest"),
            "reason": raw.get("reason", "unknown"),
            "detail": raw.get("detail", ""),
            "topic": raw.get("topic"),
            "partition": int(raw["partition"]) if "partition" in raw else None,
            "offset": int(raw["offset"]) if "offset" in raw else None,
            "at": raw.get("at") or utcnow(),
        }
    )
