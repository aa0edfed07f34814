"""Settings from environment variables, read when a service starts (never at import).

Every variable is ``BRINK_<NAME>``; see README.md for the list. Security settings cover the
usual managed-Kafka set-ups (SASL_SSL with PLAIN/SCRAM, or mutual TLS) and are checked when
the settings are made (`SettingsError` names the variable): the protocol and mechanism are
normalised to Kafka's spelling (``sasl_ssl`` is ``SASL_SSL``: TLS is never dropped for a
spelling), SASL needs a mechanism, a user name and a password, TLS files must exist, and a
setting the protocol would ignore is refused rather than ignored. `Settings.security` is the
one mapping both clients use: kafka-python (`Settings.kafka_python`) and Faust/aiokafka
(`Settings.faust_broker`) get the same protocol, credentials and the same kind of
`ssl.SSLContext` (`KafkaSecurity.ssl_context`).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from shared.topics import Topics


class SettingsError(ValueError):
    """An environment variable has a value Brink cannot use."""


PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
MIN_TOKEN_CHARS = 16  # an HTTP bearer token shorter than this is refused (guessable)


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How to reach the cluster safely: what `Settings.security` checked, in one place."""

    protocol: str  # one of PROTOCOLS
    mechanism: str | None = None  # one of MECHANISMS when `sasl`
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None  # None with TLS: the system's trusted CAs
    certfile: str | None = None  # a client certificate (mutual TLS)
    keyfile: str | None = None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context verifying the broker's certificate and host name (None without TLS);
        `SettingsError` when a file is not what its variable says."""
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise SettingsError(
                f"BRINK_SSL_CAFILE={self.cafile}: not a readable PEM CA certificate ({exc})"
            ) from exc
        if self.certfile:
            try:
                context.load_cert_chain(self.certfile, self.keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise SettingsError(
                    f"BRINK_SSL_CERTFILE={self.certfile} / BRINK_SSL_KEYFILE={self.keyfile}: "
                    f"not a readable PEM certificate and its key ({exc})"
                ) from exc
        return context

    def describe(self) -> str:
        """``SASL_SSL, SCRAM-SHA-512 as brink``: for log lines and error messages."""
        if self.sasl:
            return f"{self.protocol}, {self.mechanism} as {self.username}"
        if self.certfile:
            return f"{self.protocol} with client certificate {self.certfile}"
        return self.protocol


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    sasl_mechanism: str | None = None  # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topic_prefix: str = ""
    # 12: every worker count up to 12 that divides it (1, 2, 3, 4, 6, 12) gets an even share,
    # and a 2-core host (2 enrichment workers) is far from the limit. docs/operations.md, Scaling.
    partitions: int = 12
    replication_factor: int = 1
    log_level: str = "INFO"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = (
        0  # 0: the service's own default (ingest 9101, enrichment 9102, alerting 9103)
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080  # ingest's HTTP API (POST /articles)
    http_token: str | None = field(default=None, repr=False)  # set: POST needs Bearer <token>
    http_certfile: str | None = None  # set: the HTTP API speaks HTTPS (PEM chain)
    http_keyfile: str | None = None  # its key, unless it is in http_certfile
    max_body_bytes: int = 1_000_000
    rules_path: str | None = None  # alerting rules YAML; None: services/alerting/rules.yaml
    webhook_url: str | None = None  # alerting: POST each alert as JSON here (optional)
    alertmanager_url: str | None = None  # alerting: push to Alertmanager, e.g. http://host:9093
    state_dir: str = ".cache/state"

    def __post_init__(self) -> None:
        protocol = self.security_protocol.strip().upper()
        if protocol not in PROTOCOLS:
            raise SettingsError(
                f"BRINK_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, "
                f"got {self.security_protocol!r}"
            )
        object.__setattr__(self, "security_protocol", protocol)
        if self.sasl_mechanism is not None:
            object.__setattr__(self, "sasl_mechanism", self.sasl_mechanism.strip().upper() or None)
        self.security()  # refuses what it cannot use
        if self.http_token is not None and len(self.http_token) < MIN_TOKEN_CHARS:
            raise SettingsError(f"BRINK_HTTP_TOKEN must have at least {MIN_TOKEN_CHARS} characters")
        if self.http_keyfile and not self.http_certfile:
            raise SettingsError("BRINK_HTTP_KEYFILE is set without BRINK_HTTP_CERTFILE")
        for name, path in (
            ("BRINK_HTTP_CERTFILE", self.http_certfile),
            ("BRINK_HTTP_KEYFILE", self.http_keyfile),
        ):
            if path and not os.path.isfile(path):
                raise SettingsError(f"{name}={path}: no such file")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``BRINK_*`` variables (``env`` defaults to ``os.environ``)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("BRINK_" + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise SettingsError(
                        f"BRINK_{f.name.upper()} must be an integer, got {raw!r}"
                    ) from exc
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def security(self) -> KafkaSecurity:
        """The checked security settings (`SettingsError` names the variable that is wrong)."""
        sec = KafkaSecurity(
            protocol=self.security_protocol,
            mechanism=self.sasl_mechanism,
            username=self.sasl_username,
            password=self.sasl_password,
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
        )
        p = f"BRINK_SECURITY_PROTOCOL={sec.protocol}"
        if sec.sasl:
            if not sec.mechanism:
                raise SettingsError(
                    f"{p} needs BRINK_SASL_MECHANISM (one of {', '.join(MECHANISMS)})"
                )
            if sec.mechanism not in MECHANISMS:
                raise SettingsError(
                    f"BRINK_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, "
                    f"got {sec.mechanism!r}"
                )
            if not sec.username or not sec.password:
                raise SettingsError(f"{p} needs BRINK_SASL_USERNAME and BRINK_SASL_PASSWORD")
        else:
            given = [
                name
                for name, value in (
                    ("BRINK_SASL_MECHANISM", sec.mechanism),
                    ("BRINK_SASL_USERNAME", sec.username),
                    ("BRINK_SASL_PASSWORD", sec.password),
                )
                if value
            ]
            if given:
                raise SettingsError(
                    f"{', '.join(given)} set but {p} does not use SASL "
                    "(use SASL_SSL, or unset them)"
                )
        files = (
            ("BRINK_SSL_CAFILE", sec.cafile),
            ("BRINK_SSL_CERTFILE", sec.certfile),
            ("BRINK_SSL_KEYFILE", sec.keyfile),
        )
        if not sec.tls:
            given = [name for name, value in files if value]
            if given:
                raise SettingsError(
                    f"{', '.join(given)} set but {p} does not use TLS (use SSL or SASL_SSL)"
                )
        for name, path in files:
            if path and not os.path.isfile(path):
                raise SettingsError(f"{name}={path}: no such file")
        if sec.keyfile and not sec.certfile:
            raise SettingsError("BRINK_SSL_KEYFILE is set without BRINK_SSL_CERTFILE")
        return sec

    def kafka_python(self) -> dict[str, Any]:
        """Connection keyword arguments for kafka-python clients (from `security`)."""
        sec = self.security()
        conf: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": sec.protocol,
        }
        if sec.sasl:
            conf["sasl_mechanism"] = sec.mechanism
            conf["sasl_plain_username"] = sec.username
            conf["sasl_plain_password"] = sec.password
        if sec.tls:
            conf["ssl_context"] = sec.ssl_context()
        return conf

    def faust_broker(self) -> dict[str, Any]:
        """Keyword arguments for ``faust.App`` that point it at the same cluster, with the same
        security as `kafka_python` (from `security`)."""
        urls = ";".join("kafka://" + s for s in self.bootstrap_servers.split(","))
        conf: dict[str, Any] = {"broker": urls}
        sec = self.security()
        if sec.sasl:
            import faust

            # SASLCredentials means SASL_SSL exactly when it is given a context
            conf["broker_credentials"] = faust.SASLCredentials(
                username=sec.username,
                password=sec.password,
                mechanism=sec.mechanism,
                ssl_context=sec.ssl_context(),
            )
        elif sec.tls:
            conf["broker_credentials"] = sec.ssl_context()
        return conf
