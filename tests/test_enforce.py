"""Enforcement intents: decisions of the default policy mapped to each vendor's own control (Okta group
bound to an authentication policy, Entra group of a Conditional Access policy and confirm compromised,
Duo policy group and user status), with expiry, break-glass, report-only and configuration errors."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from pushguard.decide import evaluate, load_policy
from pushguard.decide.enforce import (
    Account,
    Control,
    ControlIntent,
    EnforcementConfig,
    enforcement_config,
    expired,
    plan_enforcement,
)
from pushguard.model import (
    ConfigError,
    Decision,
    DecisionAction,
    DecisionRequest,
    IdentityProfile,
    Provider,
    SignalValue,
    UserKind,
)
from tests.events import T0

VICTIM = "victim@corp.example"
CONFIG = enforcement_config(
    {
        "okta": {"groups": {"step_up": "00g-phr", "number_match": "00g-nc", "deny": "00g-deny"}},
        "entra": {"groups": {"step_up": "grp-ca-phr"}, "confirm_compromised_min_risk": 80},
        "duo": {"groups": {"step_up": "DG-webauthn", "deny": "DG-deny"}, "disable_on_deny": True},
        "break_glass": ["breakglass@corp.example"],
    }
)


def request(
    provider: Provider | None = Provider.OKTA, identity: str = VICTIM, **kw: object
) -> DecisionRequest:
    return msgspec.convert(
        {"operation": "push", "identity": identity, "time": T0, "provider": provider, **kw},
        DecisionRequest,
        from_attributes=True,
    )


def decided(req: DecisionRequest, **signals: SignalValue) -> Decision:
    """The bundled default policy's decision, with some signals forced (a bombing: many prompts)."""
    return evaluate(req, IdentityProfile(identity=req.identity), load_policy(None), overrides=signals)


def test_a_bombed_okta_user_is_added_to_the_phishing_resistant_group_until_expiry() -> None:
    req = request(user_id="00u1")
    decision = decided(req, prompts_last_10m=8)
    assert decision.decision is DecisionAction.STEP_UP
    plan = plan_enforcement(
        req, decision, CONFIG, accounts=[Account(provider=Provider.OKTA, login=VICTIM, user_id="00u1")]
    )
    (intent,) = plan.intents
    assert intent.control is Control.ADD_TO_GROUP and intent.group_id == "00g-phr"
    assert intent.api == "PUT /api/v1/groups/00g-phr/users/00u1"
    assert intent.expires_at == "2026-03-03T09:00:00Z" and intent.undo is Control.REMOVE_FROM_GROUP
    assert intent.dry_run and intent.action is DecisionAction.STEP_UP
    assert "push_bombing" in intent.reason
    again = plan_enforcement(
        req, decision, CONFIG, accounts=[Account(provider=Provider.OKTA, login=VICTIM, user_id="00u1")]
    )
    assert again.intents[0].key == intent.key  # idempotent


def test_number_match_goes_to_the_number_challenge_group() -> None:
    req = request()
    decision = decided(req)
    assert decision.decision is DecisionAction.NUMBER_MATCH
    (intent,) = plan_enforcement(req, decision, CONFIG).intents
    assert intent.group_id == "00g-nc" and intent.login == VICTIM
    assert intent.expires_at == "2026-03-09T09:00:00Z"  # a week by default


def test_entra_confirms_compromised_only_at_the_configured_risk() -> None:
    req = request(Provider.ENTRA)
    high = decided(req, fraud_reported_recently=True, prompts_last_10m=9)
    assert high.decision is DecisionAction.STEP_UP and high.risk >= 80
    controls = [i.control for i in plan_enforcement(req, high, CONFIG).intents]
    assert controls == [Control.ADD_TO_GROUP, Control.CONFIRM_COMPROMISED]
    confirm = plan_enforcement(req, high, CONFIG).intents[1]
    assert confirm.expires_at is None and confirm.undo is None
    assert confirm.api.endswith("/identityProtection/riskyUsers/confirmCompromised")
    low = decided(req, hostile_context=True, context_level="unfamiliar")
    assert low.decision is DecisionAction.STEP_UP and low.risk < 80
    assert [i.control for i in plan_enforcement(req, low, CONFIG).intents] == [Control.ADD_TO_GROUP]


def test_entra_has_no_number_match_group_configured_so_it_is_skipped_not_escalated() -> None:
    req = request(Provider.ENTRA)
    plan = plan_enforcement(req, decided(req), CONFIG)
    assert plan.intents == ()
    (skip,) = plan.skipped
    assert skip.reason == "no control configured for number_match at entra"


def test_duo_deny_disables_only_when_asked_and_expiry_restores_active() -> None:
    req = request(Provider.DUO, user_kind=UserKind.NHI, identity="svc-sync@corp.example")
    decision = decided(req)
    assert decision.decision is DecisionAction.DENY
    intents = plan_enforcement(req, decision, CONFIG).intents
    assert [(i.control, i.group_id, i.status) for i in intents] == [
        (Control.ADD_TO_GROUP, "DG-deny", None),
        (Control.SET_USER_STATUS, None, "disabled"),
    ]
    assert intents[1].api == "POST /admin/v1/users/svc-sync@corp.example (status=disabled)"
    undone = expired(intents, T0 + timedelta(days=1))
    assert [(i.control, i.status) for i in undone] == [
        (Control.REMOVE_FROM_GROUP, None),
        (Control.SET_USER_STATUS, "active"),
    ]
    assert undone[0].api == "DELETE /admin/v1/users/svc-sync@corp.example/groups/DG-deny"
    assert expired(intents, T0 + timedelta(hours=23, minutes=59)) == []
    gentle = enforcement_config({"duo": {"groups": {"deny": "DG-deny"}}})
    assert [i.control for i in plan_enforcement(req, decision, gentle).intents] == [Control.ADD_TO_GROUP]


def test_allow_break_glass_and_report_only_give_no_intent() -> None:
    req = request()
    allow = msgspec.structs.replace(decided(req), decision=DecisionAction.ALLOW)
    assert plan_enforcement(req, allow, CONFIG).intents == ()
    glass = request(identity="breakglass@corp.example")
    plan = plan_enforcement(glass, decided(glass, prompts_last_10m=9), CONFIG)
    assert plan.intents == () and plan.skipped[0].reason == "break-glass identity"
    quiet = msgspec.structs.replace(decided(req, prompts_last_10m=9), report_only=True)
    assert plan_enforcement(req, quiet, CONFIG).intents == ()
    forced = msgspec.structs.replace(CONFIG, enforce_report_only=True)
    assert len(plan_enforcement(req, quiet, forced).intents) == 1


def test_without_a_provider_every_configured_vendor_gets_its_intent() -> None:
    req = request(None)
    decision = decided(req, prompts_last_10m=9)
    providers = [i.provider for i in plan_enforcement(req, decision, CONFIG).intents]
    assert providers == [Provider.OKTA, Provider.ENTRA, Provider.DUO]
    only_okta = enforcement_config({"okta": {"groups": {"step_up": "00g-phr"}}})
    plan = plan_enforcement(req, decision, only_okta, accounts=[Account(provider=Provider.DUO, login=VICTIM)])
    assert plan.intents == () and plan.skipped[0].reason == "vendor not configured"


def test_an_active_membership_is_refreshed_only_when_the_new_one_lasts_longer() -> None:
    req = request()
    decision = decided(req, prompts_last_10m=9)
    (first,) = plan_enforcement(req, decision, CONFIG).intents
    same = plan_enforcement(req, decision, CONFIG, active=[first])
    assert same.intents == () and "already in effect" in same.skipped[0].reason
    later = msgspec.structs.replace(req, time=T0 + timedelta(hours=2))
    (refresh,) = plan_enforcement(later, decided(later, prompts_last_10m=9), CONFIG, active=[first]).intents
    assert refresh.expires_at == "2026-03-03T11:00:00Z" and refresh.key != first.key


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"okta": {"confirm_compromised_min_risk": 80}}, "only Entra"),
        ({"entra": {"disable_on_deny": True}}, "only Duo"),
        ({"duo": {"groups": {"step_up": " "}}}, "duo.groups.step_up: empty group id"),
        ({"okta": {"groups": {"allow": "00g"}}}, "'allow' needs no control"),
        ({"okta": {"groups": {"lockout": "00g"}}}, "okta.groups"),
        ({"ttl_s": {"step_up": 0}}, "ttl_s.step_up"),
        ({"okta": {"group": {}}}, "group"),
    ],
)
def test_configuration_errors_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        enforcement_config(data, "enforce.yaml")
    assert str(info.value).startswith("enforce.yaml: ")


def test_intents_encode_as_json_for_the_responder() -> None:
    req = request()
    (intent,) = plan_enforcement(req, decided(req, prompts_last_10m=9), CONFIG).intents
    body = msgspec.json.decode(msgspec.json.encode(intent))
    assert body["control"] == "add_to_group" and body["provider"] == "okta" and body["dry_run"] is True
    assert msgspec.json.decode(msgspec.json.encode(intent), type=ControlIntent) == intent
    defaults = EnforcementConfig(ttl_s={DecisionAction.THROTTLE: 600})
    assert defaults.ttl(DecisionAction.STEP_UP) == 86400 and defaults.ttl(DecisionAction.THROTTLE) == 600
