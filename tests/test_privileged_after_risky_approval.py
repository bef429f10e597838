"""Privileged action after a risky push approval: the role, token or consent the attacker came for right
after bombing or fatigue won an approval, and admins' routine privileged work after ordinary approvals
(one fat-fingered denial, a phone left on the desk through two prompts). Okta, Entra ID and Duo records
go through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pushguard.detect.privileged_after_risky_approval import PrivilegedAfterRiskyApproval
from pushguard.enrich import AliasMap
from pushguard.model import Event, EventKind, Finding, IdentityProfile, Severity
from tests.account_records import (
    LAGOS,
    MARA,
    PARIS,
    duo_admin,
    duo_auth,
    entra_audit,
    entra_signin,
    okta,
    okta_deny_push,
    okta_sign_in_history,
    run_records,
)
from tests.events import ABROAD, daily_approvals, ev, run_engine

DAY = 86400.0
HOUR = 3600.0


def run(events: list[Event]) -> list[Finding]:
    return run_engine(events, [PrivilegedAfterRiskyApproval()])


def history(days: int = 12) -> list[Event]:
    return daily_approvals(days)


def privileged(seconds: float, **kw: Any) -> Event:
    return ev(EventKind.PRIVILEGED_ACTION, seconds, factor=None, **kw)


# -- attacks ---------------------------------------------------------------------------------------


def test_privileged_action_after_an_approval_won_by_refusals_abroad_is_critical() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 300, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 600, ip="203.0.113.5", geo=ABROAD, device_id=None),
        privileged(1500, ip="203.0.113.5", geo=ABROAD),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]  # refusals and a new country
    reason = found[0].reasons[0]
    assert reason.startswith("a privileged action 15 min after a push approval that was risky")
    assert "2 prompt(s) refused or unanswered in the 60 min before (weight 4" in reason
    assert "approved from Nigeria, new to this identity" in reason
    assert found[0].techniques == ["T1078", "T1098", "T1621"]
    assert found[0].evidence[0] == events[-2].event_id  # the approval anchors the finding


def test_three_prompts_left_to_time_out_then_an_approval_is_high() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_TIMEOUT, 0),
        ev(EventKind.PUSH_TIMEOUT, 120),
        ev(EventKind.PUSH_TIMEOUT, 240),
        ev(EventKind.PUSH_APPROVED, 400),
        privileged(900),
    ]
    assert [f.severity for f in run(events)] == [Severity.HIGH]


def test_a_later_ordinary_approval_does_not_clear_the_risky_one() -> None:
    events = [
        *history(),
        ev(
            EventKind.PUSH_APPROVED, 0, ip="203.0.113.5", geo=ABROAD, device_id=None
        ),  # a new country alone: risky
        ev(EventKind.PUSH_APPROVED, 600),  # the victim's own prompt, at home
        privileged(1200, ip="203.0.113.5", geo=ABROAD),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH]
    assert found[0].evidence[0] == events[-3].event_id


def test_an_open_finding_on_the_identity_makes_the_approval_risky() -> None:
    detector = PrivilegedAfterRiskyApproval()
    profile = IdentityProfile(identity="alice@corp.example")
    profile.open_findings["push_bombing"] = [float(Severity.HIGH.rank), ev(EventKind.PUSH_SENT, 0).ts]
    state = detector.initial_state()
    approval = ev(EventKind.PUSH_APPROVED, 300)
    state, found = detector.observe(state, approval, profile)
    assert found == []
    state, found = detector.observe(state, privileged(900), profile)
    assert [d.severity for d in found] == [Severity.CRITICAL]  # a high finding open
    assert "push_bombing finding open" in found[0].reasons[0]
    assert found[0].anchor == approval.event_id


# -- benign look-alikes ----------------------------------------------------------------------------


def test_routine_admin_work_after_an_ordinary_approval_is_quiet() -> None:
    events = [*history(), ev(EventKind.PUSH_APPROVED, 0), privileged(600), privileged(1800)]
    assert run(events) == []


def test_routine_admin_work_after_a_fat_fingered_denial_is_quiet() -> None:
    events = [*history(), ev(EventKind.PUSH_DENIED, 0), ev(EventKind.PUSH_APPROVED, 60), privileged(600)]
    assert run(events) == []


def test_a_phone_left_on_the_desk_through_two_prompts_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_TIMEOUT, 0),
        ev(EventKind.PUSH_TIMEOUT, 150),
        ev(EventKind.PUSH_APPROVED, 300),
        privileged(900),
    ]
    assert run(events) == []


def test_privileged_action_long_after_the_risky_approval_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.5", geo=ABROAD, device_id=None),
        privileged(10 * HOUR),
    ]
    assert run(events) == []


# -- vendor records through the pipeline -----------------------------------------------------------


def test_okta_api_token_created_after_denied_pushes(tmp_path: Path) -> None:
    lagos: dict[str, Any] = {"ip": "102.89.34.12", "place": LAGOS, "asn": 36873, "as_org": "Airtel Networks"}
    records = [
        *okta_sign_in_history(),
        okta_deny_push(0, **lagos),
        okta_deny_push(200, **lagos),
        okta(
            "user.authentication.auth_via_mfa",
            400,
            debug={"factor": "OKTA_VERIFY_PUSH", "pushOnlyResponseType": "ACCEPTED"},
            **lagos,
        ),
        okta(
            "system.api_token.create",
            1200,
            target=[{"id": "00Tabc123", "type": "Token", "alternateId": "unknown", "displayName": "ci"}],
            **lagos,
        ),
    ]
    found = run_records(tmp_path, records, "okta", "privileged_after_risky_approval")
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].user == "alice.martin@corp.example"
    assert found[0].title.endswith(": system.api_token.create")


def test_entra_consent_after_an_approval_from_a_new_country(tmp_path: Path) -> None:
    records = [entra_signin(-day * DAY, "88.160.1.2", PARIS) for day in range(1, 13)]
    records.append(entra_signin(0, "102.89.34.12", LAGOS))
    app = {
        "id": "5d1b7c9e-0000-4000-8000-00000000a001",
        "displayName": "Mail Sync Tool",
        "type": "ServicePrincipal",
    }
    records.append(
        entra_audit(
            "Consent to application",
            900,
            by=MARA,
            ip="102.89.34.12",
            targets=[{**app, "modifiedProperties": []}],
            service="Core Directory",
        )
    )
    found = run_records(tmp_path, records, "entra", "privileged_after_risky_approval")
    assert [f.severity for f in found] == [Severity.HIGH]
    assert found[0].user == "mara.lind@contoso-example.com"
    assert "on Mail Sync Tool" in found[0].reasons


def test_entra_consent_after_an_ordinary_approval_at_home_is_quiet(tmp_path: Path) -> None:
    records = [entra_signin(-day * DAY, "88.160.1.2", PARIS) for day in range(1, 13)]
    records.append(entra_signin(0, "88.160.1.2", PARIS))
    app = {
        "id": "5d1b7c9e-0000-4000-8000-00000000a001",
        "displayName": "Mail Sync Tool",
        "type": "ServicePrincipal",
    }
    records.append(
        entra_audit(
            "Consent to application",
            900,
            targets=[{**app, "modifiedProperties": []}],
            service="Core Directory",
        )
    )
    assert run_records(tmp_path, records, "entra", "privileged_after_risky_approval") == []


def test_duo_admin_actions_join_the_admins_approvals_only_through_the_alias_map(tmp_path: Path) -> None:
    """Duo's administrator log names the admin by display name only ("Dana Helpdesk"), the
    authentication log by username: without an alias map the two never meet (a known limitation of
    the vendor's log); with one, the admin's farmed approval and the secret-key view are one story."""
    dana = "dana.helpdesk@example.org"
    records = [duo_auth(-day * DAY, "success", "user_approved", user=dana) for day in range(1, 13)]
    for seconds in (0, 100):
        records.append(duo_auth(seconds, "denied", "user_mistake", user=dana, ip="203.0.113.40"))
    records.append(duo_auth(200, "success", "user_approved", user=dana, ip="203.0.113.40"))
    records.append(duo_admin("integration_skey_view", 900, "Example VPN", {"name": "Example VPN"}))
    detector = "privileged_after_risky_approval"
    assert run_records(tmp_path, records, "duo", detector) == []
    found = run_records(tmp_path, records, "duo", detector, AliasMap({"dana helpdesk": dana}))
    # two denials (weight 4) and the approval_after_denials finding they opened: risky on two counts
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "approval_after_denials finding open" in found[0].reasons[0]
    assert found[0].user == dana
    assert found[0].title.endswith("integration_skey_view: Example VPN")
