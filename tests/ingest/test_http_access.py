"""A bearer token and TLS for Brink's HTTP servers (`shared.webserver.Access`): ingest's
``POST /articles`` with ``BRINK_HTTP_TOKEN`` and a certificate, and any other server built on
`BackgroundServer` (the console) with its own token. No broker: a fake submit."""

from __future__ import annotations

import http.client
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from services.ingest.http_api import ArticlesApi
from shared.settings import Settings, SettingsError
from shared.webserver import Access, BackgroundServer, Limits
from tests.ingest.test_http_api import MAX_BYTES, FakeSubmit

TOKEN = "s3cret-token-for-tests-0123456789"
ARTICLE = orjson.dumps({"title": "Troops", "text": "Russia massed troops at the border."})


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    cert, key = folder / "http.crt", folder / "http.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    body: bytes | None = None,
    tls: ssl.SSLContext | None = None,
) -> http.client.HTTPResponse:
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=tls)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def guarded() -> Iterator[tuple[ArticlesApi, FakeSubmit]]:
    submit = FakeSubmit()
    api = ArticlesApi("127.0.0.1", 0, MAX_BYTES, submit, access=Access(token=TOKEN)).start()
    yield api, submit
    api.stop()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "],
)
def test_post_without_the_right_token_is_401_and_sends_nothing(
    guarded: tuple[ArticlesApi, FakeSubmit], authorization: str | None
) -> None:
    api, submit = guarded
    headers = dict(JSON)
    if authorization is not None:
        headers["Authorization"] = authorization
    resp = request(api.port, "POST", "/articles", headers, body=ARTICLE)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="brink"'
    assert resp.headers["Server"] == "brink"
    assert submit.sent == []


def test_post_with_the_token_is_accepted_and_healthz_stays_open(
    guarded: tuple[ArticlesApi, FakeSubmit],
) -> None:
    api, submit = guarded
    resp = request(
        api.port, "POST", "/articles", {**JSON, "Authorization": f"Bearer {TOKEN}"}, body=ARTICLE
    )
    assert resp.status == 202
    assert len(submit.sent) == 1
    assert request(api.port, "GET", "/healthz").status == 200  # probes need no secret


def test_the_api_speaks_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    submit = FakeSubmit()
    access = Access(token=TOKEN, certfile=str(cert), keyfile=str(key))
    api = ArticlesApi("127.0.0.1", 0, MAX_BYTES, submit, access=access).start()
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        auth = {**JSON, "Authorization": f"Bearer {TOKEN}"}
        assert request(api.port, "POST", "/articles", auth, body=ARTICLE, tls=trust).status == 202
        assert request(api.port, "POST", "/articles", JSON, body=ARTICLE, tls=trust).status == 401
        with pytest.raises((http.client.HTTPException, OSError)):
            request(api.port, "POST", "/articles", auth, body=ARTICLE)  # plain HTTP gets no answer
        with pytest.raises(ssl.SSLCertVerificationError):
            request(api.port, "GET", "/healthz", tls=ssl.create_default_context())
        assert len(submit.sent) == 1
    finally:
        api.stop()


def test_any_background_server_can_require_a_token() -> None:
    """What a console (BRINK_CONSOLE_TOKEN) would do with the same code."""

    async def hello(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    server = BackgroundServer(
        [web.get("/api/alerts", hello), web.get("/healthz", healthz)],
        "127.0.0.1",
        0,
        Limits(),
        name="console-like",
        access=Access(token=TOKEN, realm="brink-console"),
    )
    server.start()
    try:
        denied = request(server.port, "GET", "/api/alerts")
        assert denied.status == 401
        assert denied.headers["WWW-Authenticate"] == 'Bearer realm="brink-console"'
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert request(server.port, "GET", "/api/alerts", auth).status == 200
        assert request(server.port, "GET", "/healthz").status == 200
    finally:
        server.stop()


def test_http_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="at least 16"):
        Settings.from_env({"BRINK_HTTP_TOKEN": "short"})
    with pytest.raises(SettingsError, match="BRINK_HTTP_CERTFILE=/nonexistent"):
        Settings.from_env({"BRINK_HTTP_CERTFILE": "/nonexistent"})
    with pytest.raises(SettingsError, match="without BRINK_HTTP_CERTFILE"):
        Settings.from_env({"BRINK_HTTP_KEYFILE": str(tmp_path)})
    assert TOKEN not in repr(Settings.from_env({"BRINK_HTTP_TOKEN": TOKEN}))
