"""The HTTP service over real HTTP requests (Starlette's TestClient drives the ASGI app): every endpoint,
keys and scopes, bad bodies, metrics. The Okta event hook: test_api_hooks.py; config and keys CLI:
test_api_config.py. Shared fixtures: tests/api_env.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pushguard.model import DecisionAction
from tests.api_env import DECIDE, VICTIM, Env, bombing_records, running


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with running(tmp_path) as started:
        yield started


def test_health_needs_no_key(env: Env) -> None:
    assert env.client.get("/healthz").json() == {"status": "ok"}
    assert env.client.get("/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/decide"),
        ("post", "/v1/events"),
        ("get", "/v1/findings"),
        ("get", "/v1/identities/x"),
        ("get", "/v1/policies"),
        ("get", "/metrics"),
        ("post", "/v1/policies/reload"),
    ],
)
def test_every_endpoint_needs_a_key(env: Env, method: str, path: str) -> None:
    response = env.client.request(method, path, json={})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    wrong = env.client.request(method, path, json={}, headers={"Authorization": "Bearer pg_nope_nope"})
    assert wrong.status_code == 401


def test_scopes_are_enforced(env: Env) -> None:
    refused = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("read"))
    assert refused.status_code == 403 and "decide" in refused.json()["detail"]
    assert env.client.get("/v1/findings", headers=env.headers("decide")).status_code == 403
    assert env.client.post("/v1/decide", json=DECIDE, headers=env.headers("admin")).status_code == 200


def test_a_revoked_key_is_refused(env: Env) -> None:
    key_id = env.tokens["decide"].split("_")[1]
    env.keys.revoke(key_id)
    assert env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).status_code == 401


def test_keys_are_stored_hashed(env: Env) -> None:
    stored = Path(env.config.keys_file).read_text()
    for token in env.tokens.values():
        assert token.split("_", 2)[2] not in stored
    assert env.keys.verify(env.tokens["read"]) is not None
    assert env.keys.verify(env.tokens["read"] + "x") is None


def test_decide_after_ingesting_a_bombing(env: Env) -> None:
    ingest = env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
    assert ingest.status_code == 200, ingest.text
    body = ingest.json()
    assert body["records"] == 22 and body["events"] == 22
    assert any(f["detector"] == "push_bombing" for f in body["findings"])
    decided = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide"))
    assert decided.status_code == 200
    decision = decided.json()
    assert decision["decision"] == "step_up"  # an identity under attack is stepped up, never denied
    assert decision["phishing_resistant"] is True
    assert decision["policy_version"].startswith("default")
    assert any(r["code"] == "push_bombing" for r in decision["reasons"])
    assert env.service.decision_log is not None
    env.service.decision_log.flush()  # written by its own thread
    logged = Path(env.config.decision_log or "").read_text().splitlines()
    assert json.loads(logged[-1])["decision"]["decision"] == "step_up"


def test_bad_bodies_get_clear_4xx(env: Env) -> None:
    headers = env.headers("decide")
    missing = env.client.post("/v1/decide", json={"operation": "push"}, headers=headers)
    assert missing.status_code == 422 and "identity" in missing.json()["detail"]
    naive = env.client.post("/v1/decide", json={**DECIDE, "time": "2026-03-02T09:10:00"}, headers=headers)
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    broken = env.client.post(
        "/v1/decide", content=b'{"operation": ', headers={**headers, "content-type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_json"
    wrong_type = env.client.post("/v1/decide", json={**DECIDE, "operation": "teleport"}, headers=headers)
    assert wrong_type.status_code == 422
    big = env.client.post(
        "/v1/events",
        content=b"[" + b" " * 70_000 + b"]",
        headers={**env.headers("ingest"), "content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["error"] == "body_too_large"
    for response in (missing, naive, broken, wrong_type, big):
        assert "Traceback" not in response.text


def test_broken_records_are_counted_not_fatal(env: Env) -> None:
    no_uuid = {"eventType": "user.session.start", "outcome": {"result": "SUCCESS"}}
    records: list[Any] = [*bombing_records()[:2], no_uuid, "not an object"]
    response = env.client.post(
        "/v1/events", json={"records": records, "provider": "okta"}, headers=env.headers("ingest")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["events"] == 2
    assert body["rejected"]["malformed"] == 2
    assert len(body["errors"]) == 2


def test_findings_filters_and_pages(env: Env) -> None:
    env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
    headers = env.headers("read")
    everything = env.client.get("/v1/findings", headers=headers).json()
    assert everything["total"] >= 1
    only = env.client.get(
        "/v1/findings", params={"detector": "push_bombing", "user": VICTIM}, headers=headers
    ).json()
    assert only["total"] == 1 and only["findings"][0]["detector"] == "push_bombing"
    assert (
        env.client.get("/v1/findings", params={"user": "nobody@corp.example"}, headers=headers).json()[
            "total"
        ]
        == 0
    )
    assert (
        env.client.get(
            "/v1/findings", params={"severity": "critical", "detector": "push_bombing"}, headers=headers
        ).json()["total"]
        == 0
    )
    later = env.client.get("/v1/findings", params={"since": "2030-01-01T00:00:00Z"}, headers=headers).json()
    assert later["total"] == 0
    page = env.client.get("/v1/findings", params={"limit": 1}, headers=headers).json()
    assert len(page["findings"]) == 1
    assert (page["next_offset"] == 1) == (everything["total"] > 1)
    assert env.client.get("/v1/findings", params={"limit": 0}, headers=headers).status_code == 422
    assert env.client.get("/v1/findings", params={"severity": "dire"}, headers=headers).status_code == 422


def test_identity_summary(env: Env) -> None:
    env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
    summary = env.client.get(f"/v1/identities/{VICTIM}", headers=env.headers("read")).json()
    assert summary["known"] is True and summary["events"] == 22
    assert "push_bombing" in summary["open_findings"]
    assert summary["risk"] >= 45
    unknown = env.client.get("/v1/identities/nobody@corp.example", headers=env.headers("read")).json()
    assert unknown["known"] is False and unknown["risk"] == 0


def test_policies_and_a_failed_reload_keeps_the_last_good(env: Env, tmp_path: Path) -> None:
    policy = env.client.get("/v1/policies", headers=env.headers("read")).json()
    assert policy["version"].startswith("default") and "number-match-every-push" in policy["rules"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nrules:\n  - name: r\n    condition: operation ==\n    action: deny\n")
    env.service.config.policy = str(bad)
    refused = env.client.post("/v1/policies/reload", headers=env.headers("admin"))
    assert refused.status_code == 422 and "kept version default" in refused.json()["detail"]
    after = env.client.get("/v1/policies", headers=env.headers("read")).json()
    assert after["version"] == policy["version"] and after["last_reload_error"]
    assert env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).status_code == 200


def test_metrics_count_requests_decisions_findings_and_rejections(env: Env) -> None:
    env.client.post(
        "/v1/events",
        json={"records": [*bombing_records(), "not an object", {"what": "no vendor"}]},
        headers=env.headers("ingest"),
    )
    env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide"))
    text = env.client.get("/metrics", headers=env.headers("read")).text
    assert 'pushguard_decisions_total{action="step_up"} 1.0' in text
    assert 'pushguard_findings_total{detector="push_bombing"}' in text
    assert 'pushguard_records_rejected_total{reason="malformed"} 1.0' in text
    assert 'pushguard_records_rejected_total{reason="unrecognised"} 1.0' in text
    assert 'pushguard_records_total{source="api"} 24.0' in text
    assert 'pushguard_http_requests_total{method="POST",route="/v1/decide",status="200"} 1.0' in text
    assert "pushguard_http_request_seconds_bucket" in text


def test_openapi_documents_the_bodies(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    decide_body = spec["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "operation" in decide_body["properties"] and "identity" in decide_body["required"]
    assert env.client.get("/docs").status_code == 200


def test_an_unexpected_failure_is_a_500_without_a_trace(env: Env) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("secret internals")

    env.service.findings = broken  # type: ignore[method-assign,assignment]
    response = env.client.get("/v1/findings", headers=env.headers("read"))
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert response.json()["error"] == "internal"


def test_an_api_key_header_works_too(env: Env) -> None:
    answer = env.client.post("/v1/decide", json=DECIDE, headers={"X-API-Key": env.tokens["decide"]})
    assert answer.status_code == 200


def test_a_streamed_body_over_the_limit_is_refused_while_it_arrives(env: Env) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"records": ['
        for _ in range(100):
            yield b'"' + b"x" * 1000 + b'",'
        yield b'"end"]}'

    answer = env.client.post(
        "/v1/events", content=chunks(), headers={**env.headers("ingest"), "content-type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"
    assert answer.headers["x-request-id"]


def test_other_refusals_keep_the_error_shape(env: Env) -> None:
    text = env.client.post(
        "/v1/decide",
        content=b"operation=push",
        headers={**env.headers("decide"), "content-type": "text/plain"},
    )
    assert text.status_code == 415 and text.json()["error"] == "unsupported_media_type"
    nowhere = env.client.get("/v1/nowhere", headers=env.headers("read"))
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "not_found"
    wrong_method = env.client.delete("/v1/decide", headers=env.headers("decide"))
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    extra = env.client.post("/v1/events", json={"records": [], "sneaky": 1}, headers=env.headers("ingest"))
    assert extra.status_code == 422 and "sneaky" in extra.json()["detail"]
    not_a_list = env.client.post("/v1/events", json={"records": {}}, headers=env.headers("ingest"))
    assert not_a_list.status_code == 422 and "records" in not_a_list.json()["detail"]
    no_parser = env.client.post(
        "/v1/events", json={"records": [], "provider": "pushguard"}, headers=env.headers("ingest")
    )
    assert no_parser.status_code == 422 and "provider" in no_parser.json()["detail"]


def test_since_must_be_a_zoned_time(env: Env) -> None:
    env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
    headers = env.headers("read")
    for bad in ("yesterday", "2026-03-02T09:00:00"):
        answer = env.client.get("/v1/findings", params={"since": bad}, headers=headers)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request", bad
    every = env.client.get("/v1/findings", headers=headers).json()["findings"]
    first = min(f["detected_at"] for f in every)
    # the same instant in another zone selects the same findings as in UTC
    from datetime import datetime, timedelta, timezone

    moment = datetime.fromisoformat(first).astimezone(timezone(timedelta(hours=2)))
    zoned = env.client.get("/v1/findings", params={"since": moment.isoformat()}, headers=headers).json()
    assert zoned["total"] == len(every)
    after = (moment + timedelta(microseconds=1)).isoformat()
    assert env.client.get("/v1/findings", params={"since": after}, headers=headers).json()["total"] < len(
        every
    )


def test_decide_reads_committed_state_without_touching_the_engine(env: Env) -> None:
    cached = len(env.service.engine._cache)
    for n in range(50):
        body = {**DECIDE, "identity": f"stranger{n}@corp.example"}
        assert env.client.post("/v1/decide", json=body, headers=env.headers("decide")).status_code == 200
        env.client.get(f"/v1/identities/stranger{n}@corp.example", headers=env.headers("read"))
    assert len(env.service.engine._cache) == cached  # strangers leave no trace in memory


def test_a_failing_store_gives_the_fallback_not_an_error(tmp_path: Path) -> None:
    with running(tmp_path, decide_fallback=DecisionAction.DENY) as env:

        def unreachable(keys: object) -> dict[str, bytes]:
            raise ConnectionError("state store down")

        env.service.decide_reader.load = unreachable  # type: ignore[method-assign]
        answer = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide"))
        assert answer.status_code == 200
        decision = answer.json()
        assert decision["decision"] == "deny" and decision["fallback"] is True
        assert decision["reasons"][0]["code"] == "store_error"
        metrics = env.client.get("/metrics", headers=env.headers("read")).text
        assert "pushguard_decision_fallbacks_total 1.0" in metrics


def test_every_answer_has_a_request_id_and_the_log_is_json(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    from pushguard.api.logs import JsonFormatter

    caplog.set_level("INFO", logger="pushguard.api")
    answer = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide"))
    request_id = answer.headers["x-request-id"]
    records = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["route"] == "/v1/decide" and line["status"] == 200 and line["method"] == "POST"
    assert line["key"] == env.tokens["decide"].split("_")[1]
    secret = env.tokens["decide"].split("_", 2)[2]
    assert all(secret not in JsonFormatter().format(r) for r in caplog.records)
