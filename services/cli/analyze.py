"""`brink analyze FILE`: the enrichment service's code and the per-article alert rules, offline.

Reads JSON lines (the corpus format ``id``/``title``/``text``, or RawArticle/Article-like
objects; ``-`` for stdin) and prints one JSON line per article: id, escalation, score,
signals, entities and the alerts the per-article rules would raise. For backfill, rule tuning
and evaluation.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from services.enrichment.scoring import contribution
from services.ingest.normalise import normalise
from shared import codec
from shared.codec import DecodeError
from shared.schemas import Article, EnrichedArticle, RawArticle
from shared.text import terminal_safe, terminal_safe_json

_YEAR = re.compile(r"\b(19|20)\d\d\b")


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="JSON lines file of articles, or - for stdin")
    parser.add_argument(
        "--rules", default=None, help="alert rules YAML (default: the shipped rules)"
    )
    parser.add_argument("--limit", type=int, default=None, help="stop after N articles")
    parser.add_argument(
        "--only-escalation", action="store_true", help="print only articles judged escalation"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="articles per nlp.pipe batch")


def parse_time(value: Any) -> datetime | None:
    """ISO 8601, RFC 2822, Unix seconds, Reuters' "26-FEB-1987 15:38:26.23", or a bare year
    range such as the BBC set's "2004-2005" (its last year, 1 January)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    for parse in (
        datetime.fromisoformat,
        parsedate_to_datetime,
        lambda s: datetime.strptime(s.split(".")[0], "%d-%b-%Y %H:%M:%S"),
    ):
        try:
            dt = parse(text)
        except (ValueError, TypeError, IndexError):
            continue
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    years = [m.group(0) for m in _YEAR.finditer(text)]
    return datetime(int(years[-1]), 1, 1, tzinfo=UTC) if years else None


def article_from_record(obj: dict[str, Any], received_at: datetime | None = None) -> Article:
    """An Article from a corpus line, a RawArticle-like or an Article-like object.

    Everything but a ready Article goes through ingest's own `normalise` (same id, cleaning
    and language decision as the live pipeline), so offline results equal live ones. The
    record's own ``id`` is kept as ``external_id``, as ingest keeps a publisher's id.
    Raises `DecodeError` for what ingest would dead-letter.
    """
    if obj.get("schema") == "brink.article/1" or ("body" in obj and "content_hash" in obj):
        return codec.validate(obj, Article)
    title = obj.get("title")
    body = obj.get("text") if obj.get("text") is not None else obj.get("body")
    published = parse_time(obj.get("published_at") or obj.get("date"))
    raw = RawArticle(
        title=None if title is None else str(title),
        text="" if body is None else str(body),
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        source=obj.get("source") if isinstance(obj.get("source"), str) else None,
        published_at=published.isoformat() if published else None,
        language=obj.get("language") if isinstance(obj.get("language"), str) else None,
        id=None if obj.get("id") is None else str(obj["id"]),
    )
    return normalise(raw, received_at or datetime.now(UTC))


def read_articles(stream: TextIO, limit: int | None = None) -> Iterator[Article]:
    """JSON lines; or one JSON object or array (a pretty-printed file); or else plain text,
    one article whose first line is the headline."""
    text = stream.read()
    records: list[Any]
    try:
        whole = orjson.loads(text)
        records = whole if isinstance(whole, list) else [whole]
    except orjson.JSONDecodeError:
        try:
            records = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError:
            title, _, body = text.strip().partition("\n")
            records = [{"title": title.strip(), "text": body.strip()}]
    for n, obj in enumerate(records):
        if limit is not None and n >= limit:
            return
        if not isinstance(obj, dict):
            continue
        try:
            yield article_from_record(obj)
        except DecodeError as exc:  # what ingest would dead-letter: say so, carry on
            print(f"record {n}: {exc.reason}: {terminal_safe(exc.detail)}", file=sys.stderr)


def result_line(enriched: EnrichedArticle, alerts: Sequence[Any]) -> dict[str, Any]:
    signals = [
        {
            "kind": s.kind.value,
            "cue": s.cue,
            "sentence": s.sentence,
            "start": s.start,
            "end": s.end,
            "modality": s.modality.value,
            "negated": s.negated,
            "hedged": s.hedged,
            "demanded": s.demanded,
            "historical": s.historical,
            "actor": s.actor.model_dump(mode="json") if s.actor else None,
            "target": s.target.model_dump(mode="json") if s.target else None,
            "weight": s.weight,
            "cameo": s.cameo,
            "plover": s.plover,
            "contribution": round(contribution(s), 2),
        }
        for s in enriched.signals
    ]
    return {
        "id": enriched.article.id,
        "external_id": enriched.article.external_id,
        "title": enriched.article.title,
        "status": enriched.status,
        "escalation": enriched.escalation,
        "score": enriched.score,
        "signals": signals,
        "entities": [e.model_dump(mode="json") for e in enriched.entities],
        "alerts": [a.model_dump(mode="json", by_alias=True) for a in alerts],
    }


def _batches(items: Iterable[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(args: argparse.Namespace) -> int:
    from services.alerting.rules import load_rules  # built beside enrichment; imported lazily
    from services.enrichment.pipeline import Enricher

    rules = load_rules(args.rules)
    enricher = Enricher(batch_size=args.batch_size)
    out = sys.stdout.buffer
    with contextlib.ExitStack() as stack:
        stream: TextIO = (
            sys.stdin
            if args.file == "-"
            else stack.enter_context(Path(args.file).open(encoding="utf-8"))
        )
        for batch in _batches(read_articles(stream, args.limit), args.batch_size):
            for enriched in enricher.enrich(batch):
                if args.only_escalation and not enriched.escalation:
                    continue
                alerts = rules.evaluate_article(enriched)
                # the same JSON, with C1 and bidi controls from the articles as \u escapes
                out.write(terminal_safe_json(orjson.dumps(result_line(enriched, alerts))) + b"\n")
            out.flush()
    return 0
