"""Enforcement intents carried out against a local fake IdP per vendor (real HTTP on 127.0.0.1): the
exact requests and their effect on group memberships and statuses, dry run, idempotency by key, expiry
undo, already-member / already-removed, 401 not retried, 429 and 5xx retried, and the audit chain."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.decide import evaluate, load_policy
from pushguard.decide.enforce import EnforcementConfig, enforcement_config, expired, plan_enforcement
from pushguard.model import (
    Control,
    ControlIntent,
    DecisionRequest,
    IdentityProfile,
    Operation,
    Provider,
    SignalValue,
    UserKind,
)
from pushguard.respond.audit import AuditLog, verify
from pushguard.respond.duo import DuoResponder
from pushguard.respond.enforcer import Enforcer, load_state
from pushguard.respond.entra import EntraResponder
from pushguard.respond.okta import OktaResponder
from pushguard.respond.vendor import Responder
from pushguard.vendorapi.credentials import vendor_http
from tests.enforce_fakes import GRAPH_TOKEN, LOGIN, OKTA_TOKEN, FakeIdp
from tests.events import T0
from tests.http_fakes import Reply

CONFIG = enforcement_config(
    {
        "okta": {"groups": {"step_up": "00gSTEPUP"}},
        "entra": {"groups": {"step_up": "grp-ca-phr"}, "confirm_compromised_min_risk": 80},
        "duo": {"groups": {"step_up": "DGWEBAUTHN", "deny": "DGDENY"}, "disable_on_deny": True},
    }
)
NOW = T0 + timedelta(minutes=1)
LATER = T0 + timedelta(days=2)  # past every default expiry
RESPONDERS: dict[str, Callable[[Any], Responder]] = {
    "okta": OktaResponder,
    "entra": EntraResponder,
    "duo": DuoResponder,
}


def intents(
    provider: Provider,
    config: EnforcementConfig = CONFIG,
    user_kind: UserKind = UserKind.HUMAN,
    **signals: SignalValue,
) -> list[ControlIntent]:
    """What the bundled default policy's decision plans, executable (dry_run false)."""
    request = DecisionRequest(
        operation=Operation.PUSH, identity=LOGIN, time=T0, provider=provider, user_kind=user_kind
    )
    forced: dict[str, SignalValue] = signals or {"prompts_last_10m": 8}
    decision = evaluate(request, IdentityProfile(identity=LOGIN), load_policy(None), overrides=forced)
    live = msgspec.structs.replace(config, dry_run=False)
    return list(plan_enforcement(request, decision, live).intents)


@pytest.fixture
def fakes() -> Iterator[dict[str, FakeIdp]]:
    made = {vendor: FakeIdp(vendor) for vendor in RESPONDERS}
    yield made
    for fake in made.values():
        fake.close()


def make_enforcer(
    tmp_path: Path, fakes: dict[str, FakeIdp], *, execute: bool = True, sleeps: list[float] | None = None
) -> Enforcer:
    def responder(vendor: str) -> Responder:
        pause = sleeps.append if sleeps is not None else (lambda seconds: None)
        return RESPONDERS[vendor](vendor_http(vendor, fakes[vendor].env(), sleep=pause))

    state = tmp_path / "state.json"
    return Enforcer(
        AuditLog(tmp_path / "audit.jsonl"),
        execute=execute,
        state=load_state(state),
        state_path=state,
        responders=responder,
        clock=lambda: NOW,
    )


def test_a_dry_run_resolves_nothing_sends_nothing_and_says_what_it_would_send(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    planned = [*intents(Provider.OKTA), *intents(Provider.DUO, user_kind=UserKind.NHI)]
    enforcer = make_enforcer(tmp_path, fakes, execute=False)
    entries = enforcer.apply(planned, NOW)
    assert all(fake.seen == [] for fake in fakes.values())
    assert [e["outcome"] for e in entries] == ["planned"] * 3
    assert entries[0]["detail"].startswith(f"dry run: would send PUT /api/v1/groups/00gSTEPUP/users/{LOGIN}")
    assert entries[0]["undo"] == "remove_from_group at 2026-03-03T09:00:00Z"
    assert not (tmp_path / "state.json").exists()
    # A repeat within the dry run is reported as such, and expiry is previewed without a request.
    assert enforcer.apply(planned[:1], NOW)[0]["outcome"] == "skipped"
    undo = enforcer.apply(expired(enforcer.state.active, LATER), LATER)
    assert [e["control"] for e in undo] == ["remove_from_group", "remove_from_group", "set_user_status"]
    assert all(fake.seen == [] for fake in fakes.values())


def test_okta_step_up_group_is_joined_with_the_api_token_and_left_at_expiry(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    okta = fakes["okta"]
    enforcer = make_enforcer(tmp_path, fakes)
    (entry,) = enforcer.apply(intents(Provider.OKTA), NOW)
    assert entry["outcome"] == "performed", entry["detail"]
    assert okta.calls() == [
        "GET /api/v1/users/victim@corp.example",
        "PUT /api/v1/groups/00gSTEPUP/users/00uVICTIM",
    ]
    assert all(s.headers["Authorization"] == f"SSWS {OKTA_TOKEN}" for s in okta.seen)
    assert okta.members["00gSTEPUP"] == {"00uVICTIM"}
    assert entry["undo"] == "DELETE /api/v1/groups/00gSTEPUP/users/00uVICTIM"
    assert entry["requests"] == [
        "GET /api/v1/users/victim@corp.example",
        "PUT /api/v1/groups/00gSTEPUP/users/00uVICTIM",
    ]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [a["key"] for a in saved["active"]] == [entry["key"]] and entry["key"] in saved["applied"]

    # Not yet expired: nothing to undo. Past the expiry, a fresh run (state from the file) removes it.
    assert expired(enforcer.state.active, NOW) == []
    later = make_enforcer(tmp_path, fakes)
    (undo,) = later.apply(expired(later.state.active, LATER), LATER)
    assert undo["outcome"] == "performed" and undo["lifts"] == "step_up"
    assert okta.calls()[-2:] == [
        "GET /api/v1/users/victim@corp.example",
        "DELETE /api/v1/groups/00gSTEPUP/users/00uVICTIM",
    ]
    assert okta.members["00gSTEPUP"] == set()
    assert load_state(tmp_path / "state.json").active == []
    assert list(tmp_path.glob(".*.tmp")) == []  # the atomic replace leaves no temporary behind


def test_entra_membership_reference_body_already_member_and_already_removed(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    entra = fakes["entra"]
    enforcer = make_enforcer(tmp_path, fakes)
    (add,) = enforcer.apply(intents(Provider.ENTRA, hostile_context=True, context_level="unfamiliar"), NOW)
    assert add["outcome"] == "performed", add["detail"]
    post = entra.seen[-1]
    assert (post.method, post.path) == ("POST", "/v1.0/groups/grp-ca-phr/members/$ref")
    assert post.json() == {"@odata.id": f"{entra.url}/v1.0/directoryObjects/0b6c1e52-oid-victim"}
    assert post.headers["Authorization"] == f"Bearer {GRAPH_TOKEN}"
    assert post.headers["Content-Type"] == "application/json"

    # Someone (or a run that crashed before saving its state) added the member already: Graph says 400.
    again = make_enforcer(tmp_path / "other", fakes)
    (repeat,) = again.apply(intents(Provider.ENTRA, hostile_context=True, context_level="unfamiliar"), NOW)
    assert repeat["outcome"] == "performed" and "already a member" in repeat["detail"]
    assert repeat["requests"][-1] == "POST /groups/grp-ca-phr/members/$ref"

    # The membership was removed by hand before it expired: Graph says 404, the undo still completes.
    entra.members["grp-ca-phr"].clear()
    (undo,) = enforcer.apply(expired(enforcer.state.active, LATER), LATER)
    assert undo["outcome"] == "performed" and "not a member any more" in undo["detail"]
    assert entra.calls()[-1] == "DELETE /v1.0/groups/grp-ca-phr/members/0b6c1e52-oid-victim/$ref"
    assert enforcer.state.active == []


def test_entra_confirm_compromised_sends_the_object_id_and_is_never_undone(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    entra = fakes["entra"]
    enforcer = make_enforcer(tmp_path, fakes)
    planned = intents(Provider.ENTRA, fraud_reported_recently=True, prompts_last_10m=9)
    assert [i.control for i in planned] == [Control.ADD_TO_GROUP, Control.CONFIRM_COMPROMISED]
    entries = enforcer.apply(planned, NOW)
    assert [e["outcome"] for e in entries] == ["performed", "performed"]
    confirm = entra.seen[-1]
    assert confirm.path == "/v1.0/identityProtection/riskyUsers/confirmCompromised"
    assert confirm.json() == {"userIds": ["0b6c1e52-oid-victim"]}
    assert entra.compromised == ["0b6c1e52-oid-victim"]
    assert "riskyUsers/dismiss" in entries[1]["undo"]
    assert [a.control for a in enforcer.state.active] == [Control.ADD_TO_GROUP]  # only the group expires


def test_duo_deny_joins_the_group_disables_signed_and_expiry_restores(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    duo = fakes["duo"]
    enforcer = make_enforcer(tmp_path, fakes)
    planned = intents(Provider.DUO, user_kind=UserKind.NHI)
    entries = enforcer.apply(planned, NOW)
    assert [e["outcome"] for e in entries] == ["performed", "performed"], entries
    assert duo.members["DGDENY"] == {"DUVICTIM"} and duo.status == "disabled"
    posts = [s for s in duo.seen if s.method == "POST"]
    assert [(p.path, p.json()) for p in posts] == [
        ("/admin/v1/users/DUVICTIM/groups", {"group_id": "DGDENY"}),
        ("/admin/v1/users/DUVICTIM", {"status": "disabled"}),
    ]
    assert all(
        s.headers["Authorization"].startswith("Basic ") for s in duo.seen
    )  # signed, checked by the fake
    undo = enforcer.apply(expired(enforcer.state.active, LATER), LATER)
    assert [e["outcome"] for e in undo] == ["performed", "performed"]
    assert duo.calls()[-1] == "POST /admin/v1/users/DUVICTIM"
    assert "DELETE /admin/v1/users/DUVICTIM/groups/DGDENY" in duo.calls()
    assert duo.members["DGDENY"] == set() and duo.status == "active"


def test_a_duo_user_disabled_by_someone_else_is_not_re_enabled_at_expiry(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    duo = fakes["duo"]
    duo.status = "disabled"
    enforcer = make_enforcer(tmp_path, fakes)
    entries = enforcer.apply(intents(Provider.DUO, user_kind=UserKind.NHI), NOW)
    assert entries[1]["outcome"] == "skipped" and "already disabled" in entries[1]["detail"]
    assert [a.control for a in enforcer.state.active] == [Control.ADD_TO_GROUP]
    enforcer.apply(expired(enforcer.state.active, LATER), LATER)
    assert duo.status == "disabled"


def test_the_same_key_is_sent_once_across_runs(tmp_path: Path, fakes: dict[str, FakeIdp]) -> None:
    okta = fakes["okta"]
    make_enforcer(tmp_path, fakes).apply(intents(Provider.OKTA), NOW)
    (again,) = make_enforcer(tmp_path, fakes).apply(intents(Provider.OKTA), NOW)
    assert again["outcome"] == "skipped" and again["detail"].startswith("already applied at")
    assert okta.calls().count("PUT /api/v1/groups/00gSTEPUP/users/00uVICTIM") == 1


def test_rejected_credentials_are_reported_not_retried_and_stop_the_vendor(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    okta = fakes["okta"]
    okta.faults = [Reply(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})]
    sleeps: list[float] = []
    enforcer = make_enforcer(tmp_path, fakes, sleeps=sleeps)
    first, second = enforcer.apply(
        [*intents(Provider.OKTA), *intents(Provider.OKTA, hostile_context=True, context_level="unfamiliar")],
        NOW,
    )
    assert first["outcome"] == "failed" and first["http_status"] == 401
    assert "credentials rejected" in first["detail"] and "Invalid token provided" in first["detail"]
    assert second["outcome"] == "failed" and second["detail"].startswith("not sent: okta rejected")
    assert len(okta.seen) == 1 and sleeps == []
    assert enforcer.state.applied == {} and not (tmp_path / "state.json").exists()  # retried next run


def test_429_is_retried_after_the_wait_the_vendor_asks(tmp_path: Path, fakes: dict[str, FakeIdp]) -> None:
    duo = fakes["duo"]
    limited = {"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}
    duo.faults = [Reply(429, limited, {"Retry-After": "3"})]
    sleeps: list[float] = []
    (entry,) = make_enforcer(tmp_path, fakes, sleeps=sleeps).apply(intents(Provider.DUO), NOW)
    assert entry["outcome"] == "performed" and sleeps == [3.0]
    assert duo.calls()[:2] == ["GET /admin/v1/users", "GET /admin/v1/users"]
    assert duo.members["DGWEBAUTHN"] == {"DUVICTIM"}


def test_5xx_is_retried_then_reported_and_left_for_the_next_run(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    entra = fakes["entra"]
    unavailable = {"error": {"code": "serviceNotAvailable", "message": "Service unavailable"}}
    entra.faults = [Reply(200, {"id": "0b6c1e52-oid-victim"})] + [Reply(503, unavailable)] * 4
    sleeps: list[float] = []
    (entry,) = make_enforcer(tmp_path, fakes, sleeps=sleeps).apply(
        intents(Provider.ENTRA, hostile_context=True, context_level="unfamiliar"), NOW
    )
    assert entry["outcome"] == "failed" and entry["http_status"] == 503
    assert "after 4 attempts" in entry["detail"] and "Service unavailable" in entry["detail"]
    assert sleeps == [1.0, 2.0, 4.0] and len(entra.seen) == 5
    (retried,) = make_enforcer(tmp_path, fakes).apply(
        intents(Provider.ENTRA, hostile_context=True, context_level="unfamiliar"), NOW
    )
    assert retried["outcome"] == "performed"


def test_every_intent_is_audited_with_its_undo_and_the_chain_verifies(
    tmp_path: Path, fakes: dict[str, FakeIdp]
) -> None:
    enforcer = make_enforcer(tmp_path, fakes)
    enforcer.apply([*intents(Provider.OKTA), *intents(Provider.DUO, user_kind=UserKind.NHI)], NOW)
    enforcer.apply(expired(enforcer.state.active, LATER), LATER)
    audit = tmp_path / "audit.jsonl"
    assert verify(audit) == 6
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {line["kind"] for line in lines} == {"enforce"}
    assert [line["control"] for line in lines[:3]] == ["add_to_group", "add_to_group", "set_user_status"]
    assert all(line["undo"] for line in lines[:3]) and all(line["mode"] == "execute" for line in lines)
    assert lines[2]["undo"] == 'POST /admin/v1/users/DUVICTIM {"status": "active"}'
    assert all(OKTA_TOKEN not in line and "skey" not in line for line in audit.read_text().splitlines())
