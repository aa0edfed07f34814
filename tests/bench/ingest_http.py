"""Ingest's HTTP API under 200 concurrent clients: peak memory, latency, threads.

Run: ``.venv/bin/python -m tests.bench.ingest_http`` (Kafka must be up). Starts a fresh ingest
with its own topic prefix (deleted afterwards), then, to 127.0.0.1 only:

1. a burst: 200 concurrent POSTs of one corpus article each, as the very first traffic;
2. sustained: ``ROUNDS`` x 200 more POSTs, 200 at a time;
3. 200 idle connections held open, and the service's thread count read while they are.

Prints the status counts, p50/p99/max latency, the ingest process's resident memory before and
its peak (VmHWM from /proc), and its threads. Bounded: a fixed number of requests, each with a
60 s timeout. Nothing is asserted: timings are not tests.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from kafka import KafkaAdminClient

from shared.kafka_admin import ensure_topics
from shared.settings import Settings
from tests.conftest import CORPUS, ROOT, free_port, settings_env

CONCURRENCY = 200
ROUNDS = 5
TIMEOUT_S = 60.0


def _proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)


def _mb(value: str) -> float:
    return int(value.split(maxsplit=1)[0]) / 1024  # "123456 kB"


def _articles(n: int) -> list[bytes]:
    out = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in itertools.islice(fh, n):
            a = json.loads(line)
            out.append(json.dumps({"title": a.get("title"), "text": a["text"]}).encode())
    return out


async def _post_all(port: int, bodies: list[bytes]) -> tuple[Counter[int], list[float]]:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    url = f"http://127.0.0.1:{port}/articles"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(body: bytes) -> None:
            started = time.perf_counter()
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as resp:
                    await resp.read()
                    statuses[resp.status] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses[0] += 1  # no answer
            latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(one(b) for b in bodies))
    return statuses, latencies


def _report(name: str, statuses: Counter[int], latencies: list[float], wall: float) -> None:
    lat = sorted(latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    print(
        f"http {name}: {len(lat)} POSTs in {wall:.1f} s, statuses {dict(sorted(statuses.items()))}, "
        f"latency p50 {p(0.50):.0f} ms, p99 {p(0.99):.0f} ms, max {lat[-1] * 1000:.0f} ms"
    )


def _delete_topics(settings: Settings) -> None:
    admin = KafkaAdminClient(**settings.kafka_python())
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


def main() -> None:
    settings = Settings(
        bootstrap_servers=os.environ.get("BRINK_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
    )
    ensure_topics(settings)
    metrics_port, http_port = free_port(), free_port()
    bodies = _articles(CONCURRENCY * (ROUNDS + 1))
    with tempfile.TemporaryDirectory() as state:
        env = settings_env(
            settings,
            BRINK_METRICS_PORT=str(metrics_port),
            BRINK_HTTP_PORT=str(http_port),
            BRINK_HTTP_HOST="127.0.0.1",
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
            _wait_healthy(metrics_port, svc, log)
            before = _proc_status(svc.pid)
            started = time.perf_counter()
            statuses, lat = asyncio.run(_post_all(http_port, bodies[:CONCURRENCY]))
            _report(
                f"burst of {CONCURRENCY} (fresh ingest)",
                statuses,
                lat,
                time.perf_counter() - started,
            )
            after_burst = _proc_status(svc.pid)
            started = time.perf_counter()
            statuses, lat = asyncio.run(_post_all(http_port, bodies[CONCURRENCY:]))
            _report(
                f"sustained, {CONCURRENCY} at a time", statuses, lat, time.perf_counter() - started
            )
            end = _proc_status(svc.pid)
            idle_threads = _idle_connections(http_port, svc.pid)
            print(
                f"http memory: RSS {_mb(before['VmRSS']):.0f} MB before, "
                f"peak {_mb(after_burst['VmHWM']):.0f} MB after the burst, "
                f"peak {_mb(end['VmHWM']):.0f} MB at the end; "
                f"threads {before['Threads']} before, {end['Threads']} after load, "
                f"{idle_threads} with {CONCURRENCY} idle connections open"
            )
        finally:
            svc.terminate()
            svc.wait(30)
            _delete_topics(settings)


def _idle_connections(port: int, pid: int) -> str:
    socks: list[socket.socket] = []
    try:
        for _ in range(CONCURRENCY):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            socks.append(s)
        time.sleep(1.0)  # let the server accept them all before counting its threads
        return _proc_status(pid)["Threads"]
    finally:
        for s in socks:
            s.close()


def _wait_healthy(port: int, svc: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        if svc.poll() is not None:
            raise SystemExit(f"ingest exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("ingest did not become healthy in 90 s")
        time.sleep(0.3)


if __name__ == "__main__":
    main()
