"""Brink's own HTTP servers (``/metrics`` + ``/healthz`` on every service, ingest's
``POST /articles``): an aiohttp application on its own event loop in a daemon thread, with the
limits a port open to a network needs.

Why aiohttp rather than ``http.server``: the standard library's threading server gives every
connection a thread, never times a client out and announces ``Python/3.x`` in every answer.
aiohttp is already installed (Faust's web server), well kept, and serves any number of idle
connections from one thread. What it does not do by itself is added here: a cap on open
connections and a fixed ``Server`` header also on answers its HTTP parser writes.

Limits (`Limits`): a client has ``head_timeout`` seconds after connecting (or after its previous
answer, on a kept-alive connection) to send a complete request head, then it is disconnected
(aiohttp's keep-alive timer, started on connect, closes a connection whose head is unfinished);
a handler that reads a body gives it ``body_timeout`` seconds (`read_body`); past
``max_connections`` open connections a new one gets ``503`` with ``Retry-After`` and is closed;
the listen backlog is ``backlog``; blocking work runs on at most ``workers`` threads.

Access (`Access`, optional): a bearer token every request must carry in
``Authorization: Bearer <token>`` (compared in constant time; 401 with ``WWW-Authenticate``
otherwise, before any body is read), except on ``open_paths`` (``/healthz`` and ``/metrics``
by default: probes and Prometheus scrape without secrets, and those paths reveal only counts);
and TLS when a certificate is given (the TLS handshake gets ``head_timeout`` too). Ingest's
``POST /articles`` uses it (``BRINK_HTTP_TOKEN``, ``BRINK_HTTP_CERTFILE``/``KEYFILE``); any
other server built on `BackgroundServer` (the console) passes its own `Access`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger(__name__)

SERVER_NAME = "brink"  # the whole Server header: no product versions for scanners
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one server allows its clients. Defaults suit ``/metrics``; see docs/operations.md."""

    head_timeout: float = 10.0  # seconds to send a request head; also the keep-alive idle time
    body_timeout: float = 30.0  # seconds to send a request body (handlers using `read_body`)
    max_connections: int = 64  # open connections; past it: 503 + Retry-After, then closed
    backlog: int = 511  # listen queue (the kernel caps it at net.core.somaxconn)
    max_body_bytes: int = 64 * 1024  # aiohttp's own cap on a body a handler reads
    workers: int = 2  # threads for blocking work (`BackgroundServer.run_blocking`)
    lingering_time: float = 2.0  # seconds to drain an unread body before closing
    retry_after_seconds: int = 1


OPEN_PATHS = frozenset({"/healthz", "/metrics"})


@dataclass(frozen=True, slots=True)
class Access:
    """Who may use a server, and over what. ``token`` None: anyone who can connect (bind to
    an internal address). ``certfile`` (PEM, the chain; ``keyfile`` unless the key is in it):
    HTTPS instead of HTTP."""

    token: str | None = field(default=None, repr=False)
    open_paths: frozenset[str] = OPEN_PATHS
    certfile: str | None = None
    keyfile: str | None = None
    realm: str = "brink"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.certfile:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certfile, self.keyfile)
        return context

    def allows(self, path: str, authorization: str) -> bool:
        """Whether a request for ``path`` with this ``Authorization`` header may proceed."""
        if self.token is None or path in self.open_paths:
            return True
        scheme, _, given = authorization.partition(" ")
        # Digests of equal length compared with compare_digest: the time taken tells neither
        # how much of the token matched nor how long it is.
        given_digest = hashlib.sha256(given.strip().encode()).digest()
        ok = hmac.compare_digest(given_digest, hashlib.sha256(self.token.encode()).digest())
        return ok and scheme.lower() == "bearer"


def _access_middleware(access: Access) -> Any:
    challenge = f'Bearer realm="{access.realm}"'

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if access.allows(request.path, request.headers.get(hdrs.AUTHORIZATION, "")):
            return await handler(request)  # type: ignore[no-any-return]
        log.info("401 for %s %s from %s", request.method, request.path, request.remote)
        resp = web.json_response(
            {"error": "unauthorized", "detail": "send Authorization: Bearer <token>"},
            status=401,
            headers={hdrs.WWW_AUTHENTICATE: challenge},
        )
        resp.force_close()  # the body, if any, is not read
        return resp

    return check


class BodyTimeoutError(Exception):
    """The client did not send its whole body within ``Limits.body_timeout``."""


async def read_body(request: web.Request, limits: Limits) -> bytes:
    """The request body, or `BodyTimeoutError` when it does not arrive in ``limits.body_timeout``."""
    try:
        async with asyncio.timeout(limits.body_timeout):
            return await request.read()
    except TimeoutError:
        raise BodyTimeoutError from None


class _Handler(RequestHandler):
    """aiohttp's connection handler, counted by the site that made it; its own error answers
    (bad request line, header too long) get the same Server header as the application's."""

    def __init__(self, *args: Any, on_lost: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_lost: Callable[[], None] | None = on_lost

    def connection_lost(self, exc: BaseException | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            on_lost, self._on_lost = self._on_lost, None
            if on_lost is not None:
                on_lost()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        resp = super().handle_error(request, status, exc, message)
        resp.headers[hdrs.SERVER] = SERVER_NAME
        return resp


class _Refuse(asyncio.Protocol):
    """Answers one connection over the cap with 503 and closes it. What the client sent is read
    and dropped until it closes too (or for a second): closing a socket with unread data resets
    the connection, and the client would lose the answer."""

    def __init__(self, retry_after: int) -> None:
        self._answer = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            f"Server: {SERVER_NAME}\r\nRetry-After: {retry_after}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 34\r\nConnection: close\r\n\r\n"
            "too many connections: retry later\n"
        ).encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._answer)
        transport.write_eof()
        self._closer = asyncio.get_running_loop().call_later(1.0, transport.close)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        return None

    def eof_received(self) -> bool:
        self._transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closer.cancel()


class _CappedSite(web.SockSite):
    """A listening socket whose protocol factory refuses connections past the cap."""

    def __init__(
        self,
        runner: web.AppRunner,
        sock: socket.socket,
        limits: Limits,
        kwargs: dict[str, Any],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, sock, backlog=limits.backlog)
        self.limits = limits
        self.handler_kwargs = kwargs
        self.tls = tls

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site (SockSite.start would listen)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        limits, kwargs = self.limits, self.handler_kwargs
        # Counted here, when asyncio asks for a protocol: the server's own list of connections
        # is filled only later (connection_made), after a burst of accepts has been let in.
        open_ = 0

        def lost() -> None:
            nonlocal open_
            open_ -= 1

        def protocol() -> asyncio.Protocol:
            nonlocal open_
            if open_ >= limits.max_connections:
                return _Refuse(limits.retry_after_seconds)
            open_ += 1
            return _Handler(server, loop=loop, on_lost=lost, **kwargs)

        extra: dict[str, Any] = {}
        if self.tls is not None:  # a client slow to finish its handshake is cut like a slow head
            extra = {"ssl": self.tls, "ssl_handshake_timeout": limits.head_timeout}
        self._server = await loop.create_server(
            protocol, sock=self._sock, backlog=limits.backlog, **extra
        )


async def _server_header(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers[hdrs.SERVER] = SERVER_NAME


def _listen_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=backlog)


class BackgroundServer:
    """Serves an aiohttp application from a daemon thread.

    The socket is bound in the constructor (so `port` is known and a busy port fails at once);
    `start` runs ``warm_up`` (if any) on a worker thread, begins serving and returns once it
    does (connections made meanwhile wait in the listen queue); `stop` closes the listener, lets requests
    in progress finish (up to 5 s) and ends the thread.
    """

    def __init__(
        self,
        routes: list[web.RouteDef],
        host: str,
        port: int,
        limits: Limits,
        *,
        name: str,
        warm_up: Callable[[], None] | None = None,
        access: Access | None = None,
    ) -> None:
        self._warm_up = warm_up
        self.access = access or Access()
        self._tls = self.access.ssl_context()  # a bad certificate fails here, at once
        middlewares = [_access_middleware(self.access)] if self.access.token else []
        self.app = web.Application(client_max_size=limits.max_body_bytes, middlewares=middlewares)
        self.app.add_routes(routes)
        self.app.on_response_prepare.append(_server_header)
        self.limits = limits
        self.name = name
        self._sock = _listen_socket(host, port, limits.backlog)
        self._port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(limits.workers, thread_name_prefix=f"{name}-work")

    @property
    def port(self) -> int:
        return self._port

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call on this server's bounded worker threads."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"{self.name}: the HTTP server did not start") from self._error
        if not self._ready.is_set():
            raise RuntimeError(f"{self.name}: the HTTP server did not start within 30 s")

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(stopping.set)
            self._thread.join(15)
        else:
            self._sock.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread ends either way
            self._error = exc
            log.exception("%s: HTTP server failed", self.name)
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        kwargs: dict[str, Any] = {
            "keepalive_timeout": self.limits.head_timeout,
            "lingering_time": self.limits.lingering_time,
            "access_log": None,
        }
        runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=5.0, **kwargs)
        await runner.setup()
        try:
            if self._warm_up is not None:
                await self.run_blocking(self._warm_up)
            await _CappedSite(runner, self._sock, self.limits, kwargs, self._tls).start()
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()
