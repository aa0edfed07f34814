"""The console's own settings (``BRINK_CONSOLE_*``), read when it starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import Settings, SettingsError

DEFAULT_PORT = 9104


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    host: str = "127.0.0.1"  # loopback unless a deployment says otherwise
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)  # bearer token for write actions
    certfile: str | None = None  # PEM certificate (chain): HTTPS instead of HTTP
    keyfile: str | None = None
    db_path: Path = Path(".cache/state/console.sqlite3")
    max_body_bytes: int = 256 * 1024
    explain: bool = True  # load the spaCy pipeline (lazily) for POST /api/explain of text
    mode: str = "console"  # console | receiver
    receiver_urls: tuple[str, ...] = ()
    receiver_format: str = "json"  # json | slack
    receiver_secret: str | None = field(default=None, repr=False)
    receiver_group: str = "brink-console-receiver"
    public_url: str | None = None  # links in Slack messages

    @classmethod
    def from_env(cls, settings: Settings, env: Mapping[str, str] | None = None) -> ConsoleConfig:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get("BRINK_CONSOLE_" + name)
            return value if value else None

        def integer(name: str, default: int) -> int:
            raw = get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError as exc:
                raise SettingsError(f"BRINK_CONSOLE_{name} must be an integer") from exc

        mode = get("MODE") or "console"
        if mode not in ("console", "receiver"):
            raise SettingsError("BRINK_CONSOLE_MODE must be console or receiver")
        fmt = get("RECEIVER_FORMAT") or "json"
        if fmt not in ("json", "slack"):
            raise SettingsError("BRINK_CONSOLE_RECEIVER_FORMAT must be json or slack")
        state = Path(settings.state_dir)
        return cls(
            host=get("HOST") or "127.0.0.1",
            port=integer("PORT", settings.metrics_port or DEFAULT_PORT),
            token=get("TOKEN"),
            certfile=_existing(get("CERTFILE"), "BRINK_CONSOLE_CERTFILE"),
            keyfile=_existing(get("KEYFILE"), "BRINK_CONSOLE_KEYFILE"),
            db_path=Path(get("DB") or state / "console.sqlite3"),
            max_body_bytes=integer("MAX_BODY_BYTES", 256 * 1024),
            explain=(get("EXPLAIN") or "on") != "off",
            mode=mode,
            receiver_urls=tuple(u for u in (get("RECEIVER_URLS") or "").split(",") if u),
            receiver_format=fmt,
            receiver_secret=get("RECEIVER_SECRET"),
            receiver_group=get("RECEIVER_GROUP") or "brink-console-receiver",
            public_url=get("PUBLIC_URL"),
        )


def _existing(path: str | None, name: str) -> str | None:
    if path is not None and not Path(path).is_file():
        raise SettingsError(f"{name}: no such file: {path}")
    return path
