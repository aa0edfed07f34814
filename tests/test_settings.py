"""Security settings are checked when they are made, and kafka-python and Faust get the same
mapping from `Settings.security` (no broker needed)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def test_lower_case_sasl_ssl_keeps_tls_for_faust_and_kafka_python() -> None:
    s = Settings.from_env(
        {
            "BRINK_SECURITY_PROTOCOL": "sasl_ssl",
            "BRINK_SASL_MECHANISM": "scram-sha-512",
            "BRINK_SASL_USERNAME": "brink",
            "BRINK_SASL_PASSWORD": "pw",
            "BRINK_SSL_CAFILE": str(CA),
        }
    )
    assert (s.security_protocol, s.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    kp = s.kafka_python()
    assert kp["security_protocol"] == "SASL_SSL"
    assert isinstance(kp["ssl_context"], ssl.SSLContext)
    creds = s.faust_broker()["broker_credentials"]
    assert creds.protocol.value == "SASL_SSL"
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    assert "pw" not in repr(s) and "pw" not in repr(s.security())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BRINK_SECURITY_PROTOCOL": "TLS"}, "must be one of PLAINTEXT, SSL"),
        ({"BRINK_SECURITY_PROTOCOL": "SASL_SSL"}, "needs BRINK_SASL_MECHANISM"),
        (
            {"BRINK_SECURITY_PROTOCOL": "SASL_SSL", "BRINK_SASL_MECHANISM": "GSSAPI"},
            "BRINK_SASL_MECHANISM must be one of",
        ),
        (
            {"BRINK_SECURITY_PROTOCOL": "SASL_SSL", "BRINK_SASL_MECHANISM": "PLAIN"},
            "needs BRINK_SASL_USERNAME and BRINK_SASL_PASSWORD",
        ),
        ({"BRINK_SASL_USERNAME": "brink"}, "does not use SASL"),
        ({"BRINK_SSL_CAFILE": str(CA)}, "does not use TLS"),
        ({"BRINK_SECURITY_PROTOCOL": "SSL", "BRINK_SSL_CAFILE": "/no/ca.pem"}, "no such file"),
        (
            {"BRINK_SECURITY_PROTOCOL": "SSL", "BRINK_SSL_KEYFILE": str(CA)},
            "BRINK_SSL_KEYFILE is set without BRINK_SSL_CERTFILE",
        ),
    ],
)
def test_unusable_security_settings_are_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_a_file_that_is_not_a_certificate_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    s = Settings(security_protocol="SSL", ssl_cafile=str(bogus))
    with pytest.raises(SettingsError, match=r"BRINK_SSL_CAFILE=.*not a readable PEM"):
        s.kafka_python()
