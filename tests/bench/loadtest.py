"""`make loadtest`: the whole pipeline under fixed publishing rates, step by step, until it
cannot keep up; prints a table per step and ``ceiling_articles_per_s: N`` last.

Starts its own ingest, enrichment (default worker count: one per core) and alerting as
``python -m services.<name>`` on the Kafka at ``BRINK_BOOTSTRAP_SERVERS`` with a fresh topic
prefix, metrics ports from ``BRINK_LOAD_PORT_BASE`` (39520..39523), and alert rules copied from
services/alerting/rules.yaml with every ``repeat_interval`` set to 1 s (so a group alerts again
for each new article and publish -> alert is measured on many alerts, not only on a group's
first). Two mixes from ../shared/corpus/articles.jsonl, each article under a URL of its own:

- ``realistic``: every 4th corpus article (the corpus's blend of topics, most not conflict);
- ``conflict``: the reuters_geo_keyword subset (conflict stories: every article is analysed in
  full and many alert).

For each mix, each rate (articles/s) is published for a fixed time; then the run waits until
every article of the step is enriched and alerting has no lag (at most the drain time). Per
step it prints the achieved rate; p50/p95/p99 of publish -> alert (over the alerts whose newest
article is from the step) and publish -> enriched (over every article); p99 per stage from the
records' Kafka timestamps (ingest: raw sent -> article written; enrichment: article -> enriched
article; alerting: enriched article -> alert); the consumer lag of each stage when publishing
stopped; CPU seconds per article per service (process_cpu_seconds_total over the step and its
drain, every enrichment worker and the supervisor summed); peak RSS per service (the largest
VmHWM of its processes). A step that does not drain in time ends the mix: higher rates would only
start behind. The ceiling is the highest rate of the realistic mix whose publish -> alert p99 is
at most 1 s (publish -> enriched when fewer than 20 alerts were measured) and that drained.

Output folder ``.cache/loadtest/<UTC time>/``: ``table.md``, ``results.json``, ``p99.png`` (p99
against rate, both mixes), the services' logs. Settings (environment):

    BRINK_LOAD_RATES      "10,25,50,100,150,200"   articles/s, one step each
    BRINK_LOAD_SECONDS    30                        publishing time per step
    BRINK_LOAD_DRAIN      60                        seconds a step may take to drain
    BRINK_LOAD_MIXES      "realistic,conflict"
    BRINK_LOAD_PORT_BASE  39520
    BRINK_LOAD_OUT        .cache/loadtest/<UTC time>
    BRINK_ENRICHMENT_WORKERS (the service's default: one per core)

    make loadtest                                                    # ~15 min
    BRINK_LOAD_RATES=10,50 BRINK_LOAD_SECONDS=10 make loadtest       # quick look, ~2 min

Figures depend on the machine and on what else runs on it: compare ratios from one run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from shared.kafka_admin import ensure_topics
from shared.lag import measure_lag
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "articles.jsonl"
SERVICES = ("ingest", "enrichment", "alerting")
TARGET_P99 = 1.0
MIN_ALERTS = 20  # fewer alerts than this in a step: its alert percentiles say little


# --------------------------------------------------------------------------- figures
def quantile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank quantile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Step:
    mix: str
    rate: float
    seconds: float
    sent: int = 0
    achieved: float = 0.0
    drained: bool = False
    drain_s: float = 0.0
    enriched: int = 0
    alerts: int = 0
    pub_alert: dict[str, float | None] = field(default_factory=dict)
    pub_enriched: dict[str, float | None] = field(default_factory=dict)
    stage_p99: dict[str, float | None] = field(default_factory=dict)
    lag_at_end: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_article: dict[str, float | None] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    load: float = 0.0  # the machine's 1-minute load average when the step ended
    # what the services' histograms saw over the step: label -> {n, mean, p99_le}
    histograms: dict[str, dict[str, float]] = field(default_factory=dict)

    def p99(self) -> float | None:
        """The figure the ceiling is judged on (see the module docstring)."""
        if self.alerts >= MIN_ALERTS:
            return self.pub_alert.get("p99")
        return self.pub_enriched.get("p99")

    def within_target(self) -> bool:
        p99 = self.p99()
        return self.drained and p99 is not None and p99 <= TARGET_P99


def ceiling(steps: Iterable[Step], mix: str = "realistic") -> float:
    """Highest rate of ``mix`` that drained with p99 within the target (0 when none did)."""
    return max((s.rate for s in steps if s.mix == mix and s.within_target()), default=0.0)


# (service, histogram, labels, what it times) for the "where time goes" table
HISTOGRAMS: tuple[tuple[str, str, dict[str, str], str], ...] = (
    ("ingest", "brink_ingest_queue_wait_seconds", {}, "ingest wait"),
    ("ingest", "brink_ingest_batch_processing_seconds", {}, "ingest batch"),
    ("enrichment", "brink_enrichment_queue_wait_seconds", {}, "enrich wait"),
    ("enrichment", "brink_enrichment_processing_seconds", {}, "enrich batch"),
    ("alerting", "brink_alerting_queue_wait_seconds", {"agent": "route"}, "route wait"),
    ("alerting", "brink_alerting_processing_seconds", {"agent": "route"}, "route"),
    ("alerting", "brink_alerting_queue_wait_seconds", {"agent": "evaluate"}, "evaluate wait"),
    ("alerting", "brink_alerting_processing_seconds", {"agent": "evaluate"}, "evaluate"),
)


def buckets(text: str, name: str, labels: dict[str, str]) -> dict[float, float]:
    """Cumulative bucket counts of one histogram, summed over other labels (e.g. ``worker``),
    plus the sum under the key -1."""
    out: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in labels.items()):
                continue
            if sample.name == name + "_bucket":
                le = float(sample.labels["le"])
                out[le] = out.get(le, 0.0) + sample.value
            elif sample.name == name + "_sum":
                out[-1.0] = out.get(-1.0, 0.0) + sample.value
    return out


def histogram_figures(before: dict[float, float], after: dict[float, float]) -> dict[str, float]:
    """Mean and p99 (the upper bound of the bucket it falls in) of what was observed between
    two scrapes; empty when nothing was."""
    delta = {le: after.get(le, 0.0) - before.get(le, 0.0) for le in after}
    total = delta.get(float("inf"), 0.0)
    if total <= 0:
        return {}
    p99 = next(le for le in sorted(k for k in delta if k >= 0) if delta[le] >= 0.99 * total)
    return {"n": total, "mean": delta.get(-1.0, 0.0) / total, "p99_le": p99}


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def table(steps: Sequence[Step]) -> str:
    head = (
        "| mix | rate/s | achieved/s | articles | drained | alerts "
        "| pub→alert p50/p95/p99 ms | pub→enriched p50/p95/p99 ms "
        "| stage p99 ms ingest/enrich/alert | lag at end i/e/a "
        "| CPU ms/article i/e/a | peak RSS MB i/e/a | load |"
    )
    rows = [head, "|" + "---|" * 13]
    for s in steps:
        rows.append(
            f"| {s.mix} | {s.rate:g} | {s.achieved:.1f} | {s.sent} "
            f"| {'yes' if s.drained else f'no ({s.enriched} out)'} | {s.alerts} "
            f"| {'/'.join(ms(s.pub_alert.get(q)) for q in ('p50', 'p95', 'p99'))} "
            f"| {'/'.join(ms(s.pub_enriched.get(q)) for q in ('p50', 'p95', 'p99'))} "
            f"| {'/'.join(ms(s.stage_p99.get(n)) for n in SERVICES)} "
            f"| {'/'.join(str(s.lag_at_end.get(n, '-')) for n in SERVICES)} "
            f"| {'/'.join(_num(s.cpu_ms_per_article.get(n)) for n in SERVICES)} "
            f"| {'/'.join(f'{s.peak_rss_mb.get(n, 0):.0f}' for n in SERVICES)} | {s.load:.1f} |"
        )
    return "\n".join(rows)


def where_time_goes(steps: Sequence[Step]) -> str:
    """Mean (and p99 bucket bound) of each stage's queue wait and processing, in ms."""
    labels = [h[3] for h in HISTOGRAMS]
    rows = ["| mix | rate/s | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 2)]
    for s in steps:
        cells = []
        for label in labels:
            f = s.histograms.get(label) or {}
            if not f:
                cells.append("-")
                continue
            bound = f["p99_le"]
            p99 = ">30000" if bound == float("inf") else f"≤{bound * 1000:.0f}"
            cells.append(f"{f['mean'] * 1000:.0f} ({p99})")
        rows.append(f"| {s.mix} | {s.rate:g} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def plot(steps: Sequence[Step], path: Path) -> None:
    import matplotlib  # only the load test needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for mix, colour in (("realistic", "tab:blue"), ("conflict", "tab:red")):
        own = [s for s in steps if s.mix == mix]
        if not own:
            continue
        pts = [(s.rate, s.pub_alert.get("p99")) for s in own if s.alerts >= MIN_ALERTS]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", color=colour, label=f"{mix}: publish→alert")
        pts = [(s.rate, s.pub_enriched.get("p99")) for s in own]
        pts = [(r, v) for r, v in pts if v is not None]
        if pts:
            ax.plot(
                *zip(*pts, strict=True),
                "s--",
                color=colour,
                alpha=0.6,
                label=f"{mix}: publish→enriched",
            )
        for s in own:
            if not s.drained:
                ax.annotate("not drained", (s.rate, s.p99() or 0), fontsize=7, color=colour)
    ax.axhline(TARGET_P99, color="grey", linestyle=":", label="target p99 1 s")
    ax.set_yscale("log")
    ax.set_xlabel("publishing rate (articles/s)")
    ax.set_ylabel("p99 latency (s, log scale)")
    ax.set_title("Brink p99 latency vs rate (shared 2-core machine: noisy)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --------------------------------------------------------------------------- processes
class Service:
    def __init__(self, name: str, env: dict[str, str], out: Path) -> None:
        self.name = name
        self.port = int(env["BRINK_METRICS_PORT"])
        self.log = (out / f"{name}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())
        except OSError:
            return 0, b""

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see its log")
        return self.get("/healthz")[0] == 200

    def pids(self) -> list[int]:
        """The service's processes: enrichment's supervisor and its workers."""
        pids = [self.proc.pid]
        status, body = self.get("/healthz")
        if self.name == "enrichment" and status:
            workers = orjson.loads(body).get("workers") or {}
            pids += [int(w["pid"]) for w in workers.values() if w.get("pid")]
        return pids

    def cpu_seconds(self) -> float:
        status, body = self.get("/metrics")
        if status != 200:
            return float("nan")
        return sum(
            s.value
            for f in text_string_to_metric_families(body.decode())
            if f.name == "process_cpu_seconds"
            for s in f.samples
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def peak_rss_mb(pids: Iterable[int], seen: dict[int, float]) -> float:
    """Largest VmHWM (MB) of ``pids``, remembering each pid's last reading in ``seen``."""
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    seen[pid] = max(seen.get(pid, 0.0), int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(seen.values(), default=0.0)


# --------------------------------------------------------------------------- Kafka side
class Tracker:
    """Reads articles, articles.enriched and alerts from their beginning, keeping each record's
    Kafka timestamp by article (no full decoding of enriched articles: the key is the id)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.id_of_url: dict[str, str] = {}
        self.written: dict[str, float] = {}  # article id -> articles record time
        self.enriched: dict[str, float] = {}  # article id -> articles.enriched record time
        self.alerted: dict[str, float] = {}  # url of an alert's newest article -> alert time
        self._stop = threading.Event()
        topics = settings.topics
        self.threads = [
            threading.Thread(target=self._read, args=(t, h), daemon=True)
            for t, h in (
                (topics.articles, self._article),
                (topics.enriched, self._enriched),
                (topics.alerts, self._alert),
            )
        ]

    def start(self) -> Tracker:
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(10)

    def _read(self, topic: str, handle: Any) -> None:
        consumer = KafkaConsumer(client_id="brink-loadtest", **self.settings.kafka_python())
        try:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=200, max_records=2000).values():
                    with self.lock:
                        for r in records:
                            handle(r)
        finally:
            consumer.close()

    def _article(self, r: Any) -> None:
        value = orjson.loads(r.value)
        self.id_of_url.setdefault(value.get("url") or "", value["id"])
        self.written.setdefault(value["id"], r.timestamp / 1000)

    def _enriched(self, r: Any) -> None:
        self.enriched.setdefault(r.key.decode(), r.timestamp / 1000)

    def _alert(self, r: Any) -> None:
        articles = orjson.loads(r.value).get("articles") or []
        if articles:
            newest = max(articles, key=lambda a: a.get("received_at") or "")
            self.alerted.setdefault(newest.get("url") or "", r.timestamp / 1000)


def lag_of(settings: Settings) -> dict[str, int]:
    conf = settings.kafka_python()
    admin = KafkaAdminClient(client_id="brink-loadtest", **conf)
    consumer = KafkaConsumer(client_id="brink-loadtest", **conf)
    t = settings.topics
    try:
        groups = {
            "ingest": (t.raw,),
            "enrichment": (t.articles,),
            "alerting": (t.enriched,),
        }
        return {
            name: sum(
                measure_lag(admin, consumer, settings.topic_prefix + f"brink-{name}", ts).values()
            )
            for name, ts in groups.items()
        }
    finally:
        admin.close()
        consumer.close()


# --------------------------------------------------------------------------- the run
def env_list(name: str, default: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


def mixes() -> dict[str, list[dict[str, Any]]]:
    corpus = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    return {
        "realistic": corpus[::4],
        "conflict": [a for a in corpus if a.get("subset") == "reuters_geo_keyword"],
    }


class Run:
    def __init__(self, out: Path) -> None:
        self.out = out
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.tag = stamp
        self.settings = Settings.from_env(topic_prefix=f"load-{stamp}.")
        self.services: dict[str, Service] = {}
        self.rss_seen: dict[str, dict[int, float]] = {n: {} for n in SERVICES}
        self.producer = KafkaProducer(linger_ms=5, **self.settings.kafka_python())
        self.serial = 0

    def start(self) -> None:
        ensure_topics(self.settings)
        rules = yaml.safe_load((ROOT / "services" / "alerting" / "rules.yaml").read_text())
        for rule in rules["rules"]:
            rule["repeat_interval"] = "1s"
        (self.out / "rules.yaml").write_text(yaml.safe_dump(rules))
        base = int(os.environ.get("BRINK_LOAD_PORT_BASE", "39520"))
        env = dict(os.environ)
        env.update(
            BRINK_BOOTSTRAP_SERVERS=self.settings.bootstrap_servers,
            BRINK_TOPIC_PREFIX=self.settings.topic_prefix,
            BRINK_LOG_LEVEL="WARNING",
            BRINK_HTTP_PORT=str(base + 1),
            BRINK_RULES_PATH=str(self.out / "rules.yaml"),
        )
        ports = {"ingest": base, "enrichment": base + 2, "alerting": base + 3}
        for name in SERVICES:
            own = dict(env, BRINK_METRICS_PORT=str(ports[name]))
            own["BRINK_STATE_DIR"] = str(self.out / "state" / name)
            self.services[name] = Service(name, own, self.out)
        deadline = time.monotonic() + 240
        while not all(s.healthy() for s in self.services.values()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "services not healthy within 240 s; see the logs in " + str(self.out)
                )
            time.sleep(1)

    def stop(self) -> None:
        self.producer.close(10)
        for s in self.services.values():
            s.stop()

    def payloads(self, articles: list[dict[str, Any]], mix: str, n: int) -> list[tuple[str, bytes]]:
        out = []
        for i in range(n):
            a = articles[(self.serial + i) % len(articles)]
            url = f"https://load.brink.test/{self.tag}/{mix}/{self.serial + i}"
            body = {"title": a.get("title") or "", "text": a["text"], "url": url}
            out.append((url, orjson.dumps(body)))
        self.serial += n
        return out

    def publish(self, payloads: list[tuple[str, bytes]], rate: float) -> dict[str, float]:
        sent: dict[str, float] = {}
        topic = self.settings.topics.raw
        start = time.monotonic()
        for i, (url, value) in enumerate(payloads):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[url] = time.time()
            self.producer.send(topic, value=value)
        self.producer.flush()
        return sent

    def cpu(self) -> dict[str, float]:
        return {n: s.cpu_seconds() for n, s in self.services.items()}

    def scrape(self) -> dict[str, str]:
        return {n: s.get("/metrics")[1].decode() for n, s in self.services.items()}

    def step(
        self,
        tracker: Tracker,
        mix: str,
        articles: list[dict[str, Any]],
        rate: float,
        *,
        seconds: float,
        drain: float,
    ) -> Step:
        payloads = self.payloads(articles, mix, max(1, round(rate * seconds)))
        step = Step(mix, rate, seconds, sent=len(payloads))
        cpu_before = self.cpu()
        scraped_before = self.scrape()
        started = time.monotonic()
        sent = self.publish(payloads, rate)
        took = time.monotonic() - started
        step.achieved = len(payloads) / took if took > 0 else 0.0
        step.lag_at_end = lag_of(self.settings)

        def out() -> int:
            with tracker.lock:
                ids = [tracker.id_of_url.get(u) for u in sent]
                return sum(1 for i in ids if i is not None and i in tracker.enriched)

        deadline = time.monotonic() + drain
        while time.monotonic() < deadline:
            if out() == len(sent) and lag_of(self.settings)["alerting"] == 0:
                step.drained = True
                break
            time.sleep(0.5)
        time.sleep(1.0)  # the last alerts
        step.drain_s = time.monotonic() - started - took
        cpu_after = self.cpu()
        scraped_after = self.scrape()
        step.load = os.getloadavg()[0]
        for service, name, labels, label in HISTOGRAMS:
            step.histograms[label] = histogram_figures(
                buckets(scraped_before[service], name, labels),
                buckets(scraped_after[service], name, labels),
            )
        for name, s in self.services.items():
            step.peak_rss_mb[name] = peak_rss_mb(s.pids(), self.rss_seen[name])
            spent = cpu_after[name] - cpu_before[name]
            step.cpu_ms_per_article[name] = spent * 1000 / len(sent) if step.drained else None
        with tracker.lock:
            pub_alert, pub_enr, st_i, st_e, st_a = [], [], [], [], []
            for url, t0 in sent.items():
                aid = tracker.id_of_url.get(url)
                written = tracker.written.get(aid) if aid else None
                enriched = tracker.enriched.get(aid) if aid else None
                if written is not None:
                    st_i.append(written - t0)
                if enriched is not None:
                    pub_enr.append(enriched - t0)
                    if written is not None:
                        st_e.append(enriched - written)
                alerted = tracker.alerted.get(url)
                if alerted is not None:
                    pub_alert.append(alerted - t0)
                    if enriched is not None:
                        st_a.append(alerted - enriched)
        step.enriched = len(pub_enr)
        step.alerts = len(pub_alert)
        # articles that never came out count as slower than any that did
        missing = [float("inf")] * (len(sent) - len(pub_enr))
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            step.pub_alert[name] = quantile(pub_alert, q)
            step.pub_enriched[name] = quantile(pub_enr + missing, q)
        for name, values in (("ingest", st_i), ("enrichment", st_e), ("alerting", st_a)):
            step.stage_p99[name] = quantile(values, 0.99)
        return step


def main() -> int:
    rates = [float(r) for r in env_list("BRINK_LOAD_RATES", "10,25,50,100,150,200")]
    seconds = float(os.environ.get("BRINK_LOAD_SECONDS", "30"))
    drain = float(os.environ.get("BRINK_LOAD_DRAIN", "60"))
    wanted = env_list("BRINK_LOAD_MIXES", "realistic,conflict")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(os.environ.get("BRINK_LOAD_OUT") or ROOT / ".cache" / "loadtest" / stamp)
    out.mkdir(parents=True, exist_ok=True)
    print(f"load test: rates {rates} articles/s, {seconds:g} s each, mixes {wanted}; output {out}")
    print("(figures depend on the machine and what else runs on it, see the load column;")
    print(" compare within one run)")
    all_mixes = mixes()
    run = Run(out)
    steps: list[Step] = []
    try:
        t0 = time.monotonic()
        run.start()
        print(f"services healthy in {time.monotonic() - t0:.0f} s", flush=True)
        tracker = Tracker(run.settings).start()
        # warm-up: first batches pay for lazy loading; not measured
        run.step(tracker, "warmup", all_mixes["conflict"], 5, seconds=4, drain=drain)
        for mix in wanted:
            for rate in rates:
                step = run.step(tracker, mix, all_mixes[mix], rate, seconds=seconds, drain=drain)
                steps.append(step)
                print(table([step]).splitlines()[-1], flush=True)
                if not step.drained:
                    print(
                        f"  {mix}: not drained {drain:g} s after {rate:g}/s; higher rates skipped"
                    )
                    break
        tracker.stop()
    finally:
        run.stop()
    text = table(steps)
    split = where_time_goes(steps)
    (out / "table.md").write_text(
        text + "\n\nWhere time goes: mean ms (p99 bucket bound)\n\n" + split + "\n"
    )
    (out / "results.json").write_text(json.dumps([asdict(s) for s in steps], indent=1, default=str))
    plot(steps, out / "p99.png")
    print()
    print(text)
    print()
    print("where time goes, from the services' histograms: mean ms (p99 bucket bound, ms)")
    print(split)
    print(f"plot: {out / 'p99.png'}")
    print(f"ceiling_articles_per_s: {ceiling(steps):g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
