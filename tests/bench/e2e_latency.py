"""End-to-end latency with the whole pipeline running: publish -> ingest -> enrichment -> alerting.

Needs the three services up (``make demo`` leaves them running; ``source .cache/demo/env`` gives
their topic prefix). Publishes real conflict stories from ../shared/corpus to ``articles.raw`` at
a steady rate, each under its own URL, and measures for every alert the time from publishing
the article that triggered it to the alert record's Kafka timestamp, plus the service-side
figure (article received at ingest -> alert produced).

    source .cache/demo/env && .venv/bin/python -m tests.bench.e2e_latency --rate 5 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from shared.codec import decode, dumps
from shared.schemas import Alert
from shared.settings import Settings

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "articles.jsonl"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5.0, help="articles per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to publish")
    parser.add_argument("--drain", type=float, default=15.0, help="seconds to wait for late alerts")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    stories = [
        a
        for a in map(json.loads, CORPUS.open(encoding="utf-8"))
        if a["subset"] == "reuters_geo_keyword"
    ]
    run = datetime.now(UTC).strftime("%H%M%S")
    sent_at: dict[str, float] = {}

    consumer = KafkaConsumer(
        settings.topics.alerts, auto_offset_reset="latest", **settings.kafka_python()
    )
    consumer.poll(timeout_ms=1000)  # join and position at the end before publishing
    latencies: list[float] = []
    service_side: list[float] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for r in records:
                    alert = decode(r.value, Alert)
                    last = max(alert.articles, key=lambda a: a.received_at)
                    if last.url in sent_at:
                        latencies.append(r.timestamp / 1000 - sent_at[last.url])
                        service_side.append(r.timestamp / 1000 - last.received_at.timestamp())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    producer = KafkaProducer(**settings.kafka_python(), linger_ms=0)
    n = int(args.rate * args.seconds)
    start = time.monotonic()
    for i in range(n):
        story = stories[i % len(stories)]
        url = f"https://bench.example/{run}/{i}"
        body = {"title": story["title"], "text": story["text"], "url": url, "source": "bench"}
        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
        sent_at[url] = time.time()
        producer.send(settings.topics.raw, value=dumps(body))
    producer.flush()
    time.sleep(args.drain)
    stop.set()
    reader.join()
    consumer.close()
    producer.close()

    print(f"published {n} articles at {args.rate}/s; alerts measured: {len(latencies)}")
    if not latencies:
        print("no alerts arrived: are the services running with this topic prefix?")
        return 1
    for name, values in (("publish->alert", latencies), ("ingest->alert", service_side)):
        print(
            f"{name:15s} p50 {quantile(values, 0.5) * 1000:7.0f} ms   "
            f"p99 {quantile(values, 0.99) * 1000:7.0f} ms   "
            f"mean {statistics.fmean(values) * 1000:7.0f} ms   max {max(values) * 1000:7.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
