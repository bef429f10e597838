"""Vendor responders against local fake vendor APIs: the exact requests, retries and failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from pushguard.respond.actions import Action, EnrolledFactor, Outcome, Target, VendorAccount
from pushguard.respond.credentials import build_responder
from pushguard.respond.entra import TOKEN_NOTE
from pushguard.vendorapi import Secret
from tests.http_fakes import Reply, duo_signed, send_reply

TOKEN = "00-okta-secret-token"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class FakeApi:
    """A real HTTP server on 127.0.0.1: replies per (method, path) in order (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                api.seen.append(
                    Seen(self.command, parts.path, dict(parse_qsl(parts.query)), dict(self.headers), body)
                )
                replies = api.routes.get((self.command, parts.path)) or [Reply(404, {"errorSummary": "nf"})]
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                send_reply(self, reply)

            do_GET = do_POST = do_DELETE = do_PATCH = _any  # noqa: N815 (http.server names)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def calls(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def fake() -> Iterator[FakeApi]:
    api = FakeApi()
    yield api
    api.close()


def target(vendor: str, **kw: Any) -> Target:
    account = VendorAccount(provider=vendor, login="alice@corp.example", user_id=kw.pop("user_id", "U1"))
    return Target(
        identity="alice@corp.example",
        incident="inc1",
        accounts=(account,),
        window=("2026-03-02T09:00:00Z", "2026-03-02T09:30:00Z"),
        **kw,
    )


def okta(fake: FakeApi, sleeps: list[float] | None = None) -> Any:
    responder = build_responder(
        "okta", {"PUSHGUARD_OKTA_ORG_URL": fake.url, "PUSHGUARD_OKTA_API_TOKEN": TOKEN}
    )
    responder.http._sleep = (sleeps if sleeps is not None else []).append
    return responder


# -- Okta ---------------------------------------------------------------------------------------


def test_okta_clear_sessions_sends_exact_request_and_revokes_oauth_tokens(fake: FakeApi) -> None:
    fake.route("DELETE", "/api/v1/users/00u1/sessions", Reply(204))
    t = target("okta", user_id="00u1")
    result = okta(fake).perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED
    assert fake.calls() == ["DELETE /api/v1/users/00u1/sessions"]
    assert fake.seen[0].query == {"oauthTokens": "true"}
    assert fake.seen[0].headers["Authorization"] == f"SSWS {TOKEN}"
    assert result.requests == ("DELETE /api/v1/users/00u1/sessions?oauthTokens=true",)
    assert result.undo and "not reversible" in result.undo


def test_okta_resolves_user_by_login_when_no_id_is_known(fake: FakeApi) -> None:
    fake.route("GET", "/api/v1/users/alice@corp.example", Reply(200, {"id": "00uALICE", "status": "ACTIVE"}))
    fake.route("DELETE", "/api/v1/users/00uALICE/sessions", Reply(204))
    t = target("okta", user_id=None)
    result = okta(fake).perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED
    assert fake.calls() == ["GET /api/v1/users/alice@corp.example", "DELETE /api/v1/users/00uALICE/sessions"]


def test_okta_removes_only_the_factor_named_by_the_enrollment(fake: FakeApi) -> None:
    fake.route(
        "GET",
        "/api/v1/users/00u1/factors/opfATTACK",
        Reply(200, {"id": "opfATTACK", "factorType": "push", "provider": "OKTA", "created": "x"}),
    )
    fake.route("DELETE", "/api/v1/users/00u1/factors/opfATTACK", Reply(204))
    enrolled = (EnrolledFactor(provider="okta", time="2026-03-02T09:10:00Z", factor_id="opfATTACK"),)
    t = target("okta", user_id="00u1", enrolled=enrolled)
    result = okta(fake).perform(Action.REMOVE_ATTACKER_FACTOR, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED, result.detail
    assert fake.calls() == [
        "GET /api/v1/users/00u1/factors/opfATTACK",
        "DELETE /api/v1/users/00u1/factors/opfATTACK",
    ]
    assert "push/OKTA" in result.detail and result.undo and "re-enroll" in result.undo


def test_okta_factor_by_creation_time_and_refuses_to_guess(fake: FakeApi) -> None:
    factors = [
        {"id": "opfOLD", "factorType": "push", "provider": "OKTA", "created": "2025-01-10T08:00:00.000Z"},
        {"id": "opfNEW", "factorType": "push", "provider": "OKTA", "created": "2026-03-02T09:12:00.000Z"},
    ]
    fake.route("GET", "/api/v1/users/00u1/factors", Reply(200, factors))
    fake.route("DELETE", "/api/v1/users/00u1/factors/opfNEW", Reply(204))
    enrolled = (EnrolledFactor(provider="okta", time="2026-03-02T09:11:00Z"),)
    t = target("okta", user_id="00u1", enrolled=enrolled)
    assert okta(fake).perform(Action.REMOVE_ATTACKER_FACTOR, t.accounts[0], t).outcome is Outcome.PERFORMED
    assert fake.calls()[-1] == "DELETE /api/v1/users/00u1/factors/opfNEW"

    # Two factors created in the window: no unique choice, so nothing is deleted.
    fake.seen.clear()
    factors[0]["created"] = "2026-03-02T09:15:00.000Z"
    fake.route("GET", "/api/v1/users/00u1/factors", Reply(200, factors))
    result = okta(fake).perform(Action.REMOVE_ATTACKER_FACTOR, t.accounts[0], t)
    assert result.outcome is Outcome.SKIPPED
    assert "2 factors" in result.detail
    assert [c for c in fake.calls() if c.startswith("DELETE")] == []


def test_okta_suspend_records_undo_and_skips_when_already_suspended(fake: FakeApi) -> None:
    fake.route("GET", "/api/v1/users/00u1", Reply(200, {"id": "00u1", "status": "ACTIVE"}))
    fake.route("POST", "/api/v1/users/00u1/lifecycle/suspend", Reply(200, {}))
    t = target("okta", user_id="00u1")
    result = okta(fake).perform(Action.SUSPEND_USER, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED
    assert result.undo == "POST /api/v1/users/00u1/lifecycle/unsuspend"
    fake.route("GET", "/api/v1/users/00u1", Reply(200, {"id": "00u1", "status": "SUSPENDED"}))
    again = okta(fake).perform(Action.SUSPEND_USER, t.accounts[0], t)
    assert again.outcome is Outcome.SKIPPED
    assert fake.calls().count("POST /api/v1/users/00u1/lifecycle/suspend") == 1


def test_okta_429_is_retried_after_the_wait_the_vendor_asks(fake: FakeApi) -> None:
    fake.route(
        "DELETE",
        "/api/v1/users/00u1/sessions",
        Reply(
            429,
            {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"},
            {"Retry-After": "3"},
        ),
        Reply(204),
    )
    sleeps: list[float] = []
    t = target("okta", user_id="00u1")
    result = okta(fake, sleeps).perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED
    assert sleeps == [3.0]
    assert len(fake.seen) == 2


def test_okta_401_fails_at_once_with_vendor_message_and_no_secret(fake: FakeApi) -> None:
    fake.route(
        "DELETE",
        "/api/v1/users/00u1/sessions",
        Reply(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"}),
    )
    t = target("okta", user_id="00u1")
    result = okta(fake).perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.FAILED
    assert result.status == 401
    assert "credentials rejected" in result.detail and "Invalid token provided" in result.detail
    assert TOKEN not in result.detail and TOKEN not in json.dumps(result.requests)
    assert len(fake.seen) == 1  # never retried


def test_5xx_is_retried_then_reported_not_swallowed(fake: FakeApi) -> None:
    fake.route("DELETE", "/api/v1/users/00u1/sessions", Reply(503, {"errorSummary": "down"}))
    sleeps: list[float] = []
    t = target("okta", user_id="00u1")
    result = okta(fake, sleeps).perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.FAILED
    assert result.status == 503 and "after 4 attempts" in result.detail
    assert len(fake.seen) == 4 and sleeps == [1.0, 2.0, 4.0]


def test_unreachable_vendor_is_a_failure(fake: FakeApi) -> None:
    url = fake.url
    fake.close()
    responder = build_responder("okta", {"PUSHGUARD_OKTA_ORG_URL": url, "PUSHGUARD_OKTA_API_TOKEN": TOKEN})
    responder.http._sleep = lambda _s: None
    t = target("okta", user_id="00u1")
    result = responder.perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.FAILED and "no answer after 4 attempts" in result.detail


def test_okta_has_no_confirm_compromised() -> None:
    responder = build_responder(
        "okta", {"PUSHGUARD_OKTA_ORG_URL": "https://x", "PUSHGUARD_OKTA_API_TOKEN": "t"}
    )
    t = target("okta")
    result = responder.perform(Action.CONFIRM_COMPROMISED, t.accounts[0], t)
    assert result.outcome is Outcome.SKIPPED and "suspend" in result.detail


def test_secret_never_prints() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in f"{secret} {secret!r}" and secret.reveal() == "hunter2"


# -- Entra (httpx.MockTransport) ----------------------------------------------------------------


class Graph:
    def __init__(self, routes: dict[tuple[str, str], httpx.Response]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.routes.get((request.method, request.url.path), httpx.Response(404, json={}))

    def responder(self) -> Any:
        env = {
            "PUSHGUARD_ENTRA_ACCESS_TOKEN": "graph-token",
            "PUSHGUARD_ENTRA_GRAPH_URL": "https://g.test/v1.0",
        }
        return build_responder("entra", env, client=httpx.Client(transport=httpx.MockTransport(self)))


def test_entra_revoke_sessions_says_access_tokens_stay_valid() -> None:
    graph = Graph(
        {("POST", "/v1.0/users/oid-1/revokeSignInSessions"): httpx.Response(200, json={"value": True})}
    )
    t = target("entra", user_id="oid-1")
    result = graph.responder().perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED
    assert TOKEN_NOTE in result.notes and "until they expire" in TOKEN_NOTE
    assert graph.seen[0].headers["Authorization"] == "Bearer graph-token"


def test_entra_deletes_the_attackers_method_resource_only() -> None:
    methods = {
        "value": [
            {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "pw"},
            {
                "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                "id": "old-phone",
                "displayName": "Alice iPhone",
                "createdDateTime": "2025-06-01T10:00:00Z",
            },
            {
                "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                "id": "evil-phone",
                "displayName": "SM-A515F",
                "createdDateTime": "2026-03-02T09:20:05Z",
            },
            {
                "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
                "id": "3179e48a",
                "phoneNumber": "+1 555",
            },
        ]
    }
    graph = Graph(
        {
            ("GET", "/v1.0/users/oid-1/authentication/methods"): httpx.Response(200, json=methods),
            (
                "DELETE",
                "/v1.0/users/oid-1/authentication/microsoftAuthenticatorMethods/evil-phone",
            ): httpx.Response(204),
        }
    )
    enrolled = (
        EnrolledFactor(provider="entra", time="2026-03-02T09:20:00Z", factor="ms_authenticator_push"),
    )
    t = target("entra", user_id="oid-1", enrolled=enrolled)
    result = graph.responder().perform(Action.REMOVE_ATTACKER_FACTOR, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED, result.detail
    deletes = [r for r in graph.seen if r.method == "DELETE"]
    assert [r.url.path for r in deletes] == [
        "/v1.0/users/oid-1/authentication/microsoftAuthenticatorMethods/evil-phone"
    ]
    assert "SM-A515F" in result.detail


def test_entra_disable_and_confirm_compromised_bodies() -> None:
    graph = Graph(
        {
            ("GET", "/v1.0/users/oid-1"): httpx.Response(200, json={"id": "oid-1", "accountEnabled": True}),
            ("PATCH", "/v1.0/users/oid-1"): httpx.Response(204),
            ("POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised"): httpx.Response(204),
        }
    )
    responder = graph.responder()
    t = target("entra", user_id="oid-1")
    disabled = responder.perform(Action.SUSPEND_USER, t.accounts[0], t)
    confirmed = responder.perform(Action.CONFIRM_COMPROMISED, t.accounts[0], t)
    assert disabled.outcome is confirmed.outcome is Outcome.PERFORMED
    patch = next(r for r in graph.seen if r.method == "PATCH")
    assert json.loads(patch.content) == {"accountEnabled": False}
    assert disabled.undo == 'PATCH /users/oid-1 {"accountEnabled": true}'
    confirm = graph.seen[-1]
    assert json.loads(confirm.content) == {"userIds": ["oid-1"]}
    assert confirmed.undo and "riskyUsers/dismiss" in confirmed.undo


def test_entra_403_names_the_missing_permission() -> None:
    error = {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}}
    graph = Graph({("POST", "/v1.0/users/oid-1/revokeSignInSessions"): httpx.Response(403, json=error)})
    t = target("entra", user_id="oid-1")
    result = graph.responder().perform(Action.REVOKE_SESSIONS, t.accounts[0], t)
    assert result.outcome is Outcome.FAILED and result.status == 403
    assert "lack a permission" in result.detail and "Insufficient privileges" in result.detail


# -- Duo (real server; signatures checked) -----------------------------------------------------


def duo(fake: FakeApi) -> Any:
    env = {
        "PUSHGUARD_DUO_API_HOST": fake.url,
        "PUSHGUARD_DUO_IKEY": "DIXXX",
        "PUSHGUARD_DUO_SKEY": "duo-skey",
    }
    return build_responder("duo", env)


def assert_duo_signed(seen: Any) -> None:
    body = seen.body.decode() if seen.method in ("POST", "PUT", "PATCH") else ""
    assert duo_signed(
        "DIXXX", "duo-skey", method=seen.method, host=seen.headers["Host"], path=seen.path,
        params=seen.query, body=body, headers=seen.headers,
    )  # fmt: skip


def test_duo_disable_user_is_signed_and_records_previous_status(fake: FakeApi) -> None:
    fake.route("GET", "/admin/v1/users/DU1", Reply(200, {"stat": "OK", "response": {"status": "bypass"}}))
    fake.route("POST", "/admin/v1/users/DU1", Reply(200, {"stat": "OK", "response": {"status": "disabled"}}))
    t = target("duo", user_id="DU1")
    result = duo(fake).perform(Action.SUSPEND_USER, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED
    post = fake.seen[-1]
    assert json.loads(post.body) == {"status": "disabled"}
    for seen in fake.seen:
        assert_duo_signed(seen)
    assert result.undo == 'POST /admin/v1/users/DU1 {"status": "bypass"}'


def test_duo_deletes_the_enrolled_phone_by_number_only(fake: FakeApi) -> None:
    phones = [
        {"phone_id": "DPOLD", "number": "+15551230000", "platform": "Apple iOS"},
        {"phone_id": "DPNEW", "number": "+447700900123", "platform": "Google Android"},
    ]
    fake.route("GET", "/admin/v1/users/DU1/phones", Reply(200, {"stat": "OK", "response": phones}))
    fake.route("DELETE", "/admin/v1/phones/DPNEW", Reply(200, {"stat": "OK", "response": ""}))
    enrolled = (EnrolledFactor(provider="duo", time="2026-03-02T09:05:00Z", factor_id="07700 900123"),)
    t = target("duo", user_id="DU1", enrolled=enrolled)
    result = duo(fake).perform(Action.REMOVE_ATTACKER_FACTOR, t.accounts[0], t)
    assert result.outcome is Outcome.PERFORMED, result.detail
    assert fake.calls() == ["GET /admin/v1/users/DU1/phones", "DELETE /admin/v1/phones/DPNEW"]
    assert result.undo and "+447700900123" in result.undo


def test_duo_without_a_named_phone_deletes_nothing(fake: FakeApi) -> None:
    t = target("duo", user_id="DU1")
    result = duo(fake).perform(Action.REMOVE_ATTACKER_FACTOR, t.accounts[0], t)
    assert result.outcome is Outcome.SKIPPED and fake.seen == []


def test_duo_resolves_user_by_username(fake: FakeApi) -> None:
    fake.route("GET", "/admin/v1/users", Reply(200, {"stat": "OK", "response": [{"user_id": "DUALICE"}]}))
    fake.route("GET", "/admin/v1/users/DUALICE", Reply(200, {"stat": "OK", "response": {"status": "active"}}))
    fake.route("POST", "/admin/v1/users/DUALICE", Reply(200, {"stat": "OK", "response": {}}))
    t = target("duo", user_id=None)
    assert duo(fake).perform(Action.SUSPEND_USER, t.accounts[0], t).outcome is Outcome.PERFORMED
    assert fake.seen[0].query == {"username": "alice@corp.example"}
    assert_duo_signed(fake.seen[0])
