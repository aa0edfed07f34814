"""Ingest CPU per article: the whole service, and the share of each part (issue 12, item 2).

1. **Service**: starts ``python -m services.ingest`` (own topic prefix, metrics port
   ``BRINK_BENCH_PORT``, default 39530), waits until healthy, publishes N articles of the
   realistic mix (every 4th corpus article, each under its own URL) to ``articles.raw``, waits
   until ingest has published them all, and divides the growth of its
   ``process_cpu_seconds_total`` (every thread: consumer, producer, state tail, HTTP server) by N.
2. **Parts**, in this process on the same articles, CPU time per article of: parse + clean +
   validate (``normalise.process`` without language detection), language detection, shingles +
   MinHash + LSH (``Deduplicator.check``), encoding. What the service spends beyond their sum is
   the Kafka clients (kafka-python: fetch, decompress, produce, acks, commits, the dedup state
   topic) and the loop around them.

    .venv/bin/python -m tests.bench.ingest_cpu            # N=1000 (BRINK_BENCH_ARTICLES)

The machine is shared: run it two or three times and compare within one run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from services.ingest import normalise
from services.ingest.dedup import Deduplicator
from shared import codec, language
from shared.kafka_admin import ensure_topics
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "articles.jsonl"


def sample(metrics: str, name: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(metrics)
        for s in f.samples
        if s.name == name
    )


def raw_values(n: int, tag: str) -> list[bytes]:
    corpus = [json.loads(line) for line in CORPUS.open(encoding="utf-8")][::4]
    out = []
    for i in range(n):
        a = corpus[i % len(corpus)]
        body = {
            "title": a.get("title") or "",
            "text": a["text"],
            "url": f"https://cpu.test/{tag}/{i}",
        }
        out.append(orjson.dumps(body))
    return out


def service_ms_per_article(values: list[bytes]) -> float:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    settings = Settings.from_env(topic_prefix=f"bench-cpu-{stamp}.")
    ensure_topics(settings)
    port = int(os.environ.get("BRINK_BENCH_PORT", "39530"))
    env = dict(os.environ)
    env.update(
        BRINK_TOPIC_PREFIX=settings.topic_prefix,
        BRINK_METRICS_PORT=str(port),
        BRINK_HTTP_PORT=str(port + 1),
        BRINK_STATE_DIR=str(ROOT / ".cache" / "bench-cpu" / stamp),
        BRINK_LOG_LEVEL="WARNING",
    )
    proc = subprocess.Popen([sys.executable, "-m", "services.ingest"], cwd=ROOT, env=env)

    def get(path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return str(r.read().decode())

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get("/healthz")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("ingest did not become healthy") from None
                time.sleep(0.5)
        time.sleep(2)  # let start-up work settle
        cpu0 = sample(get("/metrics"), "process_cpu_seconds_total")
        producer = KafkaProducer(linger_ms=5, **settings.kafka_python())
        for v in values:
            producer.send(settings.topics.raw, value=v)
        producer.flush()
        producer.close()
        while sample(get("/metrics"), "brink_ingest_published_total") < len(values):
            if time.monotonic() > deadline + 600:
                raise RuntimeError("ingest did not publish every article")
            time.sleep(0.2)
        cpu1 = sample(get("/metrics"), "process_cpu_seconds_total")
        return (cpu1 - cpu0) * 1000 / len(values)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def cpu_ms(fn: Any, n: int) -> tuple[float, Any]:
    started = time.process_time()
    result = fn()
    return (time.process_time() - started) * 1000 / n, result


def parts_ms_per_article(values: list[bytes]) -> dict[str, float]:
    n = len(values)
    language.detect_language("load the language model before timing anything")
    now = datetime.now(UTC)
    parse, raws = cpu_ms(lambda: [normalise.parse_raw(v, max_bytes=1_000_000) for v in values], n)
    texts = [f"{r.title or ''}\n{r.text or r.body or ''}" for r in raws]
    lang, _ = cpu_ms(lambda: [language.detect_language(t) for t in texts], n)
    whole, articles = cpu_ms(
        lambda: [normalise.process(v, now, max_bytes=1_000_000) for v in values], n
    )
    dedup = Deduplicator()
    mh, _ = cpu_ms(
        lambda: [
            dedup.check(a.id, a.content_hash, a.body, a.received_at.timestamp(), origin=f"0:{i}")
            for i, a in enumerate(articles)
        ],
        n,
    )
    enc, _ = cpu_ms(lambda: [codec.encode(a) for a in articles], n)
    return {
        "parse + clean + validate": whole - lang,
        "  of which JSON parse + RawArticle": parse,
        "language detection": lang,
        "dedup (shingles, MinHash, LSH)": mh,
        "encode Article": enc,
    }


def main() -> None:
    n = int(os.environ.get("BRINK_BENCH_ARTICLES", "1000"))
    values = raw_values(n, datetime.now(UTC).strftime("%H%M%S%f"))
    print(f"ingest CPU per article, {n} articles of the realistic mix (shared machine: noisy)")
    parts = parts_ms_per_article(values)
    total = service_ms_per_article(values)
    domain = sum(v for k, v in parts.items() if not k.startswith(" "))
    for name, value in parts.items():
        print(f"  {name:38s} {value:6.2f} ms")
    print(f"  {'Kafka clients and the loop (rest)':38s} {total - domain:6.2f} ms")
    print(f"ingest_cpu_ms_per_article: {total:.2f}")


if __name__ == "__main__":
    main()
