"""Turning raw bytes from ``articles.raw`` into a normalised `Article` (pure: no Kafka, no I/O).

Owns: how raw bytes are classified (JSON object or plain UTF-8 text, and every way they can be
bad), the size and shape limits of `shared.limits` on every field, text clean-up (Unicode NFC,
control and bidi characters stripped, whitespace, HTML to text), timestamp parsing to UTC,
language detection, URL canonicalisation and the stable article id and content hash.

Text handling is linear in the input: no regex here has nested or overlapping unbounded
quantifiers over user text (adversarial markup such as ``"<b" * 2_500_000`` used to take hours).

Every refusal raises `shared.codec.DecodeError` whose ``reason`` is a fixed code (a metrics label
and the dead-letter ``brink.dlq.reason`` header): the codec's reasons plus those defined here.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared import codec, language, limits
from shared.codec import DecodeError
from shared.limits import LimitError
from shared.schemas import Article, RawArticle

# Reasons added to the codec's (all fixed, safe as a Prometheus label). The codec's include
# too_large and too_deep, the reasons of `shared.limits.LimitError`.
BINARY = "binary"
EMPTY_BODY = "empty_body"
INVALID_TIMESTAMP = "invalid_timestamp"
PROCESSING_ERROR = "processing_error"
PRODUCE_REFUSED = "produce_refused"  # the broker will never take this record's output
REASONS = (
    *codec.REASONS,
    BINARY,
    EMPTY_BODY,
    INVALID_TIMESTAMP,
    PROCESSING_ERROR,
    PRODUCE_REFUSED,
)

# Room left in a record for the duplicate information the worker adds after `process`.
DUPLICATE_ROOM = 256

ID_HEX_CHARS = 16  # 64 bits of SHA-256: collisions are negligible at news volumes

# Query parameters that identify a campaign or click, never the article.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ncid",
        "cmpid",
        "ocid",
        "smid",
        "spm",
        "ref_src",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")

# The start of a known tag. Whether a '>' follows is checked with one rfind, not with `[^>]*>`
# after every candidate (that rescanned the rest of the text from each '<b': quadratic).
_HTML_TAG_START = re.compile(
    r"<\s*(?:html|head|body|p|div|br|span|a\s|article|section|h[1-6]|ul|ol|li|table|em|strong|b|i)\b",
    re.IGNORECASE,
)
_INLINE_SPACE = re.compile(r"[^\S\n]+")  # whitespace except newline
_MANY_NEWLINES = re.compile(r"\n{3,}")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_BINARY_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")  # C0 controls but \t\n\v\f\r
# Output safety: C0 and C1 controls (but newline and tab) and the bidi overrides and isolates
# (U+202A-202E, U+2066-2069: "Trojan Source" reordering) are removed from every text field, so
# no terminal escape (ESC ] 0 ; ... BEL, CSI) or reordering reaches an analyst's screen. The C0
# and C1 controls that are whitespace (VT, FF, FS..US, NEL) become a space so words stay apart.
_UNSAFE: dict[int, str | None] = {
    **{c: None for c in range(0x20) if c not in (0x09, 0x0A)},
    **dict.fromkeys(range(0x7F, 0xA0)),
    **dict.fromkeys((*range(0x202A, 0x202F), *range(0x2066, 0x206A))),
    **dict.fromkeys((0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, 0x85), " "),
    0x0D: "\n",
}
_WORD = re.compile(r"\w+", re.UNICODE)


# --------------------------------------------------------------------------- raw bytes
def parse_raw(value: bytes | None, *, max_bytes: int | None = None) -> RawArticle:
    """Classify and parse one ``articles.raw`` record value.

    A value whose first non-blank character is ``{`` is a JSON object (validated against
    `RawArticle`; unknown fields are refused); anything else is plain UTF-8 text whose first
    non-empty line is the headline and the rest the body.
    """
    if not value or not value.strip():
        raise DecodeError(codec.EMPTY, "the message is empty")
    if max_bytes is not None and len(value) > max_bytes:
        raise DecodeError(codec.TOO_LARGE, f"{len(value)} bytes is over the limit of {max_bytes}")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(
            codec.INVALID_UTF8, f"not UTF-8 at byte {exc.start}: {exc.reason}"
        ) from None
    head = text.lstrip()[:1]
    if head == "{":
        return parse_object(codec.loads_object(value, max_bytes=max_bytes))
    if head == "[":
        raise DecodeError(
            codec.NOT_AN_OBJECT, "a JSON array: send one article per record (brink publish splits)"
        )
    # Only plain text is judged binary (NUL, or many C0 controls): a JSON parser already refuses
    # raw C0 controls in strings, and every control character that gets through is stripped.
    if _looks_binary(text):
        raise DecodeError(BINARY, "the message holds control characters: binary data, not text")
    return parse_text(text)


def parse_object(obj: dict[str, Any]) -> RawArticle:
    """Validate a parsed JSON object as a `RawArticle` (raises `DecodeError`)."""
    return codec.validate(obj, RawArticle)


def parse_text(text: str) -> RawArticle:
    """Plain text: the first non-empty line is the title, the rest the body.

    A single line of text is taken as the body (with no title) rather than refused.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            rest = "\n".join(lines[i + 1 :])
            if not rest.strip():
                return RawArticle(text=line)
            return RawArticle(title=line, text=rest)
    raise DecodeError(codec.EMPTY, "the message is only whitespace")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    bad = len(_BINARY_CONTROL.findall(sample))
    return "\x00" in sample or bad > max(2, len(sample) // 100)


# --------------------------------------------------------------------------- text
def strip_unsafe(text: str) -> str:
    """Unicode NFC without control characters (C0, C1; newline and tab kept), bidi overrides and
    isolates, or invisible characters. One pass of `str.translate`: linear."""
    text = text.replace("\r\n", "\n")
    return unicodedata.normalize("NFC", text.translate(_UNSAFE).translate(_INVISIBLE))


def clean_text(text: str) -> str:
    """`strip_unsafe`, then single spaces and at most one blank line in a row."""
    text = strip_unsafe(text)
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def looks_like_html(text: str) -> bool:
    """A known tag (``<p``, ``<div``, ``<b>``...) followed somewhere by a ``>``; linear time."""
    last_gt = text.rfind(">")
    return last_gt > 0 and _HTML_TAG_START.search(text, 0, last_gt) is not None


def strip_tags(markup: str) -> str:
    """Every ``<...>`` (as the regex ``<[^>]+>`` would match) replaced by a space, in one pass.

    Hand-written because that regex rescans to the end of the text from every ``<`` that has no
    ``>`` after it (quadratic on ``"<" * n``).
    """
    out: list[str] = []
    pos = 0
    start = markup.find("<")
    while start >= 0:
        end = markup.find(">", start + 1)
        if end < 0:
            break  # no '>' after this '<', so none after any later '<' either
        if end == start + 1:  # "<>" is not a tag
            start = markup.find("<", start + 1)
            continue
        out.append(markup[pos:start])
        out.append(" ")
        pos = end + 1
        start = markup.find("<", pos)
    out.append(markup[pos:])
    return "".join(out)


# trafilatura costs several seconds per MB (lxml alone a fraction of one): past this size the
# page's text comes from lxml, so one record cannot hold the consumer for long.
TRAFILATURA_MAX_CHARS = 300_000


def html_to_text(markup: str) -> str:
    """Main text of an HTML page (trafilatura), or all text of a fragment it gives up on or of a
    page over `TRAFILATURA_MAX_CHARS` (lxml)."""
    if len(markup) > TRAFILATURA_MAX_CHARS:
        return _lxml_text(markup)
    import trafilatura

    extracted = trafilatura.extract(
        markup, include_comments=False, include_tables=False, favor_recall=True
    )
    if extracted and extracted.strip():
        return str(extracted)
    return _lxml_text(markup)


_BLOCKS = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"article", "section", "tr", "table", "blockquote", "pre"}
)


def _lxml_text(markup: str) -> str:
    import lxml.html  # type: ignore[import-untyped]

    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return html.unescape(strip_tags(markup))
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n\n" + (el.tail or "")
    return str(root.text_content())


def clean_title(title: str | None) -> str:
    if not title:
        return ""
    if "&" in title:
        title = html.unescape(title)
    if "<" in title and looks_like_html(title):
        title = _lxml_text(title)
    return " ".join(clean_text(title).split())


def clean_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """Check ``meta`` against the limits, then strip unsafe characters from every key and string.

    Raises `LimitError`: ``too_deep`` past `limits.MAX_META_DEPTH` levels, ``too_large`` past
    `limits.MAX_META_KEYS` keys in all or a string past `limits.MAX_META_STRING_CHARS`.
    """
    if meta is None:
        return None
    depth, keys = limits.depth_and_keys(meta, max_depth=limits.MAX_META_DEPTH)
    if depth > limits.MAX_META_DEPTH:
        raise LimitError(limits.TOO_DEEP, f"meta nests deeper than {limits.MAX_META_DEPTH} levels")
    if keys > limits.MAX_META_KEYS:
        raise LimitError(limits.TOO_LARGE, f"meta has {keys} keys, over {limits.MAX_META_KEYS}")

    def clean(value: Any) -> Any:  # recursion is bounded by MAX_META_DEPTH, checked above
        if isinstance(value, str):
            if len(value) > limits.MAX_META_STRING_CHARS:
                raise LimitError(
                    limits.TOO_LARGE,
                    f"a meta string of {len(value)} characters is over "
                    f"{limits.MAX_META_STRING_CHARS}",
                )
            return strip_unsafe(value)
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    cleaned: dict[str, Any] = clean(meta)
    return cleaned


def _check_chars(field: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise LimitError(
            limits.TOO_LARGE, f"{field} of {len(value)} characters is over the limit of {limit}"
        )


def clean_body(body: str) -> str:
    if looks_like_html(body):
        body = html_to_text(body)
    return clean_text(body)


# --------------------------------------------------------------------------- time
def parse_timestamp(value: str | int | float | None) -> datetime | None:
    """ISO 8601, RFC 2822, ``YYYY-MM-DD HH:MM`` or Unix seconds (ms when > 1e11) -> aware UTC.

    Naive times are taken as UTC. Raises `DecodeError` (``invalid_timestamp``) when unreadable.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise DecodeError(INVALID_TIMESTAMP, f"published_at: {value!r} is not a time")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text):
        return _from_epoch(float(text))
    iso = text[:-1] + "+00:00" if text[-1:] in "Zz" else text
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            raise DecodeError(
                INVALID_TIMESTAMP,
                f"published_at: {text[:80]!r} is not ISO 8601, RFC 2822 or Unix seconds",
            ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _from_epoch(seconds: float) -> datetime:
    if abs(seconds) > 1e11:  # milliseconds, as JavaScript clients send
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise DecodeError(INVALID_TIMESTAMP, f"published_at: {seconds} is out of range") from None


# --------------------------------------------------------------------------- ids
def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, no default port, fragment or tracking parameters; sorted query.

    Returns None for something that is not an absolute http(s) URL.
    """
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def content_hash(title: str, body: str) -> str:
    """SHA-256 (hex) of the normalised title and body."""
    return hashlib.sha256(f"{title}\n\n{body}".encode()).hexdigest()


def article_id(url: str | None, digest: str) -> str:
    """From the canonical URL when there is one, else from the content hash; short hex."""
    if url:
        return hashlib.sha256(url.encode()).hexdigest()[:ID_HEX_CHARS]
    return digest[:ID_HEX_CHARS]


def words(text: str) -> list[str]:
    """Lower-cased word tokens, the unit of near-duplicate shingles."""
    return _WORD.findall(text.lower())


# --------------------------------------------------------------------------- language
def detect_language(text: str) -> str:
    """ISO 639-1 code, or 'und' for too little text or an unsure guess (`shared.language`)."""
    return language.detect_language(text)


# --------------------------------------------------------------------------- article
def normalise(raw: RawArticle, received_at: datetime) -> Article:
    """A first-copy `Article` (no duplicate information yet) from a validated raw article.

    Raises `DecodeError`; `LimitError` (one) when a field is over its limit in `shared.limits`.
    """
    meta = clean_meta(raw.meta)
    given = (raw.language or "").strip().lower()
    _check_chars("language", given, limits.MAX_LANGUAGE_CHARS)
    title = clean_title(raw.title)
    _check_chars("title", title, limits.MAX_TITLE_CHARS)
    source = clean_title(raw.source) or None
    _check_chars("source", source, limits.MAX_SOURCE_CHARS)
    raw_url = strip_unsafe(raw.url).strip() if raw.url else ""
    _check_chars("url", raw_url, limits.MAX_URL_CHARS)
    external_id = strip_unsafe(raw.id) if raw.id is not None else None
    _check_chars("id", external_id, limits.MAX_ID_CHARS)
    body = clean_body(raw.content)
    if not body and not _WORD.search(title):  # a headline alone is news (flashes, feeds)
        raise DecodeError(EMPTY_BODY, "no words in the title or the body after normalisation")
    url = canonical_url(raw_url)
    _check_chars("url", url, limits.MAX_URL_CHARS)
    digest = content_hash(title, body)
    language = given if re.fullmatch(r"[a-z]{2,3}", given) else detect_language(f"{title}\n{body}")
    return Article(
        id=article_id(url, digest),
        title=title,
        body=body,
        url=url or raw_url or None,
        source=source,
        published_at=parse_timestamp(raw.published_at),
        received_at=received_at,
        language=language,
        content_hash=digest,
        external_id=external_id,
        meta=meta,
    )


def check_encoded_size(article: Article, room: int = 0) -> bytes:
    """The article's encoded bytes; `LimitError` (too_large) when over `limits.MAX_RECORD_BYTES`
    less ``room``. JSON escaping can make an article much bigger than its raw record."""
    data = codec.encode(article)
    limits.check_record_size(data, limit=limits.MAX_RECORD_BYTES - room, what="the article")
    return data


def process(value: bytes | None, received_at: datetime, *, max_bytes: int | None) -> Article:
    """Raw record value -> normalised `Article`; every refusal is a `DecodeError`.

    Everything ingest refuses is refused here (parse, validation, limits, the encoded size with
    room for the duplicate information), so the HTTP API and the consumer decide alike.
    """
    article = normalise(parse_raw(value, max_bytes=max_bytes), received_at)
    check_encoded_size(article, room=DUPLICATE_ROOM)
    return article
