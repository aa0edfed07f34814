"""The console's materialised view of the topics: alerts, the enriched articles they cite,
silences and feedback, with the consumed offsets, in one SQLite file (FTS5 for text search).

Exactly once across restarts and kill -9: `SqliteStore.apply` writes a batch of records *and*
the next offset of every partition it read in one SQLite transaction. On start the consumer
seeks each partition to the offset stored here (not to a consumer group's commit), so what a
crash loses is an uncommitted transaction together with its offsets: the records are read
again, and nothing is written twice. Alerts are keyed by their deterministic id, so an alert
re-raised on the topic (same id) is one row. Delete the file to rebuild it from the topics.

`Repository` is the narrow interface the web layer and the consumer use. A deployment that
outgrows one file implements it over PostgreSQL (``tsvector`` for search, ``SKIP LOCKED``
not needed: one writer per console) in a new module; nothing else changes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from services.alerting.rules import Silence
from shared import codec
from shared.codec import DecodeError
from shared.schemas import Alert, EnrichedArticle, Feedback, Severity

log = logging.getLogger(__name__)
SEVERITIES = tuple(s.value for s in Severity)


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record as the store sees it (the consumer's type, without kafka-python)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Filters of ``GET /api/alerts``; every one optional, all must hold."""

    since: datetime | None = None  # alert time (last_seen, article time) >= since
    until: datetime | None = None  # alert time < until
    min_severity: str | None = None
    severity: str | None = None  # exactly this one
    rules: tuple[str, ...] = ()
    actor: str | None = None  # name or code, case-insensitive
    target: str | None = None
    kind: str | None = None
    q: str | None = None  # FTS5 query over alert text and the cited articles' text
    story: str | None = None  # an article (story) id the alert cites
    group: str | None = None
    before: int | None = None  # seq cursor: older than this
    limit: int = 50


@dataclass(slots=True)
class Topics:
    """Which topic a record came from (names carry the deployment's prefix)."""

    alerts: str
    enriched: str
    silences: str
    feedback: str
    all: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.all = (self.alerts, self.enriched, self.silences, self.feedback)


class Repository(Protocol):
    """What the console needs from its store. Keep it this narrow: a PostgreSQL store is a new
    module implementing these methods, not a rewrite."""

    topics: Topics

    def offsets(self) -> dict[tuple[str, int], int]: ...
    def apply(self, records: Sequence[Record]) -> int: ...
    def close(self) -> None: ...
    def alerts(self, query: AlertQuery, after: int | None = None) -> list[dict[str, Any]]: ...
    def last_seq(self) -> int: ...
    def alert(self, alert_id: str) -> dict[str, Any] | None: ...
    def alert_model(self, alert_id: str) -> Alert | None: ...
    def article(self, article_id: str) -> dict[str, Any] | None: ...
    def article_copies(self, story: str) -> list[dict[str, Any]]: ...
    def put_article(self, enriched: EnrichedArticle) -> None: ...
    def stories(self, limit: int = 50) -> list[dict[str, Any]]: ...
    def dyads(self, limit: int = 50) -> list[dict[str, Any]]: ...
    def dyad_timeline(self, actor: str, target: str, bucket: str) -> list[dict[str, Any]]: ...
    def silences(self) -> list[dict[str, Any]]: ...
    def feedback(self, alert_id: str) -> Feedback | None: ...
    def codes(self, names: Iterable[str]) -> dict[str, str]: ...
    def counts(self) -> dict[str, int]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    group_key TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, severity_rank INTEGER,
    title TEXT NOT NULL, summary TEXT NOT NULL, score REAL, count INTEGER,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, created_at TEXT NOT NULL,
    kinds TEXT NOT NULL, json BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_last_seen ON alerts (last_seen);
CREATE INDEX IF NOT EXISTS alerts_group ON alerts (group_key);
CREATE TABLE IF NOT EXISTS alert_parties (
    alert_id TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (alert_id, role, name));
CREATE INDEX IF NOT EXISTS alert_parties_name ON alert_parties (role, name);
CREATE TABLE IF NOT EXISTS alert_articles (
    alert_id TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (alert_id, article_id));
CREATE INDEX IF NOT EXISTS alert_articles_article ON alert_articles (article_id);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, story TEXT NOT NULL, title TEXT NOT NULL, at TEXT NOT NULL,
    json BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS articles_story ON articles (story);
CREATE TABLE IF NOT EXISTS codes (
    name TEXT PRIMARY KEY COLLATE NOCASE, code TEXT NOT NULL COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS dyad_events (
    article_id TEXT NOT NULL, actor TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (article_id, actor, target, kind));
CREATE INDEX IF NOT EXISTS dyad_events_pair ON dyad_events (actor, target, at);
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, json BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (alert_id TEXT PRIMARY KEY, json BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS alerts_fts USING fts5(alert_id UNINDEXED, text);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(article_id UNINDEXED, text);
"""
COUNTED = ("alerts", "articles", "silences", "feedback")


def _iso(at: datetime) -> str:
    return at.isoformat()


def _fts_query(q: str) -> str:
    """A user's words as an FTS5 query: each word a quoted prefix term, all required. (Raw FTS5
    syntax would let a stray quote or ``NEAR(`` fail the request.)"""
    words = [w.replace('"', "") for w in q.split()]
    return " ".join(f'"{w}"*' for w in words if w)


class SqliteStore:
    """`Repository` over one SQLite file in WAL mode: one writer (the consumer thread), readers
    on their own connections (one per thread)."""

    def __init__(self, path: Path, topics: Topics) -> None:
        self.path = path
        self.topics = topics
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conn().executescript(_SCHEMA)

    # ------------------------------------------------------------------ connections
    def _conn(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss too
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ------------------------------------------------------------------ writing
    def offsets(self) -> dict[tuple[str, int], int]:
        rows = self._conn().execute("SELECT topic, partition, next_offset FROM offsets")
        return {(r[0], r[1]): r[2] for r in rows}

    def apply(self, records: Sequence[Record]) -> int:
        """Write what ``records`` say and their partitions' next offsets, in one transaction.
        Returns how many records changed something (undecodable ones are skipped)."""
        applied = 0
        with self._tx() as db:
            nexts: dict[tuple[str, int], int] = {}
            for r in records:
                tp = (r.topic, r.partition)
                nexts[tp] = max(nexts.get(tp, 0), r.offset + 1)
                try:
                    if self._apply_one(db, r):
                        applied += 1
                except DecodeError as exc:
                    log.warning(
                        "console: %s[%d]@%d skipped: %s", r.topic, r.partition, r.offset, exc
                    )
            db.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(t, p, o) for (t, p), o in nexts.items()],
            )
        return applied

    def _apply_one(self, db: sqlite3.Connection, r: Record) -> bool:
        t = self.topics
        if r.topic == t.alerts:
            if r.value is None:
                return False
            return self._put_alert(db, codec.decode(r.value, Alert))
        if r.topic == t.enriched:
            if r.value is None:
                return False
            enriched = codec.decode(r.value, EnrichedArticle)
            cited = db.execute(
                "SELECT 1 FROM alert_articles WHERE article_id = ? LIMIT 1", (enriched.article.id,)
            ).fetchone()
            # Only articles an alert can cite (they carry signals) or already cites are kept.
            if not enriched.signals and cited is None:
                return False
            self._put_article(db, enriched)
            return True
        key = (r.key or b"").decode("utf-8", "replace")
        if r.topic == t.silences:
            if r.value is None:
                db.execute("DELETE FROM silences WHERE id = ?", (key,))
                return True
            silence = codec.decode(r.value, Silence)
            silence = silence.model_copy(update={"id": silence.id or key})
            db.execute(
                "INSERT OR REPLACE INTO silences VALUES (?, ?)",
                (key, silence.model_dump_json().encode()),
            )
            return True
        if r.topic == t.feedback:
            if r.value is None:
                db.execute("DELETE FROM feedback WHERE alert_id = ?", (key,))
                return True
            fb = codec.decode(r.value, Feedback)
            db.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?)", (fb.alert_id, r.value))
            return True
        return False

    def _put_alert(self, db: sqlite3.Connection, alert: Alert) -> bool:
        if db.execute("SELECT 1 FROM alerts WHERE id = ?", (alert.id,)).fetchone() is not None:
            return False  # the same alert again (a redelivery or a re-raise): one row
        # (checked first: a conflicting INSERT would still use up a sequence number, and the
        # SSE event ids are meant to run without gaps)
        cur = db.execute(
            "INSERT INTO alerts (id, group_key, rule, severity, severity_rank, title, summary, "
            "score, count, first_seen, last_seen, created_at, kinds, json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                alert.id,
                alert.group.key,
                alert.rule,
                alert.severity.value,
                alert.severity.rank,
                alert.title,
                alert.summary,
                alert.score,
                alert.count,
                _iso(alert.first_seen),
                _iso(alert.last_seen),
                _iso(alert.created_at),
                " ".join(k.value for k in alert.group.kinds),
                codec.encode(alert),
            ),
        )
        if cur.rowcount == 0:
            return False  # the same alert again (a redelivery or a re-raise): one row
        parties = [(alert.id, "actor", n) for n in alert.group.actors]
        parties += [(alert.id, "target", n) for n in alert.group.targets]
        db.executemany("INSERT OR IGNORE INTO alert_parties VALUES (?, ?, ?)", parties)
        db.executemany(
            "INSERT OR IGNORE INTO alert_articles VALUES (?, ?)",
            [(alert.id, a.id) for a in alert.articles]
            + [(alert.id, e.article_id) for e in alert.evidence],
        )
        text = " ".join(
            [alert.title, alert.summary, alert.rule, *alert.group.actors, *alert.group.targets]
            + [e.sentence for e in alert.evidence]
            + [a.title for a in alert.articles]
        )
        db.execute("INSERT INTO alerts_fts VALUES (?, ?)", (alert.id, text))
        return True

    def put_article(self, enriched: EnrichedArticle) -> None:
        """Keep one article (e.g. one asked for that no alert cites yet)."""
        with self._tx() as db:
            self._put_article(db, enriched)

    def _put_article(self, db: sqlite3.Connection, enriched: EnrichedArticle) -> None:
        a = enriched.article
        at = a.published_at if a.published_at and a.published_at <= a.received_at else None
        at = at or a.received_at
        story = a.duplicate.of if a.duplicate else a.id
        cur = db.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (a.id, story, a.title, _iso(at), codec.encode(enriched)),
        )
        if cur.rowcount == 0:
            return
        db.execute("INSERT INTO articles_fts VALUES (?, ?)", (a.id, f"{a.title}\n{a.body}"))
        codes = []
        events = []
        for s in enriched.signals:
            for p in (s.actor, s.target):
                if p is not None and p.code:
                    codes.append((p.name, p.code))
            if s.actor and s.target and not (s.negated or s.historical):
                events.append((a.id, s.actor.name, s.target.name, s.kind.value, _iso(at)))
        db.executemany("INSERT OR IGNORE INTO codes VALUES (?, ?)", codes)
        db.executemany("INSERT OR IGNORE INTO dyad_events VALUES (?, ?, ?, ?, ?)", events)

    # ------------------------------------------------------------------ reading
    def _names_for(self, db: sqlite3.Connection, name_or_code: str) -> list[str]:
        rows = db.execute("SELECT name FROM codes WHERE code = ?", (name_or_code,)).fetchall()
        return [name_or_code, *(r[0] for r in rows)]

    def alerts(self, query: AlertQuery, after: int | None = None) -> list[dict[str, Any]]:
        """Alerts matching ``query``, the most recently stored first; with ``after``, those
        stored after that sequence number instead, in the order they were stored (the SSE
        stream)."""
        db = self._conn()
        where: list[str] = []
        args: list[Any] = []
        if query.since is not None:
            where.append("a.last_seen >= ?")
            args.append(_iso(query.since))
        if query.until is not None:
            where.append("a.last_seen < ?")
            args.append(_iso(query.until))
        if query.min_severity in SEVERITIES:
            where.append("a.severity_rank >= ?")
            args.append(SEVERITIES.index(query.min_severity))
        if query.severity in SEVERITIES:
            where.append("a.severity = ?")
            args.append(query.severity)
        if query.rules:
            where.append(f"a.rule IN ({','.join('?' * len(query.rules))})")
            args.extend(query.rules)
        for role, value in (("actor", query.actor), ("target", query.target)):
            if value:
                names = self._names_for(db, value)
                where.append(
                    "a.id IN (SELECT alert_id FROM alert_parties WHERE role = ? AND name IN "
                    f"({','.join('?' * len(names))}))"
                )
                args.extend([role, *names])
        if query.kind:
            where.append("(' ' || a.kinds || ' ') LIKE ?")
            args.append(f"% {query.kind} %")
        if query.group:
            where.append("a.group_key = ?")
            args.append(query.group)
        if query.story:
            where.append(
                "a.id IN (SELECT alert_id FROM alert_articles WHERE article_id = ? OR article_id "
                "IN (SELECT id FROM articles WHERE story = ?))"
            )
            args.extend([query.story, query.story])
        if query.q and (fts := _fts_query(query.q)):
            where.append(
                "(a.id IN (SELECT alert_id FROM alerts_fts WHERE alerts_fts MATCH ?) OR a.id IN "
                "(SELECT alert_id FROM alert_articles WHERE article_id IN "
                "(SELECT article_id FROM articles_fts WHERE articles_fts MATCH ?)))"
            )
            args.extend([fts, fts])
        if query.before is not None:
            where.append("a.seq < ?")
            args.append(query.before)
        if after is not None:
            where.append("a.seq > ?")
            args.append(after)
        sql = "SELECT a.seq, a.json, f.json AS feedback FROM alerts a "
        sql += "LEFT JOIN feedback f ON f.alert_id = a.id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        # Newest stored first, like the live list the stream prepends to; ``before`` pages on.
        sql += " ORDER BY a.seq" if after is not None else " ORDER BY a.seq DESC"
        sql += " LIMIT ?"
        args.append(max(1, min(query.limit, 500)))
        return [self._alert_row(r) for r in db.execute(sql, args)]

    def last_seq(self) -> int:
        row = self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM alerts").fetchone()
        return int(row[0])

    def _alert_row(self, row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = orjson.loads(row["json"])
        out["seq"] = row["seq"]
        out["feedback"] = orjson.loads(row["feedback"]) if row["feedback"] else None
        return out

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        row = (
            self._conn()
            .execute(
                "SELECT a.seq, a.json, f.json AS feedback FROM alerts a "
                "LEFT JOIN feedback f ON f.alert_id = a.id WHERE a.id = ?",
                (alert_id,),
            )
            .fetchone()
        )
        return None if row is None else self._alert_row(row)

    def alert_model(self, alert_id: str) -> Alert | None:
        row = self._conn().execute("SELECT json FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else codec.decode(row[0], Alert)

    def article(self, article_id: str) -> dict[str, Any] | None:
        row = (
            self._conn().execute("SELECT json FROM articles WHERE id = ?", (article_id,)).fetchone()
        )
        if row is None:
            return None
        out: dict[str, Any] = orjson.loads(row[0])
        return out

    def article_copies(self, story: str) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT id, title, at FROM articles WHERE story = ? ORDER BY at", (story,)
        )
        return [dict(r) for r in rows]

    def stories(self, limit: int = 50) -> list[dict[str, Any]]:
        """Stories (an article and its near-duplicates) with the alerts that cite them."""
        rows = self._conn().execute(
            "SELECT COALESCE(ar.story, aa.article_id) AS story, "
            "COUNT(DISTINCT aa.alert_id) AS alerts, MAX(a.severity_rank) AS rank, "
            "MAX(a.last_seen) AS last_seen, MIN(ar.title) AS title "
            "FROM alert_articles aa JOIN alerts a ON a.id = aa.alert_id "
            "LEFT JOIN articles ar ON ar.id = aa.article_id "
            "GROUP BY COALESCE(ar.story, aa.article_id) ORDER BY last_seen DESC LIMIT ?",
            (limit,),
        )
        return [
            {**dict(r), "severity": SEVERITIES[r["rank"] or 0], "title": r["title"] or r["story"]}
            for r in rows
        ]

    def dyads(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT actor, target, COUNT(DISTINCT article_id) AS articles, MAX(at) AS last "
            "FROM dyad_events GROUP BY actor, target ORDER BY last DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    def dyad_timeline(self, actor: str, target: str, bucket: str) -> list[dict[str, Any]]:
        """Articles per hour (``bucket="hour"``) or day with a signal from actor to target
        (names or codes): distinct articles, and per kind."""
        db = self._conn()
        actors, targets = self._names_for(db, actor), self._names_for(db, target)
        width = 13 if bucket == "hour" else 10  # ISO prefix: 2026-11-25T23 / 2026-11-25
        pair = (
            f"FROM dyad_events WHERE actor COLLATE NOCASE IN ({','.join('?' * len(actors))}) "
            f"AND target COLLATE NOCASE IN ({','.join('?' * len(targets))}) "
        )
        out: dict[str, dict[str, Any]] = {}
        for r in db.execute(
            f"SELECT substr(at, 1, {width}) AS b, COUNT(DISTINCT article_id) AS n {pair}"
            "GROUP BY b ORDER BY b",
            [*actors, *targets],
        ):
            label = r["b"] + (":00Z" if bucket == "hour" else "")
            out[r["b"]] = {"bucket": label, "articles": r["n"], "kinds": {}}
        for r in db.execute(
            f"SELECT substr(at, 1, {width}) AS b, kind, COUNT(DISTINCT article_id) AS n {pair}"
            "GROUP BY b, kind",
            [*actors, *targets],
        ):
            out[r["b"]]["kinds"][r["kind"]] = r["n"]
        return list(out.values())

    def silences(self) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT json FROM silences")
        return [orjson.loads(r[0]) for r in rows]

    def feedback(self, alert_id: str) -> Feedback | None:
        row = (
            self._conn()
            .execute("SELECT json FROM feedback WHERE alert_id = ?", (alert_id,))
            .fetchone()
        )
        return None if row is None else codec.decode(row[0], Feedback)

    def codes(self, names: Iterable[str]) -> dict[str, str]:
        db = self._conn()
        out = {}
        for n in names:
            row = db.execute("SELECT code FROM codes WHERE name = ?", (n,)).fetchone()
            if row is not None:
                out[n] = row[0]
        return out

    def counts(self) -> dict[str, int]:
        db = self._conn()
        return {t: int(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in COUNTED}
