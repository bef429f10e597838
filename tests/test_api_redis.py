"""The service on Redis: /v1/events puts records on the partition streams (once, whatever the
redeliveries), `pushguard worker` finds, and decide / findings / identities read the workers' state, so
any number of replicas answer alike. Against the real Redis server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from pushguard.api import ServiceConfig, load_config
from pushguard.cli.stream_worker import StreamWorker, WorkerOptions
from pushguard.enrich import build_enrichers
from pushguard.flow import Flow, analyze
from pushguard.model import ConfigError
from tests.api_env import DECIDE, VICTIM, bombing_records, running
from tests.redis_support import REDIS_URL, client, prefix

pytestmark = pytest.mark.redis
__all__ = ["client", "prefix"]  # fixtures


def _drain(client: redis.Redis, prefix: str, limit_s: float = 60) -> None:
    options = WorkerOptions(name="w1", flow=Flow(), enrichers=build_enrichers(), block_ms=5, batch=100)
    worker = StreamWorker(client, prefix, options)
    worker.bus.open(None)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not worker.step() and worker.finished():
            worker.stop()
            return
    raise AssertionError("the worker did not finish")


def test_events_are_queued_once_and_the_workers_state_answers(
    client: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    records = bombing_records()
    with running(tmp_path, redis_url=REDIS_URL, redis_prefix=prefix, redis_partitions=4) as env:
        ingest = env.headers("ingest")
        first = env.client.post("/v1/events", json={"records": records}, headers=ingest)
        assert first.status_code == 200, first.text
        reply = first.json()
        assert reply["queued"] == len(records) and reply["duplicates"] == 0
        assert reply["findings"] == []  # the workers find, not the API process
        again = env.client.post("/v1/events", json={"records": records[-3:]}, headers=ingest)
        assert again.json()["queued"] == 0 and again.json()["duplicates"] == 3  # a redelivery
        timeless = {k: v for k, v in records[0].items() if k != "published"}
        broken = env.client.post("/v1/events", json={"records": [timeless, 7]}, headers=ingest)
        assert broken.json()["rejected"]["malformed"] == 2 and broken.json()["queued"] == 0
        assert any("published" in error for error in broken.json()["errors"])

        before = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).json()
        assert before["decision"] == "number_match"  # nothing processed yet: no history, no bombing
        _drain(client, prefix)

        found = env.client.get("/v1/findings", headers=env.headers("read")).json()["findings"]
        log = tmp_path / "okta.jsonl"
        log.write_text("".join(json.dumps(r) + "\n" for r in records))
        expected = analyze([log]).findings
        assert {(f["id"], f["detector"]) for f in found} == {(f.id, f.detector) for f in expected}
        assert any(f["detector"] == "push_bombing" for f in found)
        summary = env.client.get(f"/v1/identities/{VICTIM}", headers=env.headers("read")).json()
        assert summary["known"] is True and "push_bombing" in summary["open_findings"]
        after = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).json()
        assert after["decision"] == "step_up"
        assert env.client.get("/readyz").status_code == 200


def test_redis_down_is_a_503_and_not_ready(tmp_path: Path) -> None:
    with running(tmp_path, redis_url="redis://127.0.0.1:1/0") as env:
        response = env.client.post(
            "/v1/events", json={"records": bombing_records()[:2]}, headers=env.headers("ingest")
        )
        assert response.status_code == 503 and response.json()["error"] == "store_unavailable"
        assert "Traceback" not in response.text
        assert env.client.get("/readyz").status_code == 503


def test_redis_settings_from_the_environment_are_checked(tmp_path: Path) -> None:
    config = load_config(None, {"PUSHGUARD_REDIS_URL": REDIS_URL, "PUSHGUARD_REDIS_PARTITIONS": "4"})
    assert isinstance(config, ServiceConfig)
    assert config.redis_url == REDIS_URL and config.redis_partitions == 4
    with pytest.raises(ConfigError, match="redis_url must start with"):
        load_config(None, {"PUSHGUARD_REDIS_URL": "http://secret@example"})
    with pytest.raises(ConfigError) as bad:
        load_config(None, {"PUSHGUARD_REDIS_PARTITIONS": "many"})
    assert "PUSHGUARD_REDIS_PARTITIONS" in str(bad.value)
