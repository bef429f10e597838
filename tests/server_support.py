"""``pushguard serve`` as a real server for the tests that need sockets (deadlines, conformance)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def serving(root: Path, settings: dict[str, str], *args: str) -> Iterator[tuple[int, Path]]:
    """The service on a free loopback port with ``settings`` (PUSHGUARD_* variables) over a state in
    ``root``; yields (port, log file) once /healthz answers."""
    port = free_port()
    log = root / "server.log"
    env = {
        # REDIS_URL (the tests' own Redis) would move the service's state to Redis: only settings may
        **{name: value for name, value in os.environ.items() if name != "REDIS_URL"},
        "PUSHGUARD_STATE": str(root / "state.sqlite"),
        "PUSHGUARD_KEYS_FILE": str(root / "keys.json"),
        **settings,
    }
    command = [sys.executable, "-m", "pushguard", "serve", "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                pytest.fail("the server did not start: " + log.read_text()[-2000:])
            yield port, log
        finally:
            process.terminate()
            process.wait(30)
