"""`python -m tests.alerting.bench [N]`: the alerting service's throughput and latency, printed.

Starts `python -m services.alerting` (default rules) on a fresh topic prefix on the local
broker, produces N enriched articles about N distinct actor/target pairs (each raises one
per-article alert), waits until every article is routed and every alert counted, then sends one
article to an idle service. Figures come from the service's own /metrics.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from shared.kafka_admin import ensure_topics
from shared.settings import Settings
from tests.alerting.factories import enriched, signal
from tests.alerting.kafka_helpers import produce
from tests.conftest import ServiceProcess, free_port, settings_env


def main(n: int = 2000) -> None:
    settings = Settings(topic_prefix=f"bench{uuid.uuid4().hex[:8]}.")
    ensure_topics(settings)
    with TemporaryDirectory() as tmp:
        env = settings_env(
            settings, BRINK_METRICS_PORT=str(free_port()), BRINK_STATE_DIR=str(Path(tmp) / "s")
        )
        svc = ServiceProcess("alerting", env, Path(tmp) / "alerting.log").wait_healthy(60)
        try:

            def metric(name: str) -> float:
                for line in svc.metrics().splitlines():
                    if line.startswith(name + " "):
                        return float(line.split()[1])
                return 0.0

            def wait(name: str, value: float) -> None:
                while metric(name) < value:
                    time.sleep(0.05)

            names = [f"C{i}" for i in range(50)]
            now = datetime.now(UTC)
            articles = [
                enriched(
                    f"b{i}",
                    [signal(actor=names[i % 50], target=names[(i // 50) % 50 - 1])],
                    at=now,
                    received_delay=timedelta(0),
                )
                for i in range(n)
            ]
            start = time.monotonic()
            produce(settings, articles)
            wait("brink_alerting_articles_total", n)
            wait("brink_alerting_end_to_end_latency_seconds_count", n)
            took = time.monotonic() - start
            total = metric("brink_alerting_end_to_end_latency_seconds_sum")
            print(
                f"alerting: {n} articles -> {n} alerts in {took:.1f}s ({n / took:.0f} articles/s)"
            )
            print(f"alerting: mean end-to-end latency under that burst {total / n:.3f}s")
            single = enriched(
                "idle",
                [signal(actor="X1", target="X2")],
                at=datetime.now(UTC),
                received_delay=timedelta(0),
            )
            produce(settings, [single])
            wait("brink_alerting_end_to_end_latency_seconds_count", n + 1)
            idle = metric("brink_alerting_end_to_end_latency_seconds_sum") - total
            print(f"alerting: idle single-article end-to-end latency {idle:.3f}s")
        finally:
            svc.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
