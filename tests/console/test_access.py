"""The console's token and TLS settings use `shared.webserver.Access` (issue 13, item 3): write
actions need ``BRINK_CONSOLE_TOKEN`` when it is set; ``BRINK_CONSOLE_CERTFILE`` makes it HTTPS
(the server side is tested once for every `BackgroundServer` in tests/ingest/test_http_access)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from services.console.config import ConsoleConfig
from services.console.web import token_ok
from shared.settings import Settings, SettingsError
from tests.ingest.test_http_access import make_cert

TOKEN = "console-token-for-tests-0123456789"


def test_write_token_is_compared_like_every_brink_server() -> None:
    def req(header: str | None) -> bool:
        headers = {"Authorization": header} if header is not None else {}
        return token_ok(make_mocked_request("POST", "/api/silences", headers=headers), TOKEN)

    assert req(f"Bearer {TOKEN}")
    assert not req(None)
    assert not req(f"Bearer {TOKEN[:-1]}")
    assert not req(f"Basic {TOKEN}")
    # no token set: anyone who can reach the console (bound to 127.0.0.1 by default) may write
    assert token_ok(make_mocked_request("POST", "/api/silences"), None)


def test_certificate_settings_are_read_and_checked(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    settings = Settings.from_env({})
    env = {"BRINK_CONSOLE_CERTFILE": str(cert), "BRINK_CONSOLE_KEYFILE": str(key)}
    config = ConsoleConfig.from_env(settings, env)
    assert (config.certfile, config.keyfile) == (str(cert), str(key))
    with pytest.raises(SettingsError, match="BRINK_CONSOLE_CERTFILE"):
        ConsoleConfig.from_env(settings, {"BRINK_CONSOLE_CERTFILE": str(tmp_path / "none.pem")})
