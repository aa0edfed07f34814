"""Several enrichment worker processes behind one metrics port (``BRINK_ENRICHMENT_WORKERS``).

spaCy holds the GIL, so one process uses one core. The supervisor (the process started as
``python -m services.enrichment``) starts N workers, each a ``python -m services.enrichment``
of its own in worker mode, all in the service's one consumer group, so Kafka shares the
partitions of ``articles`` among them. It imports neither spaCy nor Faust.

- **One endpoint.** The supervisor serves ``/metrics`` and ``/healthz`` on the service's port.
  Each worker serves its own on a loopback port it picks (port 0) and writes to a file the
  supervisor gave it. ``/metrics`` is the supervisor's own registry (workers, restarts, its
  CPU and memory, consumer lag, measured once for the group) plus every worker's metrics with a
  ``worker`` label (``"0"`` .. ``"N-1"``; the supervisor's own ``process_*`` series have
  ``worker="supervisor"``): ``sum by (...)`` over them gives the service's figures.
  ``/healthz`` is 200 only when every worker runs and answers 200; the details give each
  worker's pid, restarts and its own answer.
- **Stopped together.** SIGTERM or SIGINT to the supervisor sends SIGTERM to every worker, waits
  up to `STOP_SECONDS` for them (each leaves the group and stops without committing a batch it
  has not finished), kills the rest, and exits 0. Workers run in their own session (a terminal's
  Ctrl-C reaches only the supervisor) and die with it (``PR_SET_PDEATHSIG``: a supervisor killed
  with -9 takes its workers along, so a restarted one never meets live members with its ids).
- **A worker that dies is restarted**, as systemd restarts a service: a Faust worker stops
  itself rather than commit a batch it could not finish, and what it had not committed is read
  again by its successor. Each worker keeps a stable static-membership id
  (``<instance id>-w<i>``), so the new process takes its partitions back at once. A worker that
  exits `MAX_FAILED_STARTS` times in a row before ever being healthy (a configuration problem:
  no model, bad settings) makes the supervisor stop everything and exit 1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaConsumer
from prometheus_client import CollectorRegistry, Counter, Gauge, Metric, ProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from shared.lag import LagMonitor
from shared.metrics import MetricsServer
from shared.settings import Settings

log = logging.getLogger(__name__)

WORKERS_ENV = "BRINK_ENRICHMENT_WORKERS"
# set by the supervisor on the workers it starts
WORKER_INDEX_ENV = "BRINK_ENRICHMENT_WORKER_INDEX"
PORT_FILE_ENV = "BRINK_ENRICHMENT_PORT_FILE"
PARENT_ENV = "BRINK_ENRICHMENT_PARENT_PID"

STOP_SECONDS = 8.0  # SIGTERM -> every worker gone, well within a 10 s stop budget
MAX_FAILED_STARTS = 5
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
SCRAPE_TIMEOUT = 2.0
# measured once by the supervisor for the whole group: a worker's copy would count it N times
SUPERVISOR_ONLY = frozenset({"brink_enrichment_consumer_lag"})


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def requested_workers(env: Mapping[str, str] | None = None) -> int:
    """``BRINK_ENRICHMENT_WORKERS``, or the number of cores; 0 or less is refused."""
    env = os.environ if env is None else env
    raw = env.get(WORKERS_ENV, "").strip()
    if not raw:
        return default_workers()
    try:
        n = int(raw)
    except ValueError as exc:
        raise SystemExit(f"{WORKERS_ENV} must be a whole number, got {raw!r}") from exc
    if n < 1:
        raise SystemExit(f"{WORKERS_ENV} must be at least 1, got {n}")
    return n


def instance_id(app_id: str, env: Mapping[str, str] | None = None) -> str:
    """The replica's static-membership id, as `shared.faust_app.group_instance_id` makes it
    (that module imports Faust, which the supervisor does not need); workers add ``-w<i>``."""
    env = os.environ if env is None else env
    explicit = env.get("BRINK_INSTANCE_ID", "").strip()
    if explicit:
        return explicit
    port = env.get("BRINK_METRICS_PORT", "").strip() or "default"
    return f"{socket.gethostname()}-{app_id}-{port}"


def topic_partitions(settings: Settings, topic: str) -> int:
    """Partitions of ``topic`` by the broker's metadata (0 when it cannot say)."""
    consumer = KafkaConsumer(client_id="brink-enrichment-supervisor", **settings.kafka_python())
    try:
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def die_with_parent() -> None:
    """In a worker: be killed when the supervisor dies, however it dies (Linux only)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != int(parent):  # the supervisor died before prctl took effect
        os._exit(1)


@dataclass
class Worker:
    index: int
    port_file: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    failed_starts: int = 0  # exits in a row without having been healthy
    healthy_once: bool = False
    next_start: float = 0.0
    backoff: float = RESTART_FIRST_SECONDS
    last_exit: int | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of the worker's own server; (0, b"") when it does not answer."""
        port = self.port()
        if port is None or not self.alive():
            return 0, b""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}{path}", timeout=SCRAPE_TIMEOUT
            ) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
        except OSError:
            return 0, b""


class WorkersCollector(Collector):
    """Every worker's /metrics, each sample labelled with its ``worker`` index."""

    def __init__(self, workers: list[Worker]) -> None:
        self._workers = workers
        # the supervisor's own CPU and memory, in the same families as the workers' (two
        # collectors of one name would print it twice, which is not valid exposition)
        self._own = ProcessCollector(registry=None)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for family in self._own.collect():
            merged = families[family.name] = Metric(
                family.name, family.documentation, family.type, family.unit
            )
            for s in family.samples:
                merged.add_sample(s.name, {**s.labels, "worker": "supervisor"}, s.value)
        for w in self._workers:
            status, body = w.get("/metrics")
            if status != 200:
                continue
            for family in text_string_to_metric_families(body.decode()):
                if family.name in SUPERVISOR_ONLY:
                    continue
                if family.name not in families:
                    families[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                into = families[family.name]
                for s in family.samples:
                    into.add_sample(s.name, {**s.labels, "worker": str(w.index)}, s.value)
        yield from families.values()

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (the registry must not scrape at register)


class Supervisor:
    """Starts, watches, restarts and stops the worker processes; serves their one endpoint."""

    def __init__(self, settings: Settings, workers: int, instance_id: str, port: int) -> None:
        self.settings = settings
        self.instance_id = instance_id
        self._dir = Path(tempfile.mkdtemp(prefix="brink-enrichment-"))
        # what each worker runs (tests replace it with a stand-in)
        self.command = [sys.executable, "-m", "services.enrichment"]
        self.workers = [Worker(i, self._dir / f"worker-{i}.port") for i in range(workers)]
        self._stopping = threading.Event()
        self.registry = CollectorRegistry()
        self.workers_gauge = Gauge(
            "brink_enrichment_workers",
            "Worker processes the enrichment supervisor runs (BRINK_ENRICHMENT_WORKERS).",
            registry=self.registry,
        )
        self.workers_gauge.set(workers)
        self.restarts = Counter(
            "brink_enrichment_worker_restarts_total",
            "Enrichment worker processes that exited and were started again.",
            registry=self.registry,
        )
        self.lag = Gauge(
            "brink_enrichment_consumer_lag",
            "Records not yet processed, per partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.registry.register(WorkersCollector(self.workers))
        self.server = MetricsServer(
            settings.metrics_host, port, registry=self.registry, health=self.health
        )

    # ------------------------------------------------------------------ workers
    def _env(self, w: Worker) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                WORKERS_ENV: "1",
                WORKER_INDEX_ENV: str(w.index),
                PORT_FILE_ENV: str(w.port_file),
                PARENT_ENV: str(os.getpid()),
                "BRINK_INSTANCE_ID": f"{self.instance_id}-w{w.index}",
                "BRINK_METRICS_HOST": "127.0.0.1",
                "BRINK_METRICS_PORT": "0",
                "BRINK_STATE_DIR": str(Path(self.settings.state_dir) / f"worker-{w.index}"),
            }
        )
        return env

    def _start(self, w: Worker) -> None:
        with contextlib.suppress(FileNotFoundError):
            w.port_file.unlink()
        w.proc = subprocess.Popen(
            self.command,
            env=self._env(w),
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them in order
        )
        w.started_at = time.monotonic()
        w.healthy_once = False
        log.info("enrichment worker %d started (pid %d)", w.index, w.proc.pid)

    def watch(self) -> int | None:
        """One round: restart workers that exited. An exit code for the supervisor when a
        worker cannot start at all, else None."""
        now = time.monotonic()
        for w in self.workers:
            if w.alive():
                if not w.healthy_once and w.get("/healthz")[0] == 200:
                    w.healthy_once, w.failed_starts, w.backoff = True, 0, RESTART_FIRST_SECONDS
                continue
            if w.proc is not None:  # it exited: note when to start it again
                w.last_exit = w.proc.returncode
                w.proc = None
                w.failed_starts += 0 if w.healthy_once else 1
                log.error(
                    "enrichment worker %d exited with %s%s; starting it again in %.0f s",
                    w.index,
                    w.last_exit,
                    "" if w.healthy_once else " before it was healthy",
                    w.backoff,
                )
                if w.failed_starts >= MAX_FAILED_STARTS:
                    log.critical(
                        "enrichment worker %d exited %d times in a row before it was healthy;"
                        " stopping",
                        w.index,
                        w.failed_starts,
                    )
                    return 1
                w.next_start = now + w.backoff
                w.backoff = min(w.backoff * 2, RESTART_MAX_SECONDS)
            if now >= w.next_start:
                self.restarts.inc()
                w.restarts += 1
                self._start(w)
        return None

    def health(self) -> tuple[bool, dict[str, object]]:
        ok = True
        details: dict[str, dict[str, object]] = {}
        reasons = []
        for w in self.workers:
            d: dict[str, object] = {"pid": w.pid, "restarts": w.restarts}
            status, body = w.get("/healthz")
            if status:
                with contextlib.suppress(orjson.JSONDecodeError):
                    d["health"] = orjson.loads(body)
            if status != 200:
                ok = False
                why = "not running" if not w.alive() else "not healthy"
                if status == 0 and w.alive():
                    why = "starting: not answering yet"
                reasons.append(f"worker {w.index} {why}")
            details[str(w.index)] = d
        out: dict[str, object] = {"workers": details}
        if reasons:
            out["reason"] = "; ".join(reasons)
        return ok, out

    # ------------------------------------------------------------------ run
    def stop(self, *_: object) -> None:
        self._stopping.set()

    def run(self, group_id: str) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.server.start()
        lag = LagMonitor(self.settings, group_id, [self.settings.topics.articles], self.lag)
        lag.start()
        code = 0
        try:
            self.start_workers()
            while not self._stopping.wait(0.5):
                failed = self.watch()
                if failed is not None:
                    code = failed
                    break
        finally:
            self.stop_workers()
            lag.stop()
            self.server.stop()
            shutil.rmtree(self._dir, ignore_errors=True)
        log.info("enrichment supervisor stopped (exit %d)", code)
        return code

    def start_workers(self) -> None:
        for w in self.workers:
            self._start(w)

    def stop_workers(self) -> None:
        """SIGTERM to every worker; those still running after `STOP_SECONDS` are killed."""
        live = [w for w in self.workers if w.alive()]
        for w in live:
            assert w.proc is not None
            with contextlib.suppress(ProcessLookupError):
                w.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for w in live:
            assert w.proc is not None
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("enrichment worker %d did not stop in time; killing it", w.index)
                w.proc.kill()
                w.proc.wait()
