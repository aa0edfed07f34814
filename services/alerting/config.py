"""Alerting's own settings (``BRINK_ALERTING_*``), on top of the shared `Settings`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from services.alerting.rules import parse_duration
from shared.settings import SettingsError

DEFAULT_METRICS_PORT = 9103


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    app_id: str = "brink-alerting"  # Faust app id / consumer group (the topic prefix is added)
    delivery_retries: int = 5
    delivery_backoff_seconds: float = 0.5
    allowed_lateness: timedelta = timedelta(days=7)
    max_groups: int = 100_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertingConfig:
        """``BRINK_ALERTING_APP_ID`` (a new id replays the input from the start),
        ``BRINK_ALERTING_DELIVERY_RETRIES`` (default 5), ``BRINK_ALERTING_DELIVERY_BACKOFF_SECONDS``
        (first retry delay, doubling; default 0.5), ``BRINK_ALERTING_ALLOWED_LATENESS`` (how far
        behind the newest article of its group an article still counts; default 7d),
        ``BRINK_ALERTING_MAX_GROUPS`` (groups kept in state, over all partitions; the least
        recently used go first; default 100000)."""
        env = os.environ if env is None else env
        base = cls()
        try:
            return cls(
                app_id=env.get("BRINK_ALERTING_APP_ID") or base.app_id,
                delivery_retries=int(
                    env.get("BRINK_ALERTING_DELIVERY_RETRIES") or base.delivery_retries
                ),
                delivery_backoff_seconds=float(
                    env.get("BRINK_ALERTING_DELIVERY_BACKOFF_SECONDS")
                    or base.delivery_backoff_seconds
                ),
                allowed_lateness=parse_duration(
                    env.get("BRINK_ALERTING_ALLOWED_LATENESS") or base.allowed_lateness
                ),
                max_groups=int(env.get("BRINK_ALERTING_MAX_GROUPS") or base.max_groups),
            )
        except ValueError as exc:
            raise SettingsError(f"bad BRINK_ALERTING_* value: {exc}") from exc
