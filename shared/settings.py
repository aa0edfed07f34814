"""Settings from environment variables, read when a service starts (never at import).

Every variable is ``BRINK_<NAME>``; see README.md for the list. Security settings cover the
usual managed-Kafka set-ups (SASL_SSL with PLAIN/SCRAM, or mutual TLS).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from shared.topics import Topics


class SettingsError(ValueError):
    """An environment variable has a value Brink cannot use."""


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
    max_body_bytes: int = 1_000_000
    rules_path: str | None = None  # alerting rules YAML; None: services/alerting/rules.yaml
    webhook_url: str | None = None  # alerting: POST each alert as JSON here (optional)
    alertmanager_url: str | None = None  # alerting: push to Alertmanager, e.g. http://host:9093
    state_dir: str = ".cache/state"

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

    def kafka_python(self) -> dict[str, Any]:
        """Connection keyword arguments for kafka-python clients."""
        conf: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl_mechanism"] = self.sasl_mechanism
            conf["sasl_plain_username"] = self.sasl_username
            conf["sasl_plain_password"] = self.sasl_password
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            if getattr(self, name):
                conf[name] = getattr(self, name)
        return conf

    def faust_broker(self) -> dict[str, Any]:
        """Keyword arguments for ``faust.App`` that point it at the same cluster."""
        urls = ";".join("kafka://" + s for s in self.bootstrap_servers.split(","))
        conf: dict[str, Any] = {"broker": urls}
        if self.security_protocol != "PLAINTEXT":
            import ssl

            import faust

            context = None
            if "SSL" in self.security_protocol:
                context = ssl.create_default_context(cafile=self.ssl_cafile)
                if self.ssl_certfile:
                    context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            if self.sasl_mechanism:
                conf["broker_credentials"] = faust.SASLCredentials(
                    username=self.sasl_username,
                    password=self.sasl_password,
                    mechanism=self.sasl_mechanism,
                    ssl_context=context,
                )
            elif context is not None:
                conf["broker_credentials"] = context
        return conf
