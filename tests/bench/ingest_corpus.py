"""Ingest on the whole corpus: start the service, `brink publish` the corpus file, count outputs.

Run: ``.venv/bin/python -m tests.bench.ingest_corpus`` (Kafka must be up). Uses its own topic
prefix, so it never disturbs a running pipeline. Prints what was sent, what came out (first
copies, exact and near duplicates, dead letters: they add up to what was sent) and throughput.
Nothing is asserted: timings are not tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from shared import deadletter
from shared.codec import decode
from shared.kafka_admin import ensure_topics
from shared.schemas import Article
from shared.settings import Settings
from tests.conftest import CORPUS, ROOT, free_port, settings_env


def _drain(consumer: KafkaConsumer, seen: list[object], idle_s: float = 0.5) -> None:
    for batch in consumer.poll(timeout_ms=int(idle_s * 1000), max_records=5000).values():
        seen.extend(batch)


def _delete_topics(settings: Settings) -> None:
    """The benchmark's own topics (its prefix only) are removed afterwards."""
    admin = KafkaAdminClient(**settings.kafka_python())
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def main(corpus: Path = CORPUS) -> None:
    settings = Settings(
        bootstrap_servers=os.environ.get("BRINK_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
    )
    ensure_topics(settings)
    metrics_port = free_port()
    with tempfile.TemporaryDirectory() as state:
        env = settings_env(
            settings,
            BRINK_METRICS_PORT=str(metrics_port),
            BRINK_HTTP_PORT=str(free_port()),
            BRINK_STATE_DIR=state,
            BRINK_LOG_LEVEL="WARNING",
        )
        log = Path(state) / "ingest.log"
        with log.open("wb") as out:
            svc = subprocess.Popen(
                [sys.executable, "-m", "services.ingest"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{metrics_port}/healthz", timeout=2
                    ) as r:
                        if r.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline or svc.poll() is not None:
                        raise SystemExit(f"ingest did not start:\n{log.read_text()}") from None
                    time.sleep(0.3)
            cmd = [sys.executable, "-m", "services.cli.publish", "--quiet", str(corpus)]
            t0, wall0 = time.monotonic(), time.time()
            pub = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False
            )
            t_pub = time.monotonic() - t0
            if pub.returncode != 0:
                raise SystemExit(f"publish failed: {pub.stdout}{pub.stderr}")
            sent = int(pub.stdout.split("sent: ", 1)[1].split(",", 1)[0])

            consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka_python())
            parts = [
                TopicPartition(t, p)
                for t in (settings.topics.articles, settings.topics.deadletter)
                for p in range(settings.partitions)
            ]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            got: list[object] = []
            last_change, count = time.monotonic(), 0
            while len(got) < sent and time.monotonic() - last_change < 60:
                _drain(consumer, got)
                if len(got) != count:
                    count, last_change = len(got), time.monotonic()
            # record timestamps are set by ingest's producer: the last one is when it finished
            t_all = max(r.timestamp for r in got) / 1000.0 - wall0  # type: ignore[attr-defined]
            consumer.close()
        finally:
            svc.terminate()
            svc.wait(30)
            _delete_topics(settings)

    kinds: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for r in got:
        if r.topic == settings.topics.deadletter:  # type: ignore[attr-defined]
            reasons[deadletter.describe(r.headers).reason] += 1  # type: ignore[attr-defined]
        else:
            a = decode(r.value, Article)  # type: ignore[attr-defined]
            kinds[a.duplicate.kind.value if a.duplicate else "first"] += 1
    total = sum(kinds.values()) + sum(reasons.values())
    print("ingest corpus benchmark")
    print(f"  command: {' '.join(cmd[1:])}  (topic prefix {settings.topic_prefix})")
    print(f"  sent: {sent}")
    print(f"  articles (first copies): {kinds['first']}")
    print(f"  exact duplicates: {kinds['exact']}")
    print(f"  near duplicates: {kinds['near']}")
    print(f"  dead letters: {sum(reasons.values())} {dict(reasons)}")
    print(f"  out total: {total} ({'adds up' if total == sent else 'DOES NOT add up'})")
    print(f"  publish time: {t_pub:.2f} s ({sent / t_pub:.0f} records/s)")
    print(f"  publish start -> last output: {t_all:.2f} s")
    print(f"  ingest_throughput_articles_per_s: {sent / t_all:.0f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
