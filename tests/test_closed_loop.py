"""The closed loop's planner (decide.closed_loop): a finding → the intents of ``plan_enforcement``, with a
step-up (never a lock-out) for a person under attack, a deny for a service account, per-control
report-only / dry-run, rate limits, break-glass, and a key that a replay or a later revision repeats."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest

from pushguard.decide.closed_loop import plan_for_finding
from pushguard.decide.enforce import enforcement_config, expired
from pushguard.model import ConfigError, Control, DecisionAction, Finding, FindingStatus, Severity
from pushguard.respond.actions import Action
from pushguard.respond.runner import PLANNED_CALLS
from pushguard.vendorapi.endpoints import ENDPOINTS, shown

CONFIG: dict[str, Any] = {
    "okta": {"groups": {"step_up": "00g-phr", "deny": "00g-deny"}},
    "duo": {"groups": {"step_up": "DG-webauthn", "deny": "DG-deny"}, "disable_on_deny": True},
    "break_glass": ["breakglass@corp.example"],
    "findings": {"service_accounts": ["svc-*"]},
}


def finding(**overrides: Any) -> Finding:
    base: dict[str, Any] = {
        "id": "f-bomb-1",
        "revision": 1,
        "status": FindingStatus.OPEN,
        "incident": "i1",
        "detector": "push_bombing",
        "title": "Push bombing: 3 unanswered prompts in 1 min",
        "severity": Severity.MEDIUM,
        "confidence": 0.8,
        "user": "victim@corp.example",
        "provider": "okta",
        "first_seen": "2026-03-02T09:00:00Z",
        "last_seen": "2026-03-02T09:01:20Z",
        "detected_at": "2026-03-02T09:01:20Z",
        "techniques": ["T1621"],
        "frameworks": {},
        "evidence": [],
        "source_ips": ["203.0.113.66"],
        "reasons": [],
        "actions": [],
    }
    base.update(overrides)
    return Finding(**base)


def test_a_person_under_attack_is_stepped_up_with_the_event_times_on_the_intent() -> None:
    plan = plan_for_finding(finding(), enforcement_config(CONFIG), received_at="2026-03-02T09:01:30Z")
    (intent,) = plan.intents
    assert (intent.control, intent.group_id, intent.action) == (
        Control.ADD_TO_GROUP,
        "00g-phr",
        DecisionAction.STEP_UP,
    )
    assert (intent.finding, intent.event_at, intent.received_at) == (
        "f-bomb-1",
        "2026-03-02T09:01:20Z",
        "2026-03-02T09:01:30Z",
    )
    assert intent.expires_at == "2026-03-03T09:01:20Z"  # the step_up ttl, from the finding's time
    assert intent.dry_run  # the configuration's default, as `enforce` without --execute


def test_the_key_is_the_finding_and_account_so_a_later_revision_repeats_it() -> None:
    config = enforcement_config(CONFIG)
    first = plan_for_finding(finding(), config).intents[0]
    later = plan_for_finding(
        finding(revision=3, severity=Severity.HIGH, detected_at="2026-03-02T09:04:40Z"), config
    ).intents[0]
    other = plan_for_finding(finding(id="f-bomb-2"), config).intents[0]
    assert first.key == later.key != other.key


def test_a_human_is_never_locked_out_whatever_the_detector() -> None:
    with pytest.raises(ConfigError, match="never a lock-out"):
        enforcement_config({**CONFIG, "findings": {"detectors": {"push_bombing": "deny"}}})
    plan = plan_for_finding(finding(provider="duo"), enforcement_config(CONFIG))
    assert [(i.control, i.group_id) for i in plan.intents] == [(Control.ADD_TO_GROUP, "DG-webauthn")]


def test_a_service_account_is_denied_and_may_be_disabled() -> None:
    config = enforcement_config(CONFIG)
    plan = plan_for_finding(finding(user="svc-backup@corp.example", provider="duo"), config)
    assert [(i.control, i.group_id or i.status) for i in plan.intents] == [
        (Control.ADD_TO_GROUP, "DG-deny"),
        (Control.SET_USER_STATUS, "disabled"),
    ]
    nhi = plan_for_finding(finding(detector="nhi_interactive_mfa", user="robot@corp.example"), config)
    assert [i.action for i in nhi.intents] == [DecisionAction.DENY]


def test_findings_below_the_threshold_closed_or_ignored_plan_nothing() -> None:
    config = enforcement_config({**CONFIG, "findings": {"min_severity": "high", "ignore_detectors": ["x"]}})
    assert plan_for_finding(finding(), config).intents == ()
    assert plan_for_finding(finding(severity=Severity.HIGH, detector="x"), config).intents == ()
    closed = finding(severity=Severity.HIGH, status=FindingStatus.CLOSED)
    assert plan_for_finding(closed, config).intents == ()
    assert len(plan_for_finding(finding(severity=Severity.HIGH), config).intents) == 1


def test_break_glass_report_only_and_dry_run_controls() -> None:
    config = enforcement_config(CONFIG)
    glass = plan_for_finding(finding(user="breakglass@corp.example"), config)
    assert glass.intents == () and glass.skipped[0].reason == "break-glass identity"
    report = enforcement_config({**CONFIG, "findings": {"report_only_controls": ["add_to_group"]}})
    plan = plan_for_finding(finding(), report)
    assert plan.intents == () and "report-only control add_to_group" in plan.skipped[0].reason
    executing = msgspec.structs.replace(config, dry_run=False)
    assert not plan_for_finding(finding(), executing).intents[0].dry_run
    dry = enforcement_config({**CONFIG, "dry_run": False, "findings": {"dry_run_controls": ["add_to_group"]}})
    assert plan_for_finding(finding(), dry).intents[0].dry_run


def test_rate_limits_per_identity_and_tenant() -> None:
    config = enforcement_config({**CONFIG, "findings": {"max_per_identity_per_hour": 2, "max_per_hour": 3}})
    at = datetime.fromisoformat("2026-03-02T09:01:20+00:00").timestamp()
    mine = [("victim@corp.example", at - 60), ("victim@corp.example", at - 120)]
    limited = plan_for_finding(finding(), config, recent=mine)
    assert limited.intents == () and "max_per_identity_per_hour 2" in limited.skipped[0].reason
    old = [("victim@corp.example", at - 4000)] * 5  # more than an hour ago: not counted
    assert len(plan_for_finding(finding(), config, recent=old).intents) == 1
    tenant = [(f"u{n}@corp.example", at - 10) for n in range(3)]
    assert "max_per_hour 3" in plan_for_finding(finding(), config, recent=tenant).skipped[0].reason


def test_a_spray_finding_acts_on_its_targets_bounded() -> None:
    config = enforcement_config({**CONFIG, "findings": {"max_targets": 2}})
    spray = finding(user="203.0.113.66", targets=["a@corp.example", "b@corp.example", "c@corp.example"])
    assert [i.identity for i in plan_for_finding(spray, config).intents] == [
        "a@corp.example",
        "b@corp.example",
    ]


def test_a_control_in_effect_is_not_asked_again_and_expiry_undoes_it() -> None:
    config = enforcement_config(CONFIG)
    (intent,) = plan_for_finding(finding(), config).intents
    again = plan_for_finding(finding(id="f-other"), config, active=[intent])
    assert again.intents == () and "already in effect" in again.skipped[0].reason
    later = datetime.fromisoformat("2026-03-02T09:01:20+00:00") + timedelta(days=1)
    (undo,) = expired([intent], later)
    assert undo.control is Control.REMOVE_FROM_GROUP and undo.api.startswith("DELETE /api/v1/groups/00g-phr/")


def test_one_endpoint_table_for_planner_executor_and_playbook() -> None:
    assert shown("entra", "add_to_group", group="g1") == "POST /v1.0/groups/g1/members/$ref"
    assert shown("duo", "set_user_status", user="DU1", status="disabled") == (
        "POST /admin/v1/users/DU1 (status=disabled)"
    )
    for (vendor, call), endpoint in ENDPOINTS.items():
        assert endpoint.method in {"GET", "POST", "PUT", "PATCH", "DELETE"}, (vendor, call)
        assert endpoint.path.startswith("/"), (vendor, call)
    # the playbook's dry run shows the calls its responders send, from the same table
    assert PLANNED_CALLS[("okta", Action.REVOKE_SESSIONS)] == (
        "DELETE /api/v1/users/{user}/sessions?oauthTokens=true"
    )
    assert PLANNED_CALLS[("entra", Action.SUSPEND_USER)] == 'PATCH /users/{user} ({"accountEnabled": false})'
    assert ("duo", Action.REVOKE_SESSIONS) not in PLANNED_CALLS  # Duo has no session to revoke
