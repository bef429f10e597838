"""Enrollment abuse: attackers' registrations (after refused prompts, from a context that is neither the
person's nor the organisation's, several at once, after dormancy, by someone else) and the ordinary ones
that must stay quiet (a new phone at home on a weekend, a helpdesk re-enrollment at home or the office, a
new hire's onboarding, one fat-fingered denial hours before). The place is judged by familiarity.assess:
profiles are built through the engine, with the person's history and five colleagues at the office.
Okta factor lifecycle and Duo administrator records go through the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.detect.enrollment_abuse import EnrollmentAbuse
from pushguard.model import Device, Event, EventKind, Finding, Geo, Severity
from tests.account_records import (
    LAGOS,
    duo_admin,
    duo_auth,
    okta,
    okta_deny_push,
    okta_factor_activate,
    okta_sign_in_history,
    run_records,
)
from tests.events import ABROAD, OFFICE, daily_approvals, ev, office_colleagues, run_engine

DAY = 86400.0
DO_NL = Geo(
    lat=52.37, lon=4.9, country="Netherlands", city="Amsterdam", accuracy_km=50.0, asn=14061, is_hosting=True
)
DO_FR = msgspec.structs.replace(DO_NL, country="France", city="Paris", lat=48.86, lon=2.35)
ADMIN = "nils.helpdesk@corp.example"
PHONE = "attacker-phone"  # the attacker's device: nothing the person ever used


def run(events: list[Event], detector: EnrollmentAbuse | None = None) -> list[Finding]:
    return run_engine(events, [detector or EnrollmentAbuse()])


def history(days: int = 12) -> list[Event]:
    """The organisation at the office, and the person's push approvals at home on their laptop."""
    return [*office_colleagues(days), *daily_approvals(days)]


def by_admin(kind: EventKind, seconds: float, **kw: Any) -> Event:
    return ev(kind, seconds, actor=ADMIN, ip="192.0.2.200", geo=OFFICE, factor=None, **kw)


def attacker(kind: EventKind, seconds: float, geo: Geo = ABROAD, ip: str = "203.0.113.5") -> Event:
    return ev(kind, seconds, ip=ip, geo=geo, device_id=PHONE)


# -- attacks ---------------------------------------------------------------------------------------


def test_enrollment_after_refusals_from_a_new_country_is_critical() -> None:
    events = [
        *history(),
        attacker(EventKind.PUSH_DENIED, 0),
        attacker(EventKind.PUSH_DENIED, 600),
        attacker(EventKind.FACTOR_ENROLLED, 1800),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]
    reason = found[0].reasons[0]
    assert "2 prompts refused or unanswered before it (2 refused in 6 h, 0 unanswered" in reason
    assert "from Nigeria, a country neither this identity nor the organisation signs in from" in reason
    assert "from a context unfamiliar to this person and the organisation: a network neither" in reason
    assert found[0].techniques == ["T1098.005", "T1556.006"]
    assert found[0].frameworks["nist_csf_2"][:2] == ["PR.AA-01", "PR.AA-02"]


def test_hosting_nobody_uses_meeting_refusals_is_critical_in_the_persons_own_country() -> None:
    """A VPS in France (the organisation's country): the hosting sign alone makes refusals critical;
    hosting is more suspicious, never less."""
    events = [
        *history(),
        attacker(EventKind.PUSH_DENIED, 0, DO_FR, "203.0.113.9"),
        attacker(EventKind.PUSH_DENIED, 300, DO_FR, "203.0.113.9"),
        attacker(EventKind.FACTOR_ENROLLED, 900, DO_FR, "203.0.113.9"),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "new country" not in found[0].title and "hosting" in found[0].title


def test_several_factors_through_hosting_egress_escalate_one_finding() -> None:
    events = [
        *history(),
        attacker(EventKind.FACTOR_ENROLLED, 0, DO_NL, "203.0.113.9"),
        attacker(EventKind.FACTOR_ENROLLED, 300, DO_NL, "203.0.113.9"),
    ]
    found = run(events)
    # unfamiliar (2) + a country (1) and hosting (1) nobody here uses = 4, medium; "several" (2): high
    assert [f.severity for f in found] == [Severity.MEDIUM, Severity.HIGH]
    assert len({f.id for f in found}) == 1 and [f.revision for f in found] == [1, 2]
    assert "2 factors enrolled within 60 min" in found[-1].reasons[0]


def test_enrollment_after_dormancy_by_someone_else() -> None:
    events = [*history(), by_admin(EventKind.FACTOR_ENROLLED, 60 * DAY)]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "inactive for 61 days" in found[0].reasons[0]
    assert f"registered by {ADMIN} for this identity" in found[0].reasons[0]
    assert "unfamiliar" not in found[0].reasons[0]  # the admin's place is not the person's


def test_the_attackers_own_approval_does_not_make_their_place_known() -> None:
    """The first push is approved from a hosting provider abroad, the enrollment follows from there: the
    profile learnt the country from that approval, but a context first used minutes ago is still new."""
    events = [
        *history(),
        attacker(EventKind.PUSH_SENT, 0, DO_NL, "203.0.113.9"),
        attacker(EventKind.PUSH_APPROVED, 15, DO_NL, "203.0.113.9"),
        ev(EventKind.FACTOR_ENROLLED, 200, ip="203.0.113.9", geo=DO_NL, device_id=None),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "a country this identity first succeeded from 3 min before" in found[0].reasons[0]
    reason = found[0].reasons[0]
    assert "hosting / VPN / proxy egress AS14061 this identity first used 3 min before" in reason
    assert "from a network first succeeded from 3 min before, from a context then unfamiliar" in reason
    # a day and more later, the country is the identity's own (a commuter's new co-working space)
    later = [
        *events[:-1],
        ev(EventKind.FACTOR_ENROLLED, 2 * DAY, ip="203.0.113.9", geo=DO_NL, device_id=None),
    ]
    assert run(later) == []


def test_one_push_won_from_a_vps_then_an_enrollment_from_there() -> None:
    """No refusal at all: the attacker's first push is approved from hosting nobody here uses (in the
    person's own country), and the factor is registered from there minutes later."""
    events = [
        *history(),
        attacker(EventKind.PUSH_SENT, 0, DO_FR, "203.0.113.9"),
        attacker(EventKind.PUSH_APPROVED, 10, DO_FR, "203.0.113.9"),
        attacker(EventKind.FACTOR_ENROLLED, 240, DO_FR, "203.0.113.9"),
    ]
    found = run(events)  # unfamiliar (2), hosting (1), the session won from there (1)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "hostile session" in found[0].title
    # a new home network and a new phone: unfamiliar (2) but nothing hostile, quiet
    moved = Geo(lat=48.8, lon=2.3, country="France", city="Paris", accuracy_km=20.0, asn=21502)
    home = [*history(), ev(EventKind.PUSH_APPROVED, 10, ip="198.18.9.9", geo=moved, device_id=None)]
    home.append(ev(EventKind.FACTOR_ENROLLED, 240, ip="198.18.9.9", geo=moved, device_id="new-phone"))
    assert run(home) == []


def test_thresholds_are_tunable() -> None:
    events = [*history(), attacker(EventKind.FACTOR_ENROLLED, 0)]
    assert run(events) == []  # unfamiliar (2) and a new country (1): a traveller's new phone
    assert [f.severity for f in run(events, EnrollmentAbuse({"min_score": 3}))] == [Severity.MEDIUM]


def test_thin_history_does_not_silence_a_hostile_context() -> None:
    """A two-day-old account: unfamiliar means little, but hosting nobody here uses in a country nobody
    signs in from, right after refused prompts, still speaks, with less confidence."""
    events = [*office_colleagues(), *daily_approvals(2)]
    events += [attacker(EventKind.PUSH_DENIED, 0, DO_NL, "203.0.113.9")]
    events += [attacker(EventKind.PUSH_DENIED, 60, DO_NL, "203.0.113.9")]
    events += [attacker(EventKind.FACTOR_ENROLLED, 600, DO_NL, "203.0.113.9")]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].confidence == pytest.approx(0.4 + 0.06 * 7 - 0.2)  # score 7, thin: - 0.2


# -- benign look-alikes ----------------------------------------------------------------------------


def test_a_new_phone_on_a_weekend_from_home_is_quiet() -> None:
    events = [*history(), ev(EventKind.FACTOR_ENROLLED, 5 * DAY + 4 * 3600, device_id="new-iphone")]
    assert run(events) == []


def test_the_user_re_enrolling_after_the_helpdesk_reset_their_lost_phone_is_quiet() -> None:
    at_home = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        by_admin(EventKind.BYPASS_ISSUED, 120),
        ev(EventKind.FACTOR_ENROLLED, 900, device_id="replacement-phone"),
    ]
    assert run(at_home) == []  # after a reset (2); home is the person's own place
    at_the_office = [
        *at_home[:-1],
        ev(EventKind.FACTOR_ENROLLED, 900, ip="192.0.2.50", geo=OFFICE, device_id=None),
    ]
    assert run(at_the_office) == []  # the organisation's network, though the person never worked there


def test_a_lost_phone_unanswered_then_reset_and_re_enrolled_at_home_or_the_office_is_low() -> None:
    """Prompts time out (the phone is in a taxi), the helpdesk resets the factors, the person registers
    the Authenticator and a phone number anew: refusals (3), a reset (2), several (2) would make it high;
    from the person's own network, or the office, it is the helpdesk's daily work: low."""
    lost = [*history(), *(ev(EventKind.PUSH_TIMEOUT, 300 * n) for n in range(3))]
    lost += [by_admin(EventKind.FACTORS_RESET, 1800)]
    at_home = [*lost, ev(EventKind.FACTOR_ENROLLED, 2400), ev(EventKind.FACTOR_ENROLLED, 2500)]
    assert {f.severity for f in run(at_home)} == {Severity.LOW}
    office = {"ip": "192.0.2.60", "geo": OFFICE, "device_id": None}
    at_the_office = [*lost, ev(EventKind.FACTOR_ENROLLED, 2400, **office)]  # type: ignore[arg-type]
    assert {f.severity for f in run(at_the_office)} == {Severity.LOW}


def test_a_new_hires_onboarding_is_quiet() -> None:
    """A Temporary Access Pass, then the Authenticator and a phone number registered within minutes from
    home: thin history counts neither "unfamiliar" nor "several"."""
    hire = "newhire@corp.example"
    home = {"user": hire, "ip": "198.51.100.60", "device_id": None}
    events = [
        *office_colleagues(),
        ev(EventKind.BYPASS_ISSUED, 0, user=hire, actor=ADMIN, ip="192.0.2.200", geo=OFFICE, factor=None),
        ev(EventKind.SIGNIN_SUCCESS, 3600, factor=None, **home),  # type: ignore[arg-type]
        ev(EventKind.FACTOR_ENROLLED, 3700, **home),  # type: ignore[arg-type]
        ev(EventKind.FACTOR_ENROLLED, 3800, **home),  # type: ignore[arg-type]
    ]
    assert run(events) == []


def test_the_helpdesk_registering_a_phone_for_someone_is_medium_at_most() -> None:
    """Registered by someone else (2) after a reset (2): a reviewer's look, never more."""
    events = [*history(), by_admin(EventKind.FACTORS_RESET, 0), by_admin(EventKind.FACTOR_ENROLLED, 600)]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]


def test_the_companys_own_proxy_is_no_hosting_sign() -> None:
    """The organisation's secure web gateway is hosting egress, but colleagues succeed through it: after
    two refused prompts an enrollment through it is partly familiar and quiet, through a VPS critical."""
    gateway = Geo(
        lat=48.86, lon=2.35, country="France", city="Paris", accuracy_km=50.0, asn=53813, is_hosting=True
    )
    events = history()
    for day in range(1, 13):
        for n in range(5):
            user, ip = f"colleague{n}@corp.example", f"165.225.94.{30 + n}"
            events.append(ev(EventKind.PUSH_APPROVED, -day * DAY + 7200 + n, user=user, ip=ip, geo=gateway))
    events += [ev(EventKind.PUSH_DENIED, 0), ev(EventKind.PUSH_DENIED, 60)]
    through = [*events, ev(EventKind.FACTOR_ENROLLED, 600, ip="165.225.94.99", geo=gateway, device_id=None)]
    assert run(through) == []  # the refusals (3) alone
    vps = [*events, ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.9", geo=DO_FR, device_id=None)]
    assert [f.severity for f in run(vps)] == [Severity.CRITICAL]


def test_one_fat_fingered_denial_hours_before_a_reset_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0),
        by_admin(EventKind.FACTORS_RESET, 5 * 3600),
        ev(EventKind.FACTOR_ENROLLED, 5 * 3600 + 900),
    ]
    assert run(events) == []  # the denial is 5 h old: only the reset (2) counts
    close = [*history(), ev(EventKind.PUSH_DENIED, 0), attacker(EventKind.FACTOR_ENROLLED, 600)]
    # a refusal (2) + unfamiliar (2) + a country nobody here uses (1)
    assert [f.severity for f in run(close)] == [Severity.MEDIUM]


def test_okta_pushes_left_unanswered_count_as_refusals() -> None:
    """Okta logs no timeout: three pushes sent from abroad, the fourth approved, then the enrollment."""
    events = [*history(), *(attacker(EventKind.PUSH_SENT, 90 * i) for i in range(4))]
    events += [attacker(EventKind.PUSH_APPROVED, 280)]
    events += [ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.5", geo=ABROAD, device_id=None)]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]  # a new country meets refusals
    assert "3 prompts refused or unanswered before it (0 refused in 6 h, 3 unanswered" in found[0].reasons[0]
    assert "first succeeded from 5 min before" in found[0].reasons[0]
    one = [*history(), attacker(EventKind.PUSH_SENT, 0), attacker(EventKind.PUSH_SENT, 90)]
    one += [attacker(EventKind.PUSH_APPROVED, 100)]
    one += [ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.5", geo=ABROAD, device_id=None)]
    found = run(one)  # one unanswered (2), unfamiliar (2), Nigeria (1), the session won from there (1)
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "a prompt left unanswered in the 60 min before" in found[0].reasons[0]
    assert "signed in from this same unfamiliar, hostile context 8 min before" in found[0].reasons[0]
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
    # refusals (3) + after a reset (2), but registered at home: a lost phone, low at most
    assert [f.severity for f in run(denials)] == [Severity.LOW]
    denials[-1] = attacker(EventKind.FACTOR_ENROLLED, 5 * 3600 + 900, DO_FR, "203.0.113.9")
    assert [f.severity for f in run(denials)] == [Severity.CRITICAL]  # from a VPS nobody here uses


# -- vendor records through the pipeline -----------------------------------------------------------


def _okta_colleagues(days: int = 12) -> list[dict[str, Any]]:
    """Five colleagues starting sessions from Paris every morning: France becomes the organisation's."""
    return [
        okta(
            "user.session.start",
            -day * DAY + 60 * n,
            actor=f"colleague{n}@corp.example",
            actor_id=f"00uCOLLEAGUE{n:09d}",
            ip=f"198.51.100.{20 + n}",
        )
        for day in range(1, days + 1)
        for n in range(5)
    ]


def test_okta_factor_activation_after_denied_pushes_from_lagos(tmp_path: Path) -> None:
    """Refusals (3) and an unfamiliar context (2): high; in an organisation whose people sign in from
    France, Nigeria is a country nobody here uses, and a hostile sign meeting refusals is critical."""
    lagos: dict[str, Any] = {"ip": "102.89.34.12", "place": LAGOS, "asn": 36873, "as_org": "Airtel Networks"}
    attack = [okta_deny_push(0, **lagos), okta_deny_push(240, **lagos), okta_factor_activate(1500, **lagos)]
    alone = run_records(tmp_path, [*okta_sign_in_history(), *attack], "okta", "enrollment_abuse")
    assert [f.severity for f in alone] == [Severity.MEDIUM]  # one person: no country is "nobody's"
    records = [*_okta_colleagues(), *okta_sign_in_history(), *attack]
    found = run_records(tmp_path, records, "okta", "enrollment_abuse")
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].user == "alice.martin@corp.example"
    assert "a country neither this identity nor the organisation signs in from" in found[0].reasons[0]
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


def test_duo_self_enrollment_from_a_vps_after_denied_pushes(tmp_path: Path) -> None:
    """Duo's authentication log: an ``enrollment`` event from hosting egress nobody here uses."""
    vps: dict[str, Any] = {"ip": "51.158.20.30", "city": "Paris", "country": "France"}
    records = [duo_auth(-day * DAY, "success", "user_approved") for day in range(1, 13)]
    records += [duo_auth(0, "denied", "user_mistake", **vps), duo_auth(120, "denied", "user_mistake", **vps)]
    records.append(duo_auth(900, "success", "user_approved", event_type="enrollment", **vps))
    found = run_records(tmp_path, records, "duo", "enrollment_abuse")
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "through hosting / VPN / proxy egress neither" in found[0].reasons[0]


def test_one_push_won_then_an_enrollment_from_a_browser_the_person_never_used() -> None:
    """One push approved from a VPS and a factor enrolled from there, from a Linux browser the Windows
    user never had: the attacker's machine (the hosting nobody here uses makes it high)."""
    vps = Geo(country="France", asn=14061, as_org="DigitalOcean", is_hosting=True, accuracy_km=1000.0)
    linux = Device(os="Linux", browser="Chrome")
    windows = Device(id="dev-alice-laptop", os="Windows 11", browser="Edge")
    own = [msgspec.structs.replace(e, device=windows) for e in history()]

    def from_vps(kind: EventKind, seconds: float, device: Device) -> Event:
        return msgspec.structs.replace(ev(kind, seconds, ip="203.0.113.9", geo=vps), device=device)

    stranger = [from_vps(EventKind.PUSH_APPROVED, 10, linux), from_vps(EventKind.FACTOR_ENROLLED, 400, linux)]
    found = run(own + stranger)
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "from a browser this person never used (Linux, Chrome)" in found[0].reasons[0]
    # the person's own laptop through that VPN: their new phone
    theirs = [
        from_vps(EventKind.PUSH_APPROVED, 10, windows),
        from_vps(EventKind.FACTOR_ENROLLED, 400, windows),
    ]
    assert run(own + theirs) == []
