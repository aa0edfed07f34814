"""The pipeline on a secure broker (`kafka.sh up --secure`, ACLs from `acls.sh`): end to end over
SASL_SSL, security failures named in one line with exit 2 within 15 s, a missing ACL that makes
alerting unhealthy and loses nothing, and mutual TLS. Every service runs as its own Kafka user
with only the ACLs `shared.acls` grants it; tests read and set up as the admin user."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import (
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePatternFilter,
    ResourceType,
)

from shared import codec
from shared.kafka_admin import ensure_topics
from shared.preflight import KafkaSecurityError, check_kafka
from shared.schemas import Alert
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import health, produce
from tests.alerting.test_faults import RULES, dead_letters
from tests.conftest import ROOT, SEEDS, settings_env, wait_for
from tests.ingest.test_http_access import ARTICLE, TOKEN, make_cert, request
from tests.security.conftest import SecureBroker, ports

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def prefix() -> str:
    return f"s{uuid.uuid4().hex[:8]}."


def read_alerts(settings: Settings, timeout: float = 3.0) -> list[Alert]:
    consumer = KafkaConsumer(
        settings.topics.alerts,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(timeout * 1000),
        **settings.kafka_python(),
    )
    try:
        return [codec.decode(r.value, Alert) for r in consumer]
    finally:
        consumer.close()


def service_ports(**extra: str) -> dict[str, str]:
    metrics, http = ports(2)
    return {"BRINK_METRICS_PORT": str(metrics), "BRINK_HTTP_PORT": str(http), **extra}


def test_the_pipeline_works_end_to_end_over_sasl_ssl(
    secure_broker: SecureBroker, start_service: Any, tmp_path: Path
) -> None:
    p = prefix()
    secure_broker.acls("grant", "--prefix", p)
    admin = secure_broker.settings("admin", p)
    ensure_topics(admin)  # the admin makes the pipeline's topics; services only their own
    cert, key = make_cert(tmp_path)  # ingest's HTTP API: HTTPS and a token, as deployed
    http = {
        "BRINK_HTTP_TOKEN": TOKEN,
        "BRINK_HTTP_CERTFILE": str(cert),
        "BRINK_HTTP_KEYFILE": str(key),
    }
    services = [
        start_service(
            name,
            secure_broker.settings(name, p),
            wait=False,
            # the Faust services get the protocol in lower case: TLS must not be dropped
            **service_ports(
                **(http if name == "ingest" else {"BRINK_SECURITY_PROTOCOL": "sasl_ssl"})
            ),
        )
        for name in ("ingest", "enrichment", "alerting")
    ]
    for svc in services:
        svc.wait_healthy(timeout=120)

    http_port = int(services[0].env["BRINK_HTTP_PORT"])
    trust = ssl.create_default_context(cafile=str(cert))
    json = {"Content-Type": "application/json"}
    assert request(http_port, "POST", "/articles", json, body=ARTICLE, tls=trust).status == 401
    auth = {**json, "Authorization": f"Bearer {TOKEN}"}
    assert request(http_port, "POST", "/articles", auth, body=ARTICLE, tls=trust).status == 202

    publisher = secure_broker.settings("publisher", p)
    producer = KafkaProducer(**publisher.kafka_python())
    article = (SEEDS / "nato-russia-ukraine-troops.txt").read_bytes()
    producer.send(publisher.topics.raw, value=article).get(timeout=30)
    producer.close()

    reader = secure_broker.settings("reader", p)
    alerts = wait_for(
        lambda: read_alerts(reader), timeout=90, interval=0.5, message="an alert over SASL_SSL"
    )
    assert any("military_buildup" in a.group.kinds for a in alerts), alerts


@pytest.mark.parametrize(
    ("service", "change", "cause"),
    [
        ("ingest", {"sasl_password": "wrong"}, "authentication failed for user ingest (SCRAM-SHA-512) at {sasl}"),
        ("enrichment", {"sasl_password": "wrong"}, "authentication failed for user enrichment (SCRAM-SHA-512) at {sasl}"),
        ("alerting", {"sasl_password": "wrong"}, "authentication failed for user alerting (SCRAM-SHA-512) at {sasl}"),
        ("ingest", {"sasl_mechanism": "SCRAM-SHA-256"}, "does not accept SASL mechanism SCRAM-SHA-256"),
        ("ingest", {"ssl_cafile": None}, "TLS: the broker's certificate at {sasl} is not trusted"),
        ("ingest", {"sasl_mechanism": None}, "BRINK_SECURITY_PROTOCOL=SASL_SSL needs BRINK_SASL_MECHANISM"),
    ],
)  # fmt: skip
def test_a_security_failure_is_named_in_one_line_with_exit_2_within_15_s(
    secure_broker: SecureBroker, tmp_path: Path, service: str, change: dict[str, Any], cause: str
) -> None:
    env_vars = secure_broker.user_env(service)
    for key, value in change.items():
        name = "BRINK_" + key.upper()
        if value is None:
            env_vars.pop(name, None)
        else:
            env_vars[name] = value
    env = settings_env(Settings(), **env_vars, **service_ports(BRINK_STATE_DIR=str(tmp_path)))
    for key, value in change.items():
        if value is None:
            env.pop("BRINK_" + key.upper(), None)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr[-3000:]
    assert lines[-1].startswith(f"brink {service}: refusing to start: "), lines
    assert cause.format(sasl=secure_broker.sasl) in lines[-1], lines[-1]
    assert [line for line in lines if "refusing" in line] == [lines[-1]]  # said once
    assert elapsed < 15, f"{elapsed:.1f} s to the error"


def test_a_service_without_write_on_alerts_is_unhealthy_and_loses_nothing(
    secure_broker: SecureBroker, start_service: Any, tmp_path: Path
) -> None:
    p = prefix()
    secure_broker.acls("grant", "--prefix", p)
    admin_settings = secure_broker.settings("admin", p)
    ensure_topics(admin_settings)
    alerts_topic = admin_settings.topics.alerts
    admin = KafkaAdminClient(**admin_settings.kafka_python())
    try:
        admin.delete_acls(
            [
                ACLFilter(
                    principal="User:alerting",
                    host="*",
                    operation=ACLOperation.WRITE,
                    permission_type=ACLPermissionType.ALLOW,
                    resource_pattern=ResourcePatternFilter(
                        ResourceType.TOPIC, alerts_topic, ACLResourcePatternType.LITERAL
                    ),
                )
            ]
        )
    finally:
        admin.close()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    svc = start_service(
        "alerting",
        secure_broker.settings("alerting", p),
        wait=False,
        **service_ports(BRINK_RULES_PATH=str(rules)),
    )
    produce(
        admin_settings, [enriched(f"a{i}", [signal(actor=f"Actor{i}")], at=T0) for i in range(3)]
    )

    def unhealthy() -> dict[str, Any] | None:
        status, body = health(svc.url("/healthz"))
        return body if status not in (0, 200) and "Authorization" in str(body) else None

    body = wait_for(unhealthy, timeout=90, interval=0.5, message="/healthz not 200 without WRITE")
    assert "TopicAuthorizationFailedError" in orjson.dumps(body).decode()
    assert read_alerts(admin_settings) == []
    assert dead_letters(admin_settings) == []

    secure_broker.acls("grant", "--prefix", p, "--user", "alerting")  # the fix
    alerts = wait_for(
        lambda: {a.articles[0].id for a in read_alerts(admin_settings)} >= {"a0", "a1", "a2"},
        timeout=90,
        interval=1.0,
        message="every alert once alerting may write",
    )
    assert alerts
    assert svc.proc.poll() is None  # recovered without a restart


def test_mutual_tls_authenticates_by_certificate(secure_broker: SecureBroker) -> None:
    p = prefix()
    secure_broker.acls("grant", "--prefix", p, "--user", "publisher", "--user", "reader")
    ensure_topics(secure_broker.settings("admin", p))
    publisher = secure_broker.settings("publisher", p, mtls=True)
    assert publisher.security_protocol == "SSL" and publisher.ssl_certfile
    assert check_kafka(publisher) is None
    producer = KafkaProducer(**publisher.kafka_python())
    producer.send(publisher.topics.raw, value=b"over mutual TLS").get(timeout=30)
    producer.close()
    # what it wrote, read back by the admin's certificate (CN=admin is User:admin)
    consumer = KafkaConsumer(
        publisher.topics.raw,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        **secure_broker.settings("admin", p, mtls=True).kafka_python(),
    )
    assert [r.value for r in consumer] == [b"over mutual TLS"]
    consumer.close()
    with pytest.raises(
        KafkaSecurityError, match=r"requires a client certificate|refused the client certificate"
    ):
        check_kafka(
            Settings(
                bootstrap_servers=secure_broker.mtls,
                security_protocol="SSL",
                ssl_cafile=str(secure_broker.ca),
            )
        )
