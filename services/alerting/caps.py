"""How much alerting keeps and sends: every string and list it copies from an article is capped.

Enriched articles are produced by enrichment, but anyone who may write to
``articles.enriched`` can put anything there (a 400 KB ``source``, a sentence without a full
stop that runs for a megabyte, a made-up actor name). Alerting copies parts of them into the
records it writes (contributions on its internal topic, group state in its table's changelog,
alerts), and Kafka refuses a record over ~1 MiB: one unbounded field would crash the Faust
producer, and the same record would crash it again after every restart.

So every copied string is cut to a documented length here (an ellipsis marks the cut; counts of
stories, sources and copies are kept exact), every list has a documented length, ids that are
too long to be real ids are refused (dead-lettered as ``too_large``), and the engine keeps each
group's state under `MAX_STATE_BYTES` (see `services.alerting.engine.fit_state`). With these
caps an `Alert` is at most ~350 KB (every character a 6-byte JSON escape; 67 KB in ASCII) and a
table value at most `MAX_STATE_BYTES`, both under
`shared.limits.MAX_RECORD_BYTES`; the service still checks every alert's size before it sends it.

Pure: no Kafka, no clock.
"""

from __future__ import annotations

from shared.limits import TOO_LARGE, LimitError

# Characters (after the cut, including the ellipsis).
MAX_ID_CHARS = 200  # article and story ids: longer ones are refused, never cut (they are keys)
MAX_TITLE_CHARS = 300  # an article's title as listed in an alert
MAX_SOURCE_CHARS = 200  # an article's source as listed in an alert
MAX_URL_CHARS = 2_048  # an article's URL as listed in an alert
MAX_SENTENCE_CHARS = 1_000  # an evidence sentence (cut around its cue)
MAX_CUE_CHARS = 200  # an evidence cue phrase
MAX_NAME_CHARS = 100  # an actor or target name (also in group keys)

# List lengths.
MAX_PARTIES = 10  # actors, and targets, listed in one alert group
MAX_COPY_IDS = 10  # article ids remembered per story to recognise redeliveries (newest kept)

# Bytes: a group's state in the table (one changelog record).
MAX_STATE_BYTES = 600_000

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the last one an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def clip_optional(text: str | None, limit: int) -> str | None:
    return None if text is None else clip(text, limit)


def clip_around(text: str, start: int, end: int, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters keeping ``text[start:end]`` (the cue) when
    it fits: the window is centred on it, with an ellipsis at each cut end."""
    if len(text) <= limit:
        return text
    start = min(max(0, start), len(text))
    end = min(max(start, end), len(text))
    room = limit - 2  # an ellipsis at each end, at most
    middle = (start + end) // 2
    a = max(0, min(middle - room // 2, len(text) - room))
    b = a + room
    head = ELLIPSIS if a > 0 else ""
    tail = ELLIPSIS if b < len(text) else ""
    return head + text[a:b] + tail


def check_id(value: str, what: str) -> str:
    """``value`` unchanged, or `LimitError` (``too_large``) when longer than `MAX_ID_CHARS`."""
    if len(value) > MAX_ID_CHARS:
        raise LimitError(
            TOO_LARGE, f"{what} of {len(value)} characters is over the limit of {MAX_ID_CHARS}"
        )
    return value
