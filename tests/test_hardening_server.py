"""The service as a real server (issue 19, item 13): a request head or body that never arrives does not
hold a connection, and a client that leaves mid-body is not a server error."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pushguard.api import KeyStore, Scope
from tests.server_support import serving

READ_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, str]]:
    root = tmp_path_factory.mktemp("server")
    _, token = KeyStore(root / "keys.json").create("test", [Scope.DECIDE])
    settings = {"PUSHGUARD_READ_TIMEOUT_S": str(READ_TIMEOUT_S), "PUSHGUARD_MAX_CONNECTIONS": "2000"}
    with serving(root, settings) as (port, log):
        yield port, log, token


def closed_within(conn: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, or None when it kept the connection open that long."""
    conn.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return received
            received += chunk
    except TimeoutError:
        return None


def test_half_sent_request_heads_are_closed(server: tuple[int, Path, str]) -> None:
    port, _, _ = server
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        for n, conn in enumerate(conns):
            conn.sendall(b"POST /v1/decide HT" if n % 2 else b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        began = time.monotonic()
        for conn in conns:
            assert closed_within(conn, READ_TIMEOUT_S * 5) is not None, "a half-sent request held on"
        assert time.monotonic() - began < READ_TIMEOUT_S * 5
    finally:
        for conn in conns:
            conn.close()
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200  # still serving


def test_an_idle_connection_after_a_response_is_closed_even_if_a_byte_came(
    server: tuple[int, Path, str],
) -> None:
    port, _, _ = server
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        conn.sendall(b"G")  # cancels uvicorn's keep-alive timer: the head deadline still runs
        answer = closed_within(conn, READ_TIMEOUT_S * 8)
        assert answer is not None and answer.startswith(b"HTTP/1.1 200")


def test_a_declared_body_that_never_arrives_is_a_408(server: tuple[int, Path, str]) -> None:
    port, _, token = server
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            b"POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\n".encode()
            + b'Content-Length: 100\r\n\r\n{"ope'
        )
        answer = closed_within(conn, READ_TIMEOUT_S * 5)
    assert answer is not None, "the server waited for the body beyond its deadline"
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer


def test_a_client_gone_mid_body_is_logged_as_499_not_500(server: tuple[int, Path, str]) -> None:
    port, log, _ = server
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            b"POST /v1/hooks/okta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"data": '
        )
        time.sleep(0.2)
    time.sleep(0.5)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("message") == "request" and line.get("route") != "other"]
    assert all(line["status"] != 500 for line in requests)
    assert not [line for line in lines if line.get("message") == "unhandled error"]
