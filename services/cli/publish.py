"""`brink publish FILE|DIR|-`: send articles to ``articles.raw``, one record per article.

Reads JSON objects (``.json``), JSON arrays (one record per item), JSON lines (``.jsonl``,
``.ndjson``: one record per line) and plain text (``.txt`` and anything else: one record per
file); directories recursively (only those extensions); ``-`` = stdin (format sniffed).

Publish does not judge content: ingest does, and dead-letters what is bad. A malformed JSON file
or line, invalid UTF-8 or an unknown field is sent as it is. It refuses only what it cannot read
at all (a missing file), and a record over `shared.limits.MAX_RECORD_BYTES`, which it reports as
failed (``too_large``) before sending: the broker would refuse it, and one refused record
poisons kafka-python's idempotent producer for every record after it. One exception: a corpus-style record (the shared news corpus carries
``source_repo``, ``category``, ``subset``, ``date``, ... beside ``id``/``title``/``text``) is mapped
to `RawArticle`: known fields kept, the rest moved under ``meta``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from shared.limits import TOO_DEEP, LimitError, check_record_size
from shared.schemas import RawArticle
from shared.settings import Settings
from shared.text import terminal_safe

JSON_EXT = {".json"}
JSONL_EXT = {".jsonl", ".ndjson"}
TEXT_EXT = {".txt", ".text"}
DIR_EXT = JSON_EXT | JSONL_EXT | TEXT_EXT
RAW_FIELDS = frozenset(RawArticle.model_fields)
# Fields only the shared corpus format has: their presence marks a corpus-style record.
CORPUS_FIELDS = frozenset({"source_repo", "commit", "path", "category", "subset", "date", "places"})
PROGRESS_MIN_BYTES = 1_000_000


@dataclass
class Summary:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="FILE|DIR|-", help="what to publish")
    parser.add_argument(
        "--bootstrap-servers", help="Kafka bootstrap servers (default: BRINK_BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--topic", help="target topic (default: the settings' articles.raw)")
    parser.add_argument(
        "--source", help="set 'source' on JSON records that have none (e.g. the publisher)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the summary")


def map_corpus(obj: dict[str, Any]) -> dict[str, Any]:
    """A corpus-style record as `RawArticle` fields: known fields kept, the rest under ``meta``."""
    if not CORPUS_FIELDS & obj.keys():
        return obj
    out = {k: v for k, v in obj.items() if k in RAW_FIELDS}
    extra = {k: v for k, v in obj.items() if k not in RAW_FIELDS}
    if extra:
        meta = dict(out["meta"]) if isinstance(out.get("meta"), dict) else {}
        meta.update(extra)
        out["meta"] = meta
    return out


def prepare(obj: Any, source: str | None) -> bytes:
    """Re-serialise one parsed JSON item, mapping corpus-style records and filling ``source``."""
    if isinstance(obj, dict):
        obj = map_corpus(obj)
        if source and not obj.get("source"):
            obj = {**obj, "source": source}
    return orjson.dumps(obj)


def records_from_bytes(data: bytes, kind: str, source: str | None) -> Iterator[bytes | LimitError]:
    """The record values in one input (kind: json, jsonl, text or sniff); a `LimitError` in
    place of an array element too deeply nested to write out again."""
    if kind == "sniff":
        head = data.lstrip()[:1]
        kind = "json" if head in (b"{", b"[") else "text"
        if kind == "json":
            try:
                orjson.loads(data)
            except orjson.JSONDecodeError:
                kind = (
                    "jsonl" if len([ln for ln in data.splitlines() if ln.strip()]) > 1 else "json"
                )
    if kind == "text":
        yield data
        return
    if kind == "json":
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            yield data  # ingest dead-letters it (malformed_json) with these exact bytes
            return
        if isinstance(parsed, list):
            for item in parsed:
                try:
                    yield prepare(item, source)
                except orjson.JSONEncodeError:  # nested past orjson's limit (255)
                    yield LimitError(TOO_DEEP, "this element nests too deeply to send")
        else:
            try:
                yield prepare(parsed, source)
            except orjson.JSONEncodeError:
                yield data  # as it is: ingest dead-letters it (too_deep)
        return
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            yield prepare(orjson.loads(line), source)
        except (orjson.JSONDecodeError, orjson.JSONEncodeError):
            yield line  # as it is: ingest dead-letters it with the reason


def kind_of(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in JSON_EXT:
        return "json"
    if ext in JSONL_EXT:
        return "jsonl"
    if ext in TEXT_EXT:
        return "text"
    return "sniff"


def expand(inputs: list[str], summary: Summary) -> list[Path | None]:
    """Files to read (None = stdin); missing paths are counted as failures."""
    out: list[Path | None] = []
    for name in inputs:
        if name == "-":
            out.append(None)
            continue
        path = Path(name)
        if path.is_dir():
            out.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in DIR_EXT
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            out.append(path)
        else:
            summary.failed += 1
            summary.errors.append(f"{name}: no such file or directory")
    return out


def run(args: argparse.Namespace) -> int:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    overrides = {"bootstrap_servers": args.bootstrap_servers} if args.bootstrap_servers else {}
    settings = Settings.from_env(**overrides)
    topic = args.topic or settings.topics.raw
    summary = Summary()
    files = expand(args.inputs, summary)
    total = sum(p.stat().st_size for p in files if p is not None)
    try:
        producer = KafkaProducer(acks="all", linger_ms=10, **settings.kafka_python())
    except KafkaError as exc:
        print(
            f"brink publish: cannot reach Kafka at {settings.bootstrap_servers}: {exc}",
            file=sys.stderr,
        )
        return 2
    futures: list[tuple[str, Any]] = []
    progress = None
    if sys.stderr.isatty() and total >= PROGRESS_MIN_BYTES and not args.quiet:
        from rich.progress import Progress

        progress = Progress(transient=True)
        progress.start()
    task = progress.add_task("publishing", total=total) if progress else None
    try:
        for path in files:
            label = "-" if path is None else str(path)
            try:
                data = sys.stdin.buffer.read() if path is None else path.read_bytes()
            except OSError as exc:
                summary.failed += 1
                summary.errors.append(f"{label}: {exc}")
                continue
            kind = "sniff" if path is None else kind_of(path)
            for n, value in enumerate(records_from_bytes(data, kind, args.source)):
                try:
                    if isinstance(value, LimitError):
                        raise value
                    check_record_size(value)
                    futures.append((f"{label}#{n + 1}", producer.send(topic, value=value)))
                except (KafkaError, LimitError) as exc:
                    summary.failed += 1
                    summary.errors.append(f"{label}#{n + 1}: {exc}")
                if progress is not None and task is not None and isinstance(value, bytes):
                    progress.update(task, advance=len(value) + 1)
        producer.flush()
    finally:
        if progress is not None:
            progress.stop()
    for label, fut in futures:
        try:
            fut.get(timeout=30)
            summary.sent += 1
        except KafkaError as exc:
            summary.failed += 1
            summary.errors.append(f"{label}: {exc}")
    producer.close(10)
    for err in summary.errors[:20]:
        print(f"failed: {terminal_safe(err)}", file=sys.stderr)
    if len(summary.errors) > 20:
        print(f"... and {len(summary.errors) - 20} more failures", file=sys.stderr)
    print(f"sent: {summary.sent}, failed: {summary.failed} (topic {topic})")
    return 1 if summary.failed else 0


if __name__ == "__main__":  # python -m services.cli.publish (same as `brink publish`)
    _parser = argparse.ArgumentParser(prog="brink publish", description=__doc__)
    add_parser(_parser)
    sys.exit(run(_parser.parse_args()))
