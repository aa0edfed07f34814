"""RSS/Atom polling: feed entries become raw records on ``articles.raw`` (the one ingest path).

`entries_to_raw` (pure) maps a feedparser result to `RawArticle`-shaped dicts; `FeedPoller` is a
daemon thread that fetches each feed every ``interval`` seconds (conditional GET with ETag /
Last-Modified, a timeout on every request) and submits entries it has not sent before. An entry
whose canonical-URL id the deduplicator already knows is skipped, so a restart (which replays
the dedup state) does not publish a feed's entries again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import feedparser
import orjson

from services.ingest.normalise import article_id, canonical_url

log = logging.getLogger(__name__)

Submit = Callable[[Sequence[tuple[bytes | None, bytes]]], None]
Known = Callable[[str], bool]
MAX_SENT = 100_000
USER_AGENT = "brink-ingest/0.1 (+https://github.com/brink)"


def entries_to_raw(parsed: Any, feed_url: str) -> list[dict[str, Any]]:
    """Feed entries with a body as raw-article dicts (title, text, url, source, published_at, meta)."""
    feed_title = (parsed.get("feed") or {}).get("title")
    out: list[dict[str, Any]] = []
    for entry in parsed.get("entries") or []:
        contents = entry.get("content") or []
        text = next((c.get("value") for c in contents if c.get("value")), None)
        text = text or entry.get("summary") or entry.get("description")
        if not text:
            continue
        raw: dict[str, Any] = {"text": text, "title": entry.get("title")}
        if entry.get("link"):
            raw["url"] = entry["link"]
        if feed_title:
            raw["source"] = feed_title
        published = entry.get("published") or entry.get("updated")
        if published:
            raw["published_at"] = published
        meta = {"feed": feed_url}
        if entry.get("id"):
            meta["guid"] = entry["id"]
        raw["meta"] = meta
        out.append({k: v for k, v in raw.items() if v is not None})
    return out


def entry_key(raw: dict[str, Any]) -> str:
    """What identifies an entry between polls: its canonical URL's article id, else its guid/text."""
    url = canonical_url(raw.get("url"))
    if url:
        return article_id(url, "")
    guid = (raw.get("meta") or {}).get("guid")
    return str(guid) if guid else hashlib.sha256(str(raw["text"]).encode()).hexdigest()[:16]


class FeedPoller:
    """Polls feeds in a daemon thread and submits new entries as raw records."""

    def __init__(
        self,
        urls: Sequence[str],
        interval: float,
        submit: Submit,
        *,
        known: Known = lambda _id: False,
        timeout: float = 20.0,
        ready: threading.Event | None = None,
    ) -> None:
        self._ready = ready
        self._urls = list(urls)
        self._interval = interval
        self._submit = submit
        self._known = known
        self._timeout = timeout
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._sent: dict[str, None] = {}  # ordered: the oldest are dropped past MAX_SENT
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeds", daemon=True)

    def start(self) -> FeedPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while self._ready is not None and not self._ready.wait(0.5):
            if self._stop.is_set():
                return
        while not self._stop.is_set():
            for url in self._urls:
                try:
                    self.poll(url)
                except Exception as exc:  # one bad feed must not stop the others
                    log.warning("feed %s not polled: %s", url, exc)
            self._stop.wait(self._interval)

    def fetch(self, url: str) -> bytes | None:
        """The feed's bytes, or None when unchanged since the last fetch (HTTP 304)."""
        etag, modified = self._validators.get(url, (None, None))
        req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        if etag:
            req.add_header("If-None-Match", etag)
        if modified:
            req.add_header("If-Modified-Since", modified)
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                body: bytes = resp.read()
                self._validators[url] = (
                    resp.headers.get("ETag"),
                    resp.headers.get("Last-Modified"),
                )
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return None
            raise

    def poll(self, url: str) -> int:
        """Fetch one feed and submit its new entries; how many were submitted."""
        data = self.fetch(url)
        if data is None:
            return 0
        parsed = feedparser.parse(data)
        if parsed.get("bozo") and not parsed.get("entries"):
            log.warning("feed %s is not RSS/Atom: %s", url, parsed.get("bozo_exception"))
            return 0
        new: list[tuple[str, dict[str, Any]]] = []
        for raw in entries_to_raw(parsed, url):
            key = entry_key(raw)
            if key in self._sent or self._known(key):
                continue
            new.append((key, raw))
        if new:
            self._submit([(None, orjson.dumps(raw)) for _, raw in new])
            self._sent.update((key, None) for key, _ in new)
            while len(self._sent) > MAX_SENT:
                del self._sent[next(iter(self._sent))]
            log.info("feed %s: %d new entries", url, len(new))
        return len(new)
