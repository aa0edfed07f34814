"""Ingest's own settings (``BRINK_INGEST_*``), on top of the shared `Settings`."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.ingest.dedup import DedupConfig
from shared.settings import SettingsError

DEFAULT_METRICS_PORT = 9101


@dataclass(frozen=True, slots=True)
class IngestConfig:
    dedup: DedupConfig = field(default_factory=DedupConfig)
    evict_interval_seconds: float = 60.0
    feeds: tuple[str, ...] = ()  # RSS/Atom URLs to poll
    feed_interval_seconds: float = 300.0
    # Kafka static membership (group.instance.id): unique per replica, stable across restarts.
    # None: derived from the host name and metrics port (see `static_member_id`).
    instance_id: str | None = None
    # How long output may go unacknowledged (or the broker unreachable) before /healthz is 503.
    unhealthy_after_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IngestConfig:
        """``BRINK_INGEST_DEDUP_THRESHOLD`` (0..1, default 0.8), ``BRINK_INGEST_DEDUP_WINDOW_SECONDS``
        (default 7 days), ``BRINK_INGEST_DEDUP_MAX_ENTRIES`` (default 500000),
        ``BRINK_INGEST_FEEDS`` (comma-separated RSS/Atom URLs, default none) and
        ``BRINK_INGEST_FEED_INTERVAL_SECONDS`` (default 300), ``BRINK_INSTANCE_ID`` (this replica's
        static group member id: letters, digits, ``._-``; default host name and metrics port) and
        ``BRINK_INGEST_UNHEALTHY_AFTER_SECONDS`` (default 30)."""
        env = os.environ if env is None else env
        base = DedupConfig()
        try:
            threshold = float(env.get("BRINK_INGEST_DEDUP_THRESHOLD") or base.threshold)
            window = float(env.get("BRINK_INGEST_DEDUP_WINDOW_SECONDS") or base.window_seconds)
            cap = int(env.get("BRINK_INGEST_DEDUP_MAX_ENTRIES") or base.max_entries)
            feed_interval = float(env.get("BRINK_INGEST_FEED_INTERVAL_SECONDS") or 300.0)
            unhealthy = float(env.get("BRINK_INGEST_UNHEALTHY_AFTER_SECONDS") or 30.0)
        except ValueError as exc:
            raise SettingsError(f"bad BRINK_INGEST_DEDUP_* value: {exc}") from exc
        if not 0 < threshold <= 1:
            raise SettingsError("BRINK_INGEST_DEDUP_THRESHOLD must be in (0, 1]")
        dedup = DedupConfig(threshold=threshold, window_seconds=window, max_entries=cap)
        feeds = tuple(
            u.strip() for u in (env.get("BRINK_INGEST_FEEDS") or "").split(",") if u.strip()
        )
        instance = (env.get("BRINK_INSTANCE_ID") or "").strip() or None
        if instance is not None and not _MEMBER_ID.fullmatch(instance):
            raise SettingsError("BRINK_INSTANCE_ID: 1-200 of letters, digits, '.', '_' and '-'")
        return cls(
            dedup=dedup,
            feeds=feeds,
            feed_interval_seconds=feed_interval,
            instance_id=instance,
            unhealthy_after_seconds=unhealthy,
        )


_MEMBER_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


def static_member_id(config: IngestConfig, metrics_port: int) -> str:
    """The consumer's ``group_instance_id``: ``BRINK_INSTANCE_ID``, else ``<host>-<metrics port>``.

    Stable across restarts of one replica (same host, same port) and unique among replicas (two
    on one host cannot share a port), so a replica killed with -9 and restarted takes its
    partitions back at once instead of waiting out the dead member's session (45 s).
    """
    if config.instance_id:
        return config.instance_id
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:150] or "host"
    return f"ingest-{host}-{metrics_port}"
