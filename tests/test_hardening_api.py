"""The HTTP service against hostile requests (issue 19): JSON nested too deep, times at the ends of the
calendar, identities in another case, addresses that are not addresses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.decide import decide, engine, load_policy
from pushguard.model import DecisionAction, DecisionRequest, IdentityProfile
from pushguard.sources.limits import MAX_DEPTH, TOO_DEEP
from tests.api_env import DECIDE, HOOK_SECRET, Env, bombing_records, running

HOOK = {"Authorization": HOOK_SECRET, "Content-Type": "application/json"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with running(tmp_path, max_body_bytes=4 * 1024 * 1024) as started:
        yield started


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def delivery(events: str) -> str:
    return '{"eventType": "com.okta.event_hook", "data": {"events": ' + events + "}}"


# -- item 2: JSON nested too deep ---------------------------------------------------------------------


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_deep_bodies_are_refused_as_bad_json(env: Env, levels: int) -> None:
    deep = nested(levels)
    bodies = {
        "/v1/decide": (json.dumps(DECIDE)[:-1] + ', "extra": ' + deep + "}", env.headers("decide")),
        "/v1/events": ('{"records": ' + deep + "}", env.headers("ingest")),
        "/v1/hooks/okta": (delivery(deep), HOOK),
    }
    for path, (body, headers) in bodies.items():
        answer = env.client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert answer.status_code in (400, 422), (path, answer.status_code, answer.text[:200])
        assert answer.json()["error"] in ("invalid_json", "invalid_body"), (path, answer.text[:200])


def test_a_deep_record_in_a_batch_is_counted_and_the_rest_ingested(env: Env) -> None:
    records = bombing_records()
    text = json.dumps(records)
    body = '{"records": [' + text[1:-1] + ', {"debugContext": ' + nested(MAX_DEPTH + 1) + "}]}"
    answer = env.client.post("/v1/events", content=body, headers=env.headers("ingest"))
    assert answer.status_code == 200, answer.text[:300]
    reply = answer.json()
    assert reply["events"] == len(records) and reply["rejected"] == {"malformed": 1}
    assert reply["errors"] == [f"api#{len(records) + 1}: {TOO_DEEP}"]
    assert any(f["detector"] == "push_bombing" for f in reply["findings"])


def test_a_deep_event_in_a_hook_delivery_is_counted_and_the_rest_processed(env: Env) -> None:
    records = bombing_records()
    deep = json.dumps(records[-1]).replace('"debugData": {', '"debugData": {"deep": ' + nested(500) + ", ", 1)
    events = json.dumps(records[:-1])[:-1] + ", " + deep + "]"
    answer = env.client.post("/v1/hooks/okta", content=delivery(events), headers=HOOK)
    assert answer.status_code == 204, answer.text[:300]
    env.client.app.state.hooks.drain()  # type: ignore[attr-defined]
    found = env.client.get("/v1/findings", headers=env.headers("read")).json()["findings"]
    assert any(f["detector"] == "push_bombing" for f in found)
    metrics = env.client.get("/metrics", headers=env.headers("read")).text
    assert 'pushguard_records_rejected_total{reason="malformed"} 1.0' in metrics


# -- item 3: times at the ends of the calendar ----------------------------------------------------------


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_beyond_the_utc_calendar_is_refused(env: Env, moment: str) -> None:
    answer = env.client.post("/v1/decide", json={**DECIDE, "time": moment}, headers=env.headers("decide"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_body" and "years 1000 to 9998" in answer.json()["detail"]
    # the request type itself refuses them too (the CLI, the Python API): no OverflowError later
    with pytest.raises(msgspec.ValidationError, match="out of range once converted to UTC"):
        msgspec.convert({**DECIDE, "time": moment}, DecisionRequest)


@pytest.mark.parametrize("moment", ["1000-01-01T00:00:00+14:00", "9998-12-31T23:59:59-01:00"])
def test_the_first_and_last_years_of_the_api_are_decided(env: Env, moment: str) -> None:
    answer = env.client.post("/v1/decide", json={**DECIDE, "time": moment}, headers=env.headers("decide"))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_the_first_and_last_utc_seconds_are_decided_in_process(moment: str) -> None:
    request = msgspec.convert({**DECIDE, "time": moment}, DecisionRequest)
    assert decide(request, load_policy(None), lambda identity: None).evaluated_at == moment


def test_an_evaluation_that_fails_answers_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    def overflowing(
        request: DecisionRequest, profile: IdentityProfile, org: int | None = None
    ) -> dict[str, Any]:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(engine, "compute_signals", overflowing)
    policy = load_policy(None)
    request = msgspec.convert(DECIDE, DecisionRequest)
    decision = decide(request, policy, lambda identity: None)
    assert decision.fallback and decision.decision is policy.fallback
    assert decision.reasons[0].code == "evaluation_error" and "OverflowError" in decision.reasons[0].message
    assert decide(request, policy, lambda identity: None, fallback=DecisionAction.DENY).decision is (
        DecisionAction.DENY
    )


# -- item 8: the identity of a decide request is canonicalised as the logs' ----------------------------


def test_decide_reads_the_same_history_whatever_the_case(env: Env) -> None:
    ingest = env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
    assert ingest.status_code == 200
    lower = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).json()
    upper = env.client.post(
        "/v1/decide",
        json={**DECIDE, "identity": "  " + DECIDE["identity"].upper() + " "},
        headers=env.headers("decide"),
    ).json()
    assert lower["decision"] == "step_up" and lower["risk"] >= 70
    assert (upper["decision"], upper["risk"]) == (lower["decision"], lower["risk"])
    read = env.client.get(f"/v1/identities/{DECIDE['identity'].upper()}", headers=env.headers("read")).json()
    assert read["known"] and read["identity"] == DECIDE["identity"]


def test_decide_applies_the_alias_map(tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.csv"
    aliases.write_text(f"alias,canonical\nYuki.W@Corp.Example,{DECIDE['identity']}\n")
    with running(tmp_path, aliases=str(aliases)) as env:
        env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
        direct = env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).json()
        alias = env.client.post(
            "/v1/decide", json={**DECIDE, "identity": "YUKI.W@corp.example"}, headers=env.headers("decide")
        ).json()
        assert direct["decision"] == "step_up"
        assert (alias["decision"], alias["risk"]) == (direct["decision"], direct["risk"])
        assert env.service.decision_log is not None
        env.service.decision_log.flush()
        logged = [json.loads(line) for line in Path(env.config.decision_log or "").read_text().splitlines()]
        assert {entry["request"]["identity"] for entry in logged} == {DECIDE["identity"]}


@pytest.mark.parametrize("identity", ["", "   ", "\t"])
def test_an_empty_identity_is_refused(env: Env, identity: str) -> None:
    answer = env.client.post(
        "/v1/decide", json={**DECIDE, "identity": identity}, headers=env.headers("decide")
    )
    assert answer.status_code == 422 and "identity" in answer.json()["detail"]


# -- item 17: what /v1/decide accepts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ip", "999.1.1.1/../../etc"),
        ("ip", "999.1.1.1"),
        ("ip", "203.0.113.9; rm -rf /"),
        ("ip", ""),
        ("identity", ""),
        ("identity", "x" * 513),
        ("time", ""),
        ("time", "yesterday"),
        ("user_agent", "u" * 2049),
        ("app", "a" * 257),
        ("device_id", "d" * 257),
    ],
)
def test_decide_refuses_malformed_fields(env: Env, field: str, value: str) -> None:
    answer = env.client.post("/v1/decide", json={**DECIDE, field: value}, headers=env.headers("decide"))
    assert answer.status_code == 422, (field, answer.status_code, answer.text[:200])
    assert field in answer.json()["detail"]


@pytest.mark.parametrize("ip", ["203.0.113.9", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0"])
def test_decide_accepts_addresses(env: Env, ip: str) -> None:
    answer = env.client.post("/v1/decide", json={**DECIDE, "ip": ip}, headers=env.headers("decide"))
    assert answer.status_code == 200, answer.text


def test_the_schema_states_the_bounds(env: Env) -> None:
    document = env.client.get("/openapi.json", headers=env.headers("read")).json()
    schema = document["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    identity = schema["properties"]["identity"]
    assert identity["minLength"] == 1 and identity["maxLength"] == 512 and identity["pattern"] == r"\S"
    ip = schema["properties"]["ip"]["anyOf"][0]
    assert {"format": "ipv4"} in ip["anyOf"] and ip["maxLength"] == 64


# -- items 19 and 21: the API's description offline, and what answers without a key -------------------


def test_the_docs_pages_load_their_assets_from_the_service(env: Env) -> None:
    for page, assets in (
        ("/docs", ["swagger-ui-bundle.js", "swagger-ui.css"]),
        ("/redoc", ["redoc.standalone.js"]),
    ):
        html = env.client.get(page)
        assert html.status_code == 200
        assert "cdn." not in html.text and "googleapis" not in html.text and "unpkg" not in html.text
        for asset in assets:
            assert f"/docs-static/{asset}" in html.text
            served = env.client.get(f"/docs-static/{asset}")
            assert served.status_code == 200 and len(served.content) > 100_000


def test_only_probes_and_the_description_answer_without_a_key(env: Env) -> None:
    document = env.client.get("/openapi.json").json()
    open_operations = sorted(
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == []
    )
    assert open_operations == ["GET /healthz", "GET /readyz"]
    hook = document["paths"]["/v1/hooks/okta"]["post"]["security"]
    assert hook == [{"oktaHookSecret": []}]
    assert set(document["components"]["securitySchemes"]) == {"bearerKey", "headerKey", "oktaHookSecret"}
    for path, operations in document["paths"].items():
        for method in operations:
            if path in ("/healthz", "/readyz") or path.startswith("/v1/hooks"):
                continue
            answer = env.client.request(method, path.replace("{identity}", "x"), json={})
            assert answer.status_code == 401, (method, path)


def test_the_description_can_be_switched_off(tmp_path: Path) -> None:
    with running(tmp_path, docs=False) as env:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs-static/swagger-ui.css"):
            assert env.client.get(path).status_code == 404, path
        assert env.client.get("/healthz").status_code == 200


def test_a_wrong_method_names_the_allowed_ones(env: Env) -> None:
    answer = env.client.request("TRACE", "/v1/hooks/okta")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
    assert env.client.delete("/v1/decide").headers["allow"] == "POST"
