"""Enrollment abuse: attackers' registrations (after refused prompts, from a new country, several at once,
after dormancy, by someone else) and the ordinary ones that must stay quiet (a new phone at home on a
weekend, a helpdesk re-enrollment, one fat-fingered denial hours before). Okta factor lifecycle and Duo
administrator records go through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pushguard.detect.enrollment_abuse import EnrollmentAbuse
from pushguard.model import Event, EventKind, Finding, Geo, Severity
from tests.account_records import (
    LAGOS,
    duo_admin,
    duo_auth,
    okta_deny_push,
    okta_factor_activate,
    okta_sign_in_history,
    run_records,
)
from tests.events import ABROAD, daily_approvals, ev, run_engine

DAY = 86400.0
DO_NL = Geo(
    lat=52.37, lon=4.9, country="Netherlands", city="Amsterdam", accuracy_km=50.0, asn=14061, is_hosting=True
)
ADMIN = "nils.helpdesk@corp.example"


def run(events: list[Event], detector: EnrollmentAbuse | None = None) -> list[Finding]:
    return run_engine(events, [detector or EnrollmentAbuse()])


def history(days: int = 12) -> list[Event]:
    """Push approvals on ordinary mornings from home, on the user's laptop."""
    return daily_approvals(days)


def by_admin(kind: EventKind, seconds: float) -> Event:
    return ev(kind, seconds, actor=ADMIN, ip="198.51.100.80", factor=None)


# -- attacks ---------------------------------------------------------------------------------------


def test_enrollment_after_refusals_from_a_new_country_is_critical() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 600, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.FACTOR_ENROLLED, 1800, ip="203.0.113.5", geo=ABROAD, device_id="attacker-phone"),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "2 prompts refused or unanswered before it (2 refused in 6 h, 0 unanswered" in found[0].reasons[0]
    assert "from Nigeria, a country this identity never succeeded from" in found[0].reasons[0]
    assert "on device attacker-phone, new to this identity" in found[0].reasons[0]
    assert found[0].techniques == ["T1098.005", "T1556.006"]
    assert found[0].frameworks["nist_csf_2"][:2] == ["PR.AA-01", "PR.AA-02"]


def test_several_factors_through_hosting_egress_escalate_one_finding() -> None:
    events = [
        *history(),
        ev(EventKind.FACTOR_ENROLLED, 0, ip="203.0.113.9", geo=DO_NL),
        ev(EventKind.FACTOR_ENROLLED, 300, ip="203.0.113.9", geo=DO_NL),
    ]
    found = run(events)
    # the first: new country (3) + hosting (1) = 4, medium; the second adds "several" (2): high
    assert [f.severity for f in found] == [Severity.MEDIUM, Severity.HIGH]
    assert len({f.id for f in found}) == 1 and [f.revision for f in found] == [1, 2]
    assert "2 factors enrolled within 60 min" in found[-1].reasons[0]


def test_enrollment_after_dormancy_by_someone_else() -> None:
    events = [*history(), by_admin(EventKind.FACTOR_ENROLLED, 60 * DAY)]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "inactive for 61 days" in found[0].reasons[0]
    assert f"registered by {ADMIN} for this identity" in found[0].reasons[0]


def test_the_attackers_own_approval_does_not_make_their_place_known() -> None:
    """The first push is approved from a hosting provider abroad, the enrollment follows from there: the
    profile learnt the place from that approval, but a place first used minutes ago is still new."""
    events = [
        *history(),
        ev(EventKind.PUSH_SENT, 0, ip="203.0.113.9", geo=DO_NL),
        ev(EventKind.PUSH_APPROVED, 15, ip="203.0.113.9", geo=DO_NL),
        ev(EventKind.FACTOR_ENROLLED, 200, ip="203.0.113.9", geo=DO_NL, device_id=None),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "a country this identity first succeeded from 3 min before" in found[0].reasons[0]
    assert "hosting / VPN / proxy egress" in found[0].reasons[0]
    # a day and more later, the place is the identity's own (a commuter's new co-working space)
    later = [
        *events[:-1],
        ev(EventKind.FACTOR_ENROLLED, 2 * DAY, ip="203.0.113.9", geo=DO_NL, device_id=None),
    ]
    assert run(later) == []


def test_thresholds_are_tunable() -> None:
    events = [*history(), ev(EventKind.FACTOR_ENROLLED, 0, ip="203.0.113.5", geo=ABROAD)]
    assert run(events) == []  # a new country alone (3) is a traveller's new phone
    assert [f.severity for f in run(events, EnrollmentAbuse({"min_score": 3}))] == [Severity.MEDIUM]


# -- benign look-alikes ----------------------------------------------------------------------------


def test_a_new_phone_on_a_weekend_from_home_is_quiet() -> None:
    events = [*history(), ev(EventKind.FACTOR_ENROLLED, 5 * DAY + 4 * 3600, device_id="new-iphone")]
    assert run(events) == []


def test_the_user_re_enrolling_after_the_helpdesk_reset_their_lost_phone_is_quiet() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        by_admin(EventKind.BYPASS_ISSUED, 120),
        ev(EventKind.FACTOR_ENROLLED, 900, device_id="replacement-phone"),
    ]
    assert run(events) == []  # after a reset (2) + a new device (1): 3


def test_the_helpdesk_registering_a_phone_for_someone_is_medium_at_most() -> None:
    """Registered by someone else (2) after a reset (2): a reviewer's look, never more."""
    events = [*history(), by_admin(EventKind.FACTORS_RESET, 0), by_admin(EventKind.FACTOR_ENROLLED, 600)]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]


def test_one_fat_fingered_denial_hours_before_a_reset_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0),
        by_admin(EventKind.FACTORS_RESET, 5 * 3600),
        ev(EventKind.FACTOR_ENROLLED, 5 * 3600 + 900),
    ]
    assert run(events) == []  # the denial is 5 h old: only the reset (2) counts
    close = [*history(), ev(EventKind.PUSH_DENIED, 0), ev(EventKind.FACTOR_ENROLLED, 600, geo=ABROAD)]
    assert [f.severity for f in run(close)] == [Severity.MEDIUM]  # a refusal (2) + a new country (3)


def test_okta_pushes_left_unanswered_count_as_refusals() -> None:
    """Okta logs no timeout: three pushes sent from abroad, the fourth approved, then the enrollment."""
    lagos = {"ip": "203.0.113.5", "geo": ABROAD}
    events = [*history(), *(ev(EventKind.PUSH_SENT, 90 * i, **lagos) for i in range(4))]  # type: ignore[arg-type]
    events += [
        ev(EventKind.PUSH_APPROVED, 280, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.5", geo=ABROAD, device_id=None),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]  # a new country meets refusals
    assert "3 prompts refused or unanswered before it (0 refused in 6 h, 3 unanswered" in found[0].reasons[0]
    assert "first succeeded from 5 min before" in found[0].reasons[0]
    one = [*history(), ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", geo=ABROAD)]
    one += [
        ev(EventKind.PUSH_SENT, 90, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 100, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.5", geo=ABROAD, device_id=None),
    ]
    found = run(one)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "a prompt left unanswered in the 60 min before" in found[0].reasons[0]
    # a phone out of reach through two prompts in the morning, the lost phone re-enrolled after lunch
    morning = [*history(), ev(EventKind.PUSH_SENT, 0), ev(EventKind.PUSH_SENT, 200)]
    morning += [ev(EventKind.PUSH_SENT, 400), ev(EventKind.PUSH_APPROVED, 410)]
    morning += [by_admin(EventKind.FACTORS_RESET, 5 * 3600), ev(EventKind.FACTOR_ENROLLED, 5 * 3600 + 900)]
    assert run(morning) == []
    # the same with the timeouts Entra and Duo log; two denials in the morning still count
    timeouts = [*history(), ev(EventKind.PUSH_TIMEOUT, 0), ev(EventKind.PUSH_TIMEOUT, 200)]
    timeouts += [by_admin(EventKind.FACTORS_RESET, 5 * 3600), ev(EventKind.FACTOR_ENROLLED, 5 * 3600 + 900)]
    assert run(timeouts) == []
    denials = [*history(), ev(EventKind.PUSH_DENIED, 0), ev(EventKind.PUSH_DENIED, 200)]
    denials += [by_admin(EventKind.FACTORS_RESET, 5 * 3600), ev(EventKind.FACTOR_ENROLLED, 5 * 3600 + 900)]
    assert [f.severity for f in run(denials)] == [Severity.MEDIUM]  # refusals (3) + after a reset (2)


# -- vendor records through the pipeline -----------------------------------------------------------


def test_okta_factor_activation_after_denied_pushes_from_lagos(tmp_path: Path) -> None:
    lagos: dict[str, Any] = {"ip": "102.89.34.12", "place": LAGOS, "asn": 36873, "as_org": "Airtel Networks"}
    records = [
        *okta_sign_in_history(),
        okta_deny_push(0, **lagos),
        okta_deny_push(240, **lagos),
        okta_factor_activate(1500, **lagos),
    ]
    found = run_records(tmp_path, records, "okta", "enrollment_abuse")
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].user == "alice.martin@corp.example"
    assert "the enrolled factor's id: pfdATTACKER0000000001 (remove this one)" in found[0].reasons


def test_okta_factor_activation_at_home_is_quiet(tmp_path: Path) -> None:
    records = [*okta_sign_in_history(), okta_factor_activate(5 * DAY)]
    assert run_records(tmp_path, records, "okta", "enrollment_abuse") == []


def test_duo_admin_sets_a_phone_after_the_user_denied_pushes(tmp_path: Path) -> None:
    """Duo's administrator log: user_update with a new phones value is an enrollment by the admin."""
    history_records = [duo_auth(-day * DAY, "success", "user_approved") for day in range(1, 13)]
    records = [
        *history_records,
        duo_auth(0, "denied", "user_mistake", ip="203.0.113.40"),
        duo_auth(120, "denied", "user_mistake", ip="203.0.113.40"),
        duo_admin("user_update", 1800, "m.rivera@example.org", {"phones": "+351 555 0199"}),
    ]
    found = run_records(tmp_path, records, "duo", "enrollment_abuse")
    assert [f.severity for f in found] == [Severity.MEDIUM]  # refusals (3) + by someone else (2)
    assert "registered by dana helpdesk for this identity" in found[0].reasons[0]
