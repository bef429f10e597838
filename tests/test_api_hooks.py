"""The Okta event hook over HTTP: the one-time verification, the shared-secret header, deliveries answered
204 and processed behind the answer, redeliveries that add nothing, the spool resumed after a crash, and
the silence (a push nobody answered) that the worker lets speak."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.simulate import okta_records as okta
from tests.api_env import HOOK_SECRET, VICTIM, Env, bombing_records, running, week_at_home
from tests.events import T0

AUTH = {"Authorization": HOOK_SECRET}


def delivery(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An event-hook request body as Okta sends it (only data.events is read)."""
    return {
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://corp.okta.com/api/v1/eventHooks/who8example",
        "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
        "eventTime": "2026-03-02T09:10:00.000Z",
        "contentType": "application/json",
        "data": {"events": records},
    }


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with running(tmp_path) as started:
        yield started


def findings(env: Env, **params: str) -> list[dict[str, Any]]:
    page = env.client.get("/v1/findings", params=params, headers=env.headers("read"))
    assert page.status_code == 200, page.text
    result: list[dict[str, Any]] = page.json()["findings"]
    return result


def test_verification_echoes_the_challenge(env: Env) -> None:
    answer = env.client.get("/v1/hooks/okta", headers={**AUTH, "X-Okta-Verification-Challenge": "abc123"})
    assert answer.status_code == 200 and answer.json() == {"verification": "abc123"}
    missing = env.client.get("/v1/hooks/okta", headers=AUTH)
    assert missing.status_code == 400 and missing.json()["error"] == "missing_challenge"


@pytest.mark.parametrize("sent", [None, "", "wrong-secret-value-0123", HOOK_SECRET + "x", HOOK_SECRET[:-1]])
def test_the_shared_secret_is_required(env: Env, sent: str | None) -> None:
    headers = {"X-Okta-Verification-Challenge": "abc"}
    if sent is not None:
        headers["Authorization"] = sent
    assert env.client.get("/v1/hooks/okta", headers=headers).status_code == 401
    posted = env.client.post("/v1/hooks/okta", json=delivery(bombing_records()), headers=headers)
    assert posted.status_code == 401 and HOOK_SECRET not in posted.text
    env.service.engine.flush()
    assert findings(env) == []  # nothing was queued


def test_a_custom_header_name(tmp_path: Path) -> None:
    with running(tmp_path, okta_hook_header="X-Pushguard-Hook") as env:
        headers = {"X-Pushguard-Hook": HOOK_SECRET, "X-Okta-Verification-Challenge": "c"}
        assert env.client.get("/v1/hooks/okta", headers=headers).json() == {"verification": "c"}
        assert (
            env.client.get(
                "/v1/hooks/okta", headers={**AUTH, "X-Okta-Verification-Challenge": "c"}
            ).status_code
            == 401
        )


def test_an_unconfigured_hook_is_not_there(tmp_path: Path) -> None:
    with running(tmp_path, okta_hook_secret=None) as env:
        answer = env.client.get("/v1/hooks/okta", headers={**AUTH, "X-Okta-Verification-Challenge": "c"})
        assert answer.status_code == 404


def test_delivery_is_answered_then_processed_once_despite_redelivery(env: Env) -> None:
    body = delivery(bombing_records())
    first = env.client.post("/v1/hooks/okta", json=body, headers=AUTH)
    assert first.status_code == 204 and first.content == b""
    env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
    bombing = [f for f in findings(env) if f["detector"] == "push_bombing"]
    assert len(bombing) == 1 and bombing[0]["user"] == VICTIM
    profile_before = env.client.get(f"/v1/identities/{VICTIM}", headers=env.headers("read")).json()
    # Okta retries a delivery it thinks failed: the same events again, in another request
    assert env.client.post("/v1/hooks/okta", json=body, headers=AUTH).status_code == 204
    env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
    every = findings(env)
    assert len({f["id"] for f in every}) == len(every)
    assert [f["id"] for f in every if f["detector"] == "push_bombing"] == [bombing[0]["id"]]
    profile_after = env.client.get(f"/v1/identities/{VICTIM}", headers=env.headers("read")).json()
    assert profile_after["events"] == profile_before["events"] == 22  # counts did not inflate
    metrics = env.client.get("/metrics", headers=env.headers("read")).text
    assert 'pushguard_hook_deliveries_total{outcome="accepted"} 2.0' in metrics
    assert 'pushguard_hook_deliveries_total{outcome="processed"} 2.0' in metrics
    assert 'pushguard_records_total{source="okta-hook"} 44.0' in metrics
    assert "pushguard_hook_queue 0.0" in metrics
    assert list(Path(env.config.spool_dir() or "").glob("*.json")) == []  # processed files removed


def test_bad_deliveries_are_refused_before_queueing(env: Env) -> None:
    cases: list[tuple[bytes, int]] = [
        (b"{not json", 400),
        (b'{"data": {}}', 422),
        (b'{"data": {"events": {"a": 1}}}', 422),
        (b"[]", 422),
    ]
    for raw, status in cases:
        answer = env.client.post(
            "/v1/hooks/okta", content=raw, headers={**AUTH, "content-type": "application/json"}
        )
        assert answer.status_code == status, raw
        assert answer.json()["error"] == ("invalid_json" if status == 400 else "invalid_body")
        assert "Traceback" not in answer.text
    assert list(Path(env.config.spool_dir() or "").glob("*")) == []


def test_broken_records_in_a_delivery_are_counted(env: Env) -> None:
    records: list[Any] = [*bombing_records()[:2], {"eventType": "user.session.start"}, "not an object"]
    assert env.client.post("/v1/hooks/okta", json=delivery(records), headers=AUTH).status_code == 204
    env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
    metrics = env.client.get("/metrics", headers=env.headers("read")).text
    assert 'pushguard_records_rejected_total{reason="malformed"} 1.0' in metrics
    # the vendor's event type is not a label (a sender controls it): its class is
    assert 'pushguard_records_rejected_total{reason="unmapped_okta"} 1.0' in metrics
    assert "user.session.start" not in metrics


def test_a_spool_left_by_a_crash_is_processed_at_start(tmp_path: Path) -> None:
    spool = tmp_path / "state.sqlite.hooks"
    spool.mkdir()
    body = json.dumps(delivery(bombing_records())).encode()
    (spool / "00000000000000000001-aaaaaaaa.json").write_bytes(body)
    (spool / "00000000000000000002-bbbbbbbb.json").write_bytes(body)  # Okta's retry of the same
    (spool / "00000000000000000003-cccccccc.tmp").write_bytes(b"half written")  # never answered 204
    (spool / "00000000000000000004-dddddddd.json").write_bytes(b"damaged on disk")
    with running(tmp_path) as env:
        env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
        bombing = [f for f in findings(env) if f["detector"] == "push_bombing"]
        assert len(bombing) == 1
        left = sorted(p.name for p in spool.iterdir())
        assert left == ["00000000000000000004-dddddddd.rejected"]  # set aside, not retried forever
        metrics = env.client.get("/metrics", headers=env.headers("read")).text
        assert 'pushguard_hook_deliveries_total{outcome="unreadable"} 1.0' in metrics


def test_findings_survive_a_restart_and_redelivery_after_it(tmp_path: Path) -> None:
    body = delivery(bombing_records())
    with running(tmp_path) as env:
        env.client.post("/v1/hooks/okta", json=body, headers=AUTH)
        env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
        before = findings(env)
    with running(tmp_path) as env:  # same state file, a new process's worth of objects
        env.client.post("/v1/hooks/okta", json=body, headers=AUTH)
        env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
        after = findings(env)
    assert before and [(f["id"], f["revision"]) for f in after] == [(f["id"], f["revision"]) for f in before]


def fatigue_records() -> list[dict[str, Any]]:
    """A week of answered pushes from home, then five unanswered ones 20 minutes apart from an address
    the victim never used: fatigue that only the silence after the last one reveals (Okta logs no
    timeout)."""
    records = week_at_home()
    for n in range(5):
        moment = T0 + timedelta(minutes=20 * n)
        records.append(okta.push_sent(moment, VICTIM, "203.0.113.50", "newyork", seed=f"f{n}"))
    return records


def test_the_worker_lets_silence_speak(tmp_path: Path) -> None:
    with running(tmp_path, advance_every_s=0.05, allowed_lateness_s=600) as env:
        env.client.post("/v1/hooks/okta", json=delivery(fatigue_records()), headers=AUTH)
        env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
        time.sleep(0.2)  # several advance periods: nothing is due yet (the last push may be answered)
        assert [f for f in findings(env) if f["detector"] == "push_fatigue"] == []
        later = okta.push_answer(
            T0 + timedelta(minutes=100), "other@corp.example", "192.0.2.1", "paris", True
        )
        env.client.post("/v1/hooks/okta", json=delivery([later]), headers=AUTH)  # time moves on
        deadline = time.monotonic() + 10
        fatigue: list[dict[str, Any]] = []
        while not fatigue and time.monotonic() < deadline:
            time.sleep(0.05)
            fatigue = [f for f in findings(env) if f["detector"] == "push_fatigue"]
        assert len(fatigue) == 1 and fatigue[0]["user"] == VICTIM
        metrics = env.client.get("/metrics", headers=env.headers("read")).text
        assert 'pushguard_findings_total{detector="push_fatigue"} 1.0' in metrics
