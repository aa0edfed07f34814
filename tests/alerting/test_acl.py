"""A real DENY WRITE ACL on ``alerts``, on a throwaway broker with the StandardAuthorizer: the
service stays up, /healthz is 503 with the reason, nothing is dead-lettered or committed past
the alerts, and once the ACL is removed and the service restarted every alert appears.

Starts its own single-node KRaft broker (the jars `make setup` fetched, free ports, a temp
dir) and stops it after: the shared broker on 9092 is never touched. Marked slow (a JVM start).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

from shared.kafka_admin import ensure_topics
from shared.settings import Settings
from tests.alerting.factories import T0, enriched, signal
from tests.alerting.kafka_helpers import AlertReader, health, produce
from tests.alerting.test_faults import RULES, dead_letters
from tests.conftest import ROOT, free_port, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIBS = ROOT / ".cache" / "kafka" / "libs"


def _java(*args: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "java",
            "-Xms128m",
            "-Xmx512m",
            "-cp",
            f"{LIBS}/*",
            f"-Dlog4j2.configurationFile={ROOT / 'deploy' / 'kafka' / 'log4j2.properties'}",
            *args,
        ],
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[str]:
    """A single KRaft node with the StandardAuthorizer (everyone allowed where no ACL says
    otherwise) on free loopback ports; stopped after the test."""
    if not LIBS.is_dir():
        pytest.fail(f"no Kafka jars in {LIBS}: run `make setup`")
    port, controller = free_port(), free_port()
    home = tmp_path / "acl-broker"
    (home / "data").mkdir(parents=True)
    props = home / "server.properties"
    props.write_text(
        f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={home / "data"}
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
"""
    )
    fmt = _java(
        "kafka.tools.StorageTool",
        "format",
        "-t",
        uuid.uuid4().hex[:22],
        "-c",
        str(props),
        out=home / "format.log",
    )
    assert fmt.wait(120) == 0, (home / "format.log").read_text()
    log = home / "kafka.out"
    broker = _java("kafka.Kafka", str(props), out=log)
    try:

        def started() -> bool:
            if broker.poll() is not None:
                pytest.fail(f"the ACL broker exited:\n{log.read_text()[-3000:]}")
            return "Kafka Server started" in log.read_text(errors="replace")

        wait_for(started, timeout=120, interval=0.5, message="the ACL broker")
        yield f"127.0.0.1:{port}"
    finally:
        broker.terminate()
        try:
            broker.wait(60)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


def acl(topic: str, operation: ACLOperation, permission: ACLPermissionType) -> ACL:
    return ACL(
        principal="User:ANONYMOUS",
        host="*",
        operation=operation,
        permission_type=permission,
        resource_pattern=ResourcePattern(ResourceType.TOPIC, topic, ACLResourcePatternType.LITERAL),
    )


def test_a_deny_write_acl_on_alerts_blocks_reports_and_loses_nothing(
    acl_broker: str, start_service: Any, tmp_path: Path
) -> None:
    settings = Settings(bootstrap_servers=acl_broker, topic_prefix="acl.", partitions=3)
    ensure_topics(settings)
    admin = KafkaAdminClient(**settings.kafka_python())
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    try:
        # Once a topic has an ACL, allow.everyone.if.no.acl.found no longer applies to it: allow
        # everything, then deny WRITE (a DENY wins over an ALLOW).
        alerts = settings.topics.alerts
        admin.create_acls(
            [
                acl(alerts, ACLOperation.ALL, ACLPermissionType.ALLOW),
                acl(alerts, ACLOperation.WRITE, ACLPermissionType.DENY),
            ]
        )
        svc = start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
        produce(settings, [enriched(f"a{i}", [signal(actor=f"Actor{i}")], at=T0) for i in range(3)])

        def unhealthy() -> dict[str, Any] | None:
            status, body = health(svc.url("/healthz"))
            return body if status == 503 else None

        body = wait_for(unhealthy, timeout=90, message="/healthz 503 under the ACL")
        assert "TopicAuthorizationFailedError" in orjson.dumps(body).decode()
        reader = AlertReader(settings, "acl-reader-1")
        assert reader.poll() == []
        reader.close()
        assert dead_letters(settings) == []
        svc.stop()

        admin.delete_acls(
            [
                ACLFilter(
                    principal="User:ANONYMOUS",
                    host="*",
                    operation=ACLOperation.WRITE,
                    permission_type=ACLPermissionType.DENY,
                    resource_pattern=ResourcePatternFilter(
                        ResourceType.TOPIC, settings.topics.alerts, ACLResourcePatternType.LITERAL
                    ),
                )
            ]
        )
        start_service("alerting", settings, BRINK_RULES_PATH=str(rules))
        reader = AlertReader(settings, "acl-reader-2")
        try:
            wait_for(
                lambda: {a.articles[0].id for a in reader.poll()} >= {"a0", "a1", "a2"},
                timeout=90,
                message="every alert once the ACL is gone",
            )
        finally:
            reader.close()
    finally:
        admin.close()
