"""How `shared.preflight` names a refused connection from what kafka-python reported (no
broker: the errors are the ones kafka-python 3 logs; tests/security sees them for real)."""

from __future__ import annotations

from kafka import errors

from shared.preflight import SaslProgress, explain
from shared.settings import KafkaSecurity

SCRAM = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "ingest", "pw", cafile="/ca.pem")
SERVER = "127.0.0.1:9093"
GONE = errors.KafkaConnectionError("socket disconnected")


def test_a_refusal_names_the_user_and_mechanism() -> None:
    refused = errors.SaslAuthenticationFailedError("invalid credentials")
    assert explain([GONE, refused], SCRAM, SERVER) == (
        "authentication failed for user ingest (SCRAM-SHA-512) at 127.0.0.1:9093"
    )


def test_closed_after_the_mechanism_was_accepted_is_a_refused_login() -> None:
    """The broker sends its refusal and closes at once; kafka-python may drop the refusal."""
    login = SaslProgress(asked=2, accepted=2)
    assert explain([GONE, GONE], SCRAM, SERVER, sasl=login) == (
        "authentication failed for user ingest (SCRAM-SHA-512) at 127.0.0.1:9093"
    )
    mechanism = SaslProgress(asked=2, accepted=0)
    assert "does not accept SASL mechanism SCRAM-SHA-512" in str(
        explain([GONE, GONE], SCRAM, SERVER, sasl=mechanism)
    )
    closed = explain([GONE, GONE, GONE], SCRAM, SERVER, sasl=SaslProgress())
    assert closed is not None and closed.startswith("the broker at 127.0.0.1:9093 closed every")


def test_tls_failures_are_named() -> None:
    untrusted = errors.KafkaConnectionError(
        "Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "self-signed certificate in certificate chain (_ssl.c:1006)"
    )
    cause = explain([untrusted], SCRAM, SERVER)
    assert cause == (
        "TLS: the broker's certificate at 127.0.0.1:9093 is not trusted "
        "(self-signed certificate in certificate chain; CA: /ca.pem)"
    )
    no_cert = errors.KafkaConnectionError("[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert")
    assert "refused the client certificate" in str(explain([no_cert], SCRAM, SERVER))


def test_an_unreachable_broker_is_not_a_security_failure() -> None:
    refused = errors.KafkaConnectionError("111 ECONNREFUSED")
    timeout = errors.KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:9093")
    assert explain([refused, refused, timeout], SCRAM, SERVER) is None
