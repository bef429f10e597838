"""``pushguard serve --workers N`` (issue 19, item 20): several processes on one port, their state shared
through Redis; one process with a state of its own refuses to be several."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
import redis
from typer.testing import CliRunner

from pushguard.api import KeyStore, Scope
from pushguard.cli import app
from tests.api_env import DECIDE, bombing_records
from tests.redis_support import REDIS_URL, client, prefix
from tests.server_support import serving
from tests.test_api_redis import _drain

__all__ = ["client", "prefix"]  # fixtures


def test_several_workers_need_a_shared_state(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--workers", "2"],
        env={"PUSHGUARD_STATE": str(tmp_path / "s.sqlite"), "REDIS_URL": None, "PUSHGUARD_REDIS_URL": None},
    )
    assert result.exit_code == 2 and "needs redis_url" in result.output


@pytest.mark.redis
def test_two_workers_answer_from_the_shared_state(client: redis.Redis, prefix: str, tmp_path: Path) -> None:
    _, token = KeyStore(tmp_path / "keys.json").create("workers", [Scope.ADMIN])
    settings = {
        "PUSHGUARD_REDIS_URL": REDIS_URL,
        "PUSHGUARD_REDIS_PREFIX": prefix,
        "PUSHGUARD_REDIS_PARTITIONS": "4",
    }
    headers = {"Authorization": f"Bearer {token}"}
    with serving(tmp_path, settings, "--workers", "2") as (port, log):
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while len(re.findall(r"Application startup complete", log.read_text())) < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        pids = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
        assert len(pids) == 2
        queued = httpx.post(
            f"{url}/v1/events", json={"records": bombing_records()}, headers=headers, timeout=30
        )
        assert queued.status_code == 200 and queued.json()["queued"] == len(bombing_records())
        _drain(client, prefix)  # a `pushguard worker` advances the shared state
        answers = set()
        for _ in range(20):  # new connections: the kernel spreads them over both processes
            with httpx.Client(base_url=url, headers=headers, timeout=10) as one:
                answer = one.post("/v1/decide", json=DECIDE)
                assert answer.status_code == 200, answer.text
                answers.add(answer.json()["decision"])
        assert answers == {"step_up"}  # every process read the bombing from Redis
