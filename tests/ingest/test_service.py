"""The ingest service as a real process against the real broker."""

from __future__ import annotations

import http.client
import subprocess
import sys
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from shared import deadletter
from shared.codec import decode
from shared.schemas import Article, DuplicateKind
from shared.settings import Settings
from tests.conftest import ROOT, SEEDS, metric_value, settings_env, wait_for

pytestmark = pytest.mark.kafka


class Reader:
    """Reads every record of one topic from the beginning (no consumer group)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer = KafkaConsumer(enable_auto_commit=False, **settings.kafka_python())
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.records: list[Any] = []

    def until(self, n: int, timeout: float = 45) -> list[Any]:
        def enough() -> bool:
            for batch in self.consumer.poll(timeout_ms=300).values():
                self.records.extend(batch)
            return len(self.records) >= n

        wait_for(enough, timeout=timeout, message=f"{n} records")
        return self.records

    def close(self) -> None:
        self.consumer.close()


def produce(
    settings: Settings, values: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = KafkaProducer(**settings.kafka_python())
    for key, value, headers in values:
        producer.send(settings.topics.raw, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()


def articles(settings: Settings, n: int) -> list[Article]:
    reader = Reader(settings, settings.topics.articles)
    try:
        return [decode(r.value, Article) for r in reader.until(n)]
    finally:
        reader.close()


BAD = {
    "malformed_json": b'{"title": "cut off", "text": "Troops were',
    "invalid_fields": b'{"title": "wrong type", "text": 42}',
    "empty_body": b'{"title": " -- ", "text": "   "}',
    "too_large": orjson.dumps({"title": "big", "text": "troops " * 400}),
    "invalid_utf8": b"Troops massed at the border \xff\xfe\xfa and then",
    "binary": b"\x00\x01\x02\x03\x04\x05\x06\x07\x08 PK",
    "unknown_fields": b'{"titel": "typo", "text": "Some body text about troops."}',
    "not_an_object": b'[{"text": "an array"}]',
    "empty": b"",
}


def test_bad_input_is_dead_lettered_unchanged_and_good_input_flows(
    settings: Settings, start_service: Any, corpus: dict[str, dict[str, Any]]
) -> None:
    svc = start_service("ingest", settings, BRINK_MAX_BODY_BYTES="2000")
    missing = {"invalid_fields_missing": b'{"title": "no text field"}'}
    bad = {**BAD, **missing}
    produce(
        settings,
        [(f"k-{name}".encode(), value, [("origin", name.encode())]) for name, value in bad.items()],
    )
    src = corpus["reuters-3854"]
    good = orjson.dumps({"title": src["title"], "text": src["text"], "source": "Reuters"})
    produce(settings, [(None, good, [])])

    dlq = Reader(settings, settings.topics.deadletter)
    try:
        got = dlq.until(len(bad))
    finally:
        dlq.close()
    by_key = {r.key.decode(): r for r in got}
    assert set(by_key) == {f"k-{name}" for name in bad}
    for name, value in bad.items():
        record = by_key[f"k-{name}"]
        info = deadletter.describe(record.headers)
        assert info.reason == name.removesuffix("_missing"), name
        assert (info.stage, info.topic) == ("ingest", settings.topics.raw)
        assert (record.value or b"") == value  # the original bytes, unchanged
        assert ("origin", name.encode()) in record.headers  # original headers kept

    (article,) = articles(settings, 1)
    assert article.title == src["title"] and article.source == "Reuters"
    assert article.language == "en" and article.duplicate is None
    wait_for(
        lambda: (
            metric_value(svc.metrics(), "brink_ingest_dead_lettered_total", reason="invalid_fields")
            == 2
        )
    )
    assert metric_value(svc.metrics(), "brink_ingest_received_total", via="kafka") == len(bad) + 1
    assert metric_value(svc.metrics(), "brink_ingest_published_total") == 1
    # Every record was committed after its output was acked: the lag gauge comes down to 0.
    raw = settings.topics.raw

    def lag_is_zero() -> bool:
        lines = [
            ln
            for ln in svc.metrics().splitlines()
            if ln.startswith("brink_ingest_consumer_lag{") and f'topic="{raw}"' in ln
        ]
        return len(lines) == settings.partitions and all(ln.endswith(" 0.0") for ln in lines)

    wait_for(lag_is_zero, timeout=40, message="consumer lag 0 on every partition")


def test_dedup_state_survives_a_restart(
    settings: Settings, start_service: Any, corpus: dict[str, dict[str, Any]]
) -> None:
    first, later = corpus["reuters-9628"], corpus["reuters-9657"]
    svc = start_service("ingest", settings)
    produce(settings, [(None, orjson.dumps({"title": first["title"], "text": first["text"]}), [])])
    (original,) = articles(settings, 1)
    assert svc.stop() == 0

    again = start_service("ingest", settings)
    produce(settings, [(None, orjson.dumps({"title": later["title"], "text": later["text"]}), [])])
    got = articles(settings, 2)
    copy = next(a for a in got if a.id != original.id)
    assert copy.duplicate is not None
    assert (copy.duplicate.of, copy.duplicate.kind) == (original.id, DuplicateKind.NEAR)
    assert metric_value(again.metrics(), "brink_ingest_duplicates_total", kind="near") == 1


def request(port: int, body: bytes, ctype: str) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/articles", body=body, headers={"Content-Type": ctype})
        resp = conn.getresponse()
        return resp.status, orjson.loads(resp.read())
    finally:
        conn.close()


def test_http_endpoint(settings: Settings, start_service: Any) -> None:
    svc = start_service("ingest", settings, BRINK_MAX_BODY_BYTES="5000")
    port = int(svc.env["BRINK_HTTP_PORT"])
    story = {
        "title": "Poland expels diplomats",
        "text": "Poland expelled three diplomats on Friday.",
    }
    status, answer = request(
        port, orjson.dumps([story, {"titel": "x", "text": "y"}]), "application/json"
    )
    assert status == 202
    assert [e["reason"] for e in answer["errors"]] == ["unknown_fields"]
    (article,) = articles(settings, 1)
    assert article.id == answer["accepted"][0]["id"] and article.title == story["title"]
    wait_for(lambda: metric_value(svc.metrics(), "brink_ingest_received_total", via="http") == 1)

    assert request(port, b'{"text": "cut', "application/json")[0] == 400
    assert request(port, b'{"text": "   "}', "application/json")[0] == 422
    assert request(port, b"<a/>", "application/xml")[0] == 415
    assert request(port, b"x" * 6000, "text/plain")[0] == 413


def test_brink_publish_of_seeds(settings: Settings, start_service: Any) -> None:
    start_service("ingest", settings)
    out = subprocess.run(
        [sys.executable, "-m", "services.cli.publish", str(SEEDS)],
        cwd=ROOT,
        check=False,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    bad = len(list((SEEDS / "bad").iterdir()))
    sent = int(out.stdout.split("sent: ", 1)[1].split(",", 1)[0])
    assert sent > bad
    got = articles(settings, sent - bad)
    assert len(got) == sent - bad
    dups = [a.duplicate for a in got if a.duplicate is not None]
    assert {d.kind for d in dups} == {DuplicateKind.EXACT, DuplicateKind.NEAR}
    reader = Reader(settings, settings.topics.deadletter)
    try:
        reasons = sorted(deadletter.describe(r.headers).reason for r in reader.until(bad))
    finally:
        reader.close()
    assert reasons == ["empty_body", "invalid_utf8", "malformed_json", "unknown_fields"]

    missing = subprocess.run(
        [sys.executable, "-m", "services.cli.publish", str(SEEDS / "nope.json")],
        cwd=ROOT,
        check=False,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "sent: 0, failed: 1" in missing.stdout


def test_two_instances_share_dedup_state(
    settings: Settings, start_service: Any, corpus: dict[str, dict[str, Any]]
) -> None:
    from kafka import KafkaAdminClient

    start_service("ingest", settings)
    start_service("ingest", settings)
    admin = KafkaAdminClient(**settings.kafka_python())
    group = settings.topic_prefix + "brink-ingest"

    def both_assigned() -> bool:
        desc = admin.describe_groups([group])[group]  # kafka-python 3.x: a dict per group
        return len(desc["members"]) == 2 and desc["group_state"] == "Stable"

    try:
        wait_for(both_assigned, timeout=60, message="two members in the ingest group")
    finally:
        admin.close()
    first, later = corpus["reuters-14881"], corpus["reuters-14912"]
    producer = KafkaProducer(**settings.kafka_python())

    def send(src: dict[str, Any], partition: int) -> None:
        value = orjson.dumps({"title": src["title"], "text": src["text"]})
        producer.send(settings.topics.raw, value=value, partition=partition).get(timeout=30)

    send(first, 0)
    (original,) = articles(settings, 1)
    # Partitions 1 and 2 cannot both belong to the instance that owns partition 0.
    send(later, 1)
    send(later, 2)
    producer.close()
    copies = [a for a in articles(settings, 3) if a.id != original.id]
    assert len(copies) == 2
    assert all(c.duplicate is not None and c.duplicate.of == original.id for c in copies)
