"""RSS/Atom polling: entries mapped to raw articles, and the service polling a local feed."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import feedparser
import pytest

from services.ingest.feeds import entries_to_raw
from shared.settings import Settings
from tests.conftest import metric_value, wait_for
from tests.ingest.test_service import articles

STORIES = ("reuters-3854", "reuters-9628")


def rss(corpus: dict[str, dict[str, Any]]) -> bytes:
    items = []
    for i, cid in enumerate(STORIES):
        a = corpus[cid]
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in a["text"].split("\n") if p.strip())
        items.append(
            f"<item><title>{html.escape(a['title'])}</title>"
            f"<link>https://wire.example/{cid}?utm_source=rss</link><guid>{cid}</guid>"
            f"<pubDate>Tue, 1{i} Mar 1987 09:43:48 +0000</pubDate>"
            f"<description>{html.escape(paragraphs)}</description></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Test Wire</title>'
        "<link>https://wire.example/</link><description>x</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def test_entries_map_to_raw_articles(corpus: dict[str, dict[str, Any]]) -> None:
    raws = entries_to_raw(feedparser.parse(rss(corpus)), "http://feed.example/rss")
    assert [r["meta"]["guid"] for r in raws] == list(STORIES)
    first = raws[0]
    assert first["title"] == corpus[STORIES[0]]["title"]
    assert first["source"] == "Test Wire"
    assert first["url"] == f"https://wire.example/{STORIES[0]}?utm_source=rss"
    assert first["published_at"] == "Tue, 10 Mar 1987 09:43:48 +0000"
    assert "<p>" in first["text"]  # HTML is ingest's to clean, like any other HTML body


@pytest.fixture
def feed_server(corpus: dict[str, dict[str, Any]]) -> Iterator[tuple[str, list[int]]]:
    body = rss(corpus)
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("If-None-Match") == '"v1"':
                statuses.append(304)
                self.send_response(304)
                self.end_headers()
                return
            statuses.append(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.xml", statuses
    server.shutdown()
    server.server_close()


@pytest.mark.kafka
def test_the_service_polls_a_feed_once_per_entry(
    settings: Settings, start_service: Any, feed_server: tuple[str, list[int]]
) -> None:
    url, statuses = feed_server
    svc = start_service(
        "ingest", settings, BRINK_INGEST_FEEDS=url, BRINK_INGEST_FEED_INTERVAL_SECONDS="0.5"
    )
    got = articles(settings, len(STORIES))
    assert {a.url for a in got} == {f"https://wire.example/{cid}" for cid in STORIES}
    assert all(a.source == "Test Wire" and "<p>" not in a.body for a in got)
    # Later polls are conditional GETs answered 304: nothing is published again.
    wait_for(lambda: statuses.count(304) >= 3, timeout=30, message="three more polls")
    assert statuses[0] == 200
    assert metric_value(svc.metrics(), "brink_ingest_received_total", via="kafka") == len(STORIES)
    assert metric_value(svc.metrics(), "brink_ingest_published_total") == len(STORIES)

    # A restarted service fetches the whole feed again (no ETag yet) but publishes nothing:
    # the entries' ids are in the dedup state it replayed.
    svc.stop()
    again = start_service(
        "ingest", settings, BRINK_INGEST_FEEDS=url, BRINK_INGEST_FEED_INTERVAL_SECONDS="0.5"
    )
    wait_for(lambda: statuses.count(200) >= 2, timeout=30, message="a full fetch after restart")
    after = statuses.count(304)
    wait_for(lambda: statuses.count(304) > after, timeout=30, message="the next poll")
    assert metric_value(again.metrics(), "brink_ingest_received_total", via="kafka") == 0
