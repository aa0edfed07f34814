"""Ingest's own settings (``BRINK_INGEST_*``), on top of the shared `Settings`."""

from __future__ import annotations

import os
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IngestConfig:
        """``BRINK_INGEST_DEDUP_THRESHOLD`` (0..1, default 0.8), ``BRINK_INGEST_DEDUP_WINDOW_SECONDS``
        (default 7 days), ``BRINK_INGEST_DEDUP_MAX_ENTRIES`` (default 500000),
        ``BRINK_INGEST_FEEDS`` (comma-separated RSS/Atom URLs, default none) and
        ``BRINK_INGEST_FEED_INTERVAL_SECONDS`` (default 300)."""
        env = os.environ if env is None else env
        base = DedupConfig()
        try:
            threshold = float(env.get("BRINK_INGEST_DEDUP_THRESHOLD") or base.threshold)
            window = float(env.get("BRINK_INGEST_DEDUP_WINDOW_SECONDS") or base.window_seconds)
            cap = int(env.get("BRINK_INGEST_DEDUP_MAX_ENTRIES") or base.max_entries)
            feed_interval = float(env.get("BRINK_INGEST_FEED_INTERVAL_SECONDS") or 300.0)
        except ValueError as exc:
            raise SettingsError(f"bad BRINK_INGEST_DEDUP_* value: {exc}") from exc
        if not 0 < threshold <= 1:
            raise SettingsError("BRINK_INGEST_DEDUP_THRESHOLD must be in (0, 1]")
        dedup = DedupConfig(threshold=threshold, window_seconds=window, max_entries=cap)
        feeds = tuple(
            u.strip() for u in (env.get("BRINK_INGEST_FEEDS") or "").split(",") if u.strip()
        )
        return cls(dedup=dedup, feeds=feeds, feed_interval_seconds=feed_interval)
