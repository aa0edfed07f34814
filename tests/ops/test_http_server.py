"""Both HTTP servers (every service's /metrics + /healthz, ingest's POST /articles) against slow
and numerous clients: cut off when too slow, no thread per connection, no version banner."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import pytest
from prometheus_client import CollectorRegistry

from services.ingest.http_api import API_LIMITS, ArticlesApi
from shared.metrics import METRICS_LIMITS, MetricsServer
from tests.conftest import wait_for

DEADLINE = 30.0  # generous: far over the test limits below, far under "forever"
CLOSE_GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
QUICK = {"head_timeout": 1.0, "body_timeout": 1.0}  # so a test waits a second, not ten


class Server(Protocol):
    @property
    def port(self) -> int: ...
    def stop(self) -> None: ...


def metrics_server() -> Server:
    limits = dataclasses.replace(METRICS_LIMITS, **QUICK)
    return MetricsServer("127.0.0.1", 0, registry=CollectorRegistry(), limits=limits).start()


def api_server(**limits: Any) -> Server:
    def submit(records: Sequence[tuple[bytes | None, bytes]]) -> None:
        return None

    quick = dataclasses.replace(API_LIMITS, **{**QUICK, **limits})
    return ArticlesApi("127.0.0.1", 0, 10_000, submit, limits=quick).start()


SERVERS: dict[str, Callable[[], Server]] = {"metrics": metrics_server, "api": api_server}


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    srv = SERVERS[request.param]()
    yield srv
    srv.stop()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)


def closed_by_server(sock: socket.socket) -> bool:
    """Block (up to the socket timeout) until the server sends EOF or resets; any answer bytes
    before the EOF are read and ignored. False when the deadline passes with the socket open."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
    return False


def exchange(port: int, request: bytes) -> bytes:
    with connect(port) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_slow_header_client_is_disconnected(server: Server) -> None:
    with connect(server.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never ends its header
        assert closed_by_server(sock)


def test_a_slow_body_client_is_disconnected() -> None:
    api = api_server()
    try:
        with connect(api.port) as sock:
            sock.sendall(
                b"POST /articles HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 1000\r\n\r\nonly part of it"
            )
            assert closed_by_server(sock)
    finally:
        api.stop()


def test_many_idle_connections_do_not_each_take_a_thread(server: Server) -> None:
    before = threading.active_count()
    socks = [connect(server.port) for _ in range(200)]
    try:
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")  # a started, unfinished request
        # Connections are accepted in order: once a later one is answered, all were accepted.
        answer = exchange(
            server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.")
        assert threading.active_count() < before + 20
    finally:
        for s in socks:
            s.close()


def test_no_version_banner(server: Server) -> None:
    for request in (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"BROKEN\r\n\r\n",  # answered by the HTTP parser itself, before any route
    ):
        answer = exchange(server.port, request)
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1."), answer[:200]
        assert b"python" not in head and b"aiohttp" not in head and b"basehttp" not in head


def test_connections_past_the_cap_get_503_until_one_closes() -> None:
    limits = dataclasses.replace(METRICS_LIMITS, max_connections=3)
    server = MetricsServer("127.0.0.1", 0, registry=CollectorRegistry(), limits=limits).start()
    socks = [connect(server.port) for _ in range(3)]
    try:
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
        refused = exchange(
            server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert refused.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nretry-after: " in refused.lower()
        socks.pop().close()
        wait_for(
            lambda: exchange(server.port, CLOSE_GET).startswith(b"HTTP/1.1 200 "),
            timeout=DEADLINE,
            message="a connection slot frees up",
        )
    finally:
        for s in socks:
            s.close()
        server.stop()


def test_a_busy_port_fails_in_the_constructor_and_the_api_stays() -> None:
    first = metrics_server()
    try:
        with pytest.raises(OSError, match="in use"):
            MetricsServer("127.0.0.1", first.port, registry=CollectorRegistry())
        assert exchange(
            first.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    finally:
        first.stop()
