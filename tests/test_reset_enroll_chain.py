"""Reset → enroll → access: the helpdesk social-engineering chain, judged by familiarity at every step and
escalating as it advances (one finding, its revision growing), and the helpdesk's daily work that must
stay quiet (a lost phone re-enrolled at home or at the office, a new hire's first enrollment, an admin's
routine reset). Profiles are built through the engine: the person's own history and five colleagues who
sign in from the office make the organisation's networks and country known.

Okta, Entra ID and Duo records also go through the whole pipeline (tests/account_records.py). Entra
security-info audit records (``Admin deleted security info``, ``Admin registered security info`` for a
Temporary Access Pass, ``User registered security info``) have no public sample: they are built from
Microsoft's documented directoryAudit shape and its audit activity reference, with our own values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.detect.reset_enroll_chain import ResetEnrollChain
from pushguard.model import (
    Device,
    Event,
    EventKind,
    Factor,
    Finding,
    Geo,
    Principal,
    PrincipalType,
    Provider,
    Severity,
)
from pushguard.pipeline import Engine
from tests.account_records import (
    ALICE_TARGET,
    LAGOS,
    NILS,
    PARIS,
    duo_admin,
    duo_auth,
    entra_audit,
    entra_signin,
    okta,
    okta_factor_activate,
    okta_sign_in_history,
    run_records,
)
from tests.events import ABROAD, HOME, OFFICE, ev, office_colleagues, run_engine

DAY = 86400.0
ADMIN = "nils.helpdesk@corp.example"
ADMIN_IP = "192.0.2.200"  # the helpdesk's workstation at the office
VPS = Geo(lat=48.86, lon=2.35, country="France", city="Paris", accuracy_km=50.0, asn=12876, is_hosting=True)
RESIDENTIAL = Geo(lat=45.76, lon=4.84, country="France", city="Lyon", accuracy_km=50.0, asn=15557)
CAFE = Geo(lat=48.85, lon=2.29, country="France", city="Paris", accuracy_km=20.0, asn=21502, as_org="SFR")
LAPTOP = Device(id="dev-alice-laptop", os="Mac OS X", browser="Chrome")
BROWSER = Device(os="Mac OS X", browser="Chrome")  # the same laptop where the vendor logs no device id
ATTACKER = Device(os="Linux", browser="Firefox")


def on(event: Event, device: Device | None) -> Event:
    return msgspec.structs.replace(event, device=device)


def run(events: list[Event]) -> list[Finding]:
    return run_engine(events, [ResetEnrollChain()])


def history(days: int = 12, user: str = "alice@corp.example") -> list[Event]:
    """The person's own mornings from home on their laptop, after the organisation's."""
    events = office_colleagues(days)
    for day in range(1, days + 1):
        start = -day * DAY + 3600
        events.append(on(ev(EventKind.PUSH_SENT, start, user=user), LAPTOP))
        events.append(on(ev(EventKind.PUSH_APPROVED, start + 5, user=user), LAPTOP))
    return events


def by_admin(kind: EventKind, seconds: float, factor: Factor | None = None, **kw: Any) -> Event:
    return ev(kind, seconds, actor=ADMIN, ip=ADMIN_IP, geo=OFFICE, factor=factor, device_id=None, **kw)


def from_(kind: EventKind, seconds: float, ip: str, geo: Geo, device: Device | None, **kw: Any) -> Event:
    return on(ev(kind, seconds, ip=ip, geo=geo, factor=None, **kw), device)


def entra(event: Event) -> Event:
    return msgspec.structs.replace(event, provider=Provider.ENTRA)


def helpdesk_deletes_the_authenticator(at: float = 0.0) -> list[Event]:
    """Entra: the helpdesk deletes the Authenticator, then issues a Temporary Access Pass."""
    return [
        entra(by_admin(EventKind.FACTOR_REMOVED, at, Factor.MS_AUTHENTICATOR_PUSH)),
        entra(by_admin(EventKind.BYPASS_ISSUED, at + 120, Factor.TEMPORARY_ACCESS_PASS)),
    ]


# -- attack chains ---------------------------------------------------------------------------------


def test_entra_tap_then_a_method_registered_from_a_vps_and_two_sign_ins_escalate_to_critical() -> None:
    ip = "51.158.20.30"
    events = [
        *history(),
        *helpdesk_deletes_the_authenticator(),
        entra(from_(EventKind.SIGNIN_SUCCESS, 600, ip, VPS, ATTACKER)),  # with the TAP
        entra(from_(EventKind.FACTOR_ENROLLED, 720, ip, VPS, None)),  # the audit record names no device
        entra(from_(EventKind.SIGNIN_SUCCESS, 1800, ip, VPS, ATTACKER)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 3600, ip, VPS, ATTACKER)),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH, Severity.CRITICAL]
    assert len({f.id for f in found}) == 1 and [f.revision for f in found] == [1, 2]
    first, last = found
    assert first.title == "Helpdesk-style chain: reset → enroll"
    assert last.title == "Helpdesk-style chain: reset → enroll → access"
    assert last.reasons[0].startswith(
        f"ms_authenticator_push removed by {ADMIN}, then temporary access pass issued by {ADMIN}; "
        "10 min after the last reset a factor was enrolled from Paris, France (AS12876, hosting/VPN)"
    )
    assert "a sign-in before the enrollment came from Paris, France" in last.reasons[1]
    assert "hosting/VPN egress nobody here uses" in last.reasons[1]
    assert "1 access(es) after the enrollment, 1 from a context unfamiliar" in last.reasons[-1]
    assert ADMIN_IP not in last.source_ips and last.source_ips == [ip]  # responders block these
    assert last.evidence[:2] == [events[-6].event_id, events[-5].event_id]  # the removal, the TAP


def test_a_residential_proxy_in_the_victims_country_every_access_is_judged() -> None:
    """No hostile sign (France, a consumer ISP): unfamiliar, high; the sign-ins after the enrollment,
    hours apart, and the privileged action each advance the one finding."""
    ip = "77.136.20.30"
    events = [
        *history(),
        *helpdesk_deletes_the_authenticator(),
        entra(from_(EventKind.SIGNIN_SUCCESS, 600, ip, RESIDENTIAL, ATTACKER)),
        entra(from_(EventKind.FACTOR_ENROLLED, 720, ip, RESIDENTIAL, None)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 5 * 3600, ip, RESIDENTIAL, ATTACKER)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 6 * 3600, ip, RESIDENTIAL, ATTACKER)),
        entra(from_(EventKind.PRIVILEGED_ACTION, 7 * 3600, ip, RESIDENTIAL, ATTACKER)),
    ]
    found = run(events)
    assert [(f.severity, f.title.rpartition(": ")[2]) for f in found] == [
        (Severity.HIGH, "reset → enroll"),
        (Severity.HIGH, "reset → enroll → access"),
        (Severity.CRITICAL, "reset → enroll → access → privileged"),
    ]
    last = found[-1]
    assert "2 access(es) after the enrollment, 2 from a context unfamiliar" in " ".join(last.reasons)
    assert "hosting" not in " ".join(last.reasons)  # judged unfamiliar without a hostile sign


def test_a_place_first_used_inside_the_chain_does_not_vouch_for_itself() -> None:
    """The attacker passes the person's own browser on from a consumer ISP at home: partly familiar, low,
    so the profile keeps learning (nothing medium is open). Six hours and three sign-ins later the profile
    calls the proxy the person's own network; the chain still judges it as it was when first used, and
    the privileged action from there makes it medium (from a network really the person's it is low)."""
    ip = "77.136.20.30"
    proxy = [
        *history(),
        by_admin(EventKind.FACTOR_REMOVED, 0, Factor.OKTA_VERIFY_PUSH),
        from_(EventKind.FACTOR_ENROLLED, 600, ip, RESIDENTIAL, BROWSER),
        from_(EventKind.PUSH_APPROVED, 900, ip, RESIDENTIAL, BROWSER),
        from_(EventKind.PUSH_APPROVED, 3 * 3600, ip, RESIDENTIAL, BROWSER),
        from_(EventKind.PUSH_APPROVED, 5 * 3600, ip, RESIDENTIAL, BROWSER),
        from_(EventKind.PRIVILEGED_ACTION, 6 * 3600, ip, RESIDENTIAL, BROWSER),
    ]
    found = run(proxy)
    assert [f.severity for f in found] == [Severity.LOW, Severity.LOW, Severity.MEDIUM]
    assert "first used inside this chain (it does not vouch for itself)" in " ".join(found[-1].reasons)


def test_the_first_access_from_home_does_not_end_the_judging() -> None:
    """The helpdesk registers the caller's phone for the person (its place is the admin's: not judged);
    the person signs in from home (their old session), then the attacker from a VPS: the second access
    completes the chain (the old rule judged only the first)."""
    events = [
        *history(),
        by_admin(EventKind.FACTOR_REMOVED, 0, Factor.OKTA_VERIFY_PUSH),
        by_admin(EventKind.FACTOR_ENROLLED, 300, Factor.SMS),
        on(ev(EventKind.SIGNIN_SUCCESS, 900, factor=None), LAPTOP),
        from_(EventKind.PUSH_APPROVED, 1500, "51.158.20.30", VPS, ATTACKER),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]
    reasons = found[0].reasons
    assert f"a factor was enrolled registered by {ADMIN}" in reasons[0]
    assert "access 20 min after the enrollment came from Paris, France (AS12876, hosting/VPN)" in reasons[1]
    assert reasons[-1].startswith("the identity also signed in from its own context")


def test_kinds_it_does_not_watch_change_nothing() -> None:
    """Prompts sent to the attacker between the steps are no access: handed every kind (the reference
    the engine's kind table is held to), the chain reports what it reports when handed its own."""
    ip = "51.158.20.30"
    events = [
        *history(),
        *helpdesk_deletes_the_authenticator(),
        entra(from_(EventKind.FACTOR_ENROLLED, 720, ip, VPS, None)),
        entra(from_(EventKind.PUSH_SENT, 1700, ip, VPS, ATTACKER)),
        entra(from_(EventKind.PUSH_DENIED, 1750, ip, VPS, ATTACKER)),
    ]
    every = Engine(detectors=[ResetEnrollChain()], by_kind=False)
    own = Engine(detectors=[ResetEnrollChain()])
    for event in sorted(events, key=lambda e: e.sort_key()):
        assert [f.revision for f in every.process(event)] == [f.revision for f in own.process(event)]
    assert [f.title for f in every.findings.values()] == ["Helpdesk-style chain: reset → enroll"]


def test_a_self_service_reset_then_enrollment_through_new_hosting_is_medium_then_high() -> None:
    events = [
        *history(),
        ev(EventKind.PASSWORD_RESET, 0, factor=None),
        from_(EventKind.FACTOR_ENROLLED, 600, "51.158.20.30", VPS, ATTACKER),
        from_(EventKind.SIGNIN_SUCCESS, 900, "51.158.20.30", VPS, ATTACKER),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM, Severity.HIGH]
    assert found[0].reasons[0].startswith("password reset (self-service); 10 min after the last reset")


def test_access_from_abroad_after_a_home_enrollment_is_high() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        on(ev(EventKind.FACTOR_ENROLLED, 600), LAPTOP),
        from_(EventKind.SIGNIN_SUCCESS, 1200, "203.0.113.5", ABROAD, ATTACKER),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH]  # the enrollment was the person's own
    assert "a country nobody in the organisation signs in from" in found[0].reasons[1]


# -- benign look-alikes ----------------------------------------------------------------------------


def test_a_lost_phone_re_enrolled_at_home_on_the_own_laptop_is_quiet() -> None:
    events = [
        *history(),
        *helpdesk_deletes_the_authenticator(),
        entra(on(ev(EventKind.SIGNIN_SUCCESS, 600, factor=None), LAPTOP)),
        entra(ev(EventKind.FACTOR_ENROLLED, 700, factor=None, device_id=None)),  # audit: no device
        entra(on(ev(EventKind.SIGNIN_SUCCESS, 900, factor=None), LAPTOP)),
        entra(on(ev(EventKind.SIGNIN_SUCCESS, 4 * 3600, factor=None), LAPTOP)),
    ]
    assert run(events) == []


def test_a_lost_phone_re_enrolled_at_the_office_is_quiet_though_the_person_never_worked_there() -> None:
    events = [
        *history(),
        *helpdesk_deletes_the_authenticator(),
        entra(from_(EventKind.FACTOR_ENROLLED, 700, "192.0.2.40", OFFICE, None)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 900, "192.0.2.40", OFFICE, BROWSER)),
    ]
    assert run(events) == []


def test_a_routine_admin_reset_then_enrollment_from_the_office_is_quiet() -> None:
    events = [
        *history(),
        by_admin(EventKind.PASSWORD_RESET, 0),
        by_admin(EventKind.FACTORS_RESET, 60),
        from_(EventKind.FACTOR_ENROLLED, 900, "192.0.2.41", OFFICE, BROWSER),
        from_(EventKind.PUSH_APPROVED, 1200, "192.0.2.41", OFFICE, BROWSER),
    ]
    assert run(events) == []


def test_a_new_hires_first_enrollment_after_an_onboarding_tap_is_quiet() -> None:
    hire = "newhire@corp.example"
    events = [
        *office_colleagues(),
        entra(by_admin(EventKind.BYPASS_ISSUED, 0, Factor.TEMPORARY_ACCESS_PASS, user=hire)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 3600, "198.51.100.60", HOME, BROWSER, user=hire)),
        entra(from_(EventKind.FACTOR_ENROLLED, 3700, "198.51.100.60", HOME, None, user=hire)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 3800, "198.51.100.60", HOME, BROWSER, user=hire)),
    ]
    assert run(events) == []


def test_thin_history_does_not_silence_a_hostile_context() -> None:
    """The same onboarding, but the first sign-in and the enrollment come through hosting nobody here
    uses, from a country nobody signs in from: it speaks, with less confidence."""
    hire = "newhire@corp.example"
    abroad_vps = msgspec.structs.replace(ABROAD, asn=14061, is_hosting=True)
    events = [
        *office_colleagues(),
        entra(by_admin(EventKind.BYPASS_ISSUED, 0, Factor.TEMPORARY_ACCESS_PASS, user=hire)),
        entra(from_(EventKind.SIGNIN_SUCCESS, 3600, "203.0.113.9", abroad_vps, ATTACKER, user=hire)),
        entra(from_(EventKind.FACTOR_ENROLLED, 3700, "203.0.113.9", abroad_vps, None, user=hire)),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH]
    assert found[0].confidence == pytest.approx(0.6)  # 0.75 + 0.05 hostile - 0.2 thin
    assert found[0].reasons[-1] == "little history for this identity: confidence lowered"


def test_a_lost_phone_re_enrolled_from_a_cafe_on_the_own_browser_is_low() -> None:
    """Partly familiar (the person's browser, a network nobody here used): the helpdesk's work as often
    as not: low, for a reviewer."""
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        from_(EventKind.FACTOR_ENROLLED, 900, "198.18.7.7", CAFE, BROWSER),
        from_(EventKind.PUSH_APPROVED, 1000, "198.18.7.7", CAFE, BROWSER),
    ]
    found = run(events)
    assert {f.severity for f in found} == {Severity.LOW} and len({f.id for f in found}) == 1
    events[-2:] = [msgspec.structs.replace(e, actor=e.subject) for e in events[-2:]]
    self_service = [*history(), ev(EventKind.PASSWORD_RESET, 0, factor=None), *events[-2:]]
    assert run(self_service) == []


def test_an_admins_lost_phone_then_privileged_work_from_the_office_is_low() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        from_(EventKind.FACTOR_ENROLLED, 600, "192.0.2.40", OFFICE, BROWSER),
        from_(EventKind.PUSH_APPROVED, 900, "192.0.2.40", OFFICE, BROWSER),
        from_(EventKind.PRIVILEGED_ACTION, 1800, "192.0.2.40", OFFICE, BROWSER),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.LOW]
    assert found[0].reasons[-1] == "then privileged actions: a privileged action"


@pytest.mark.parametrize(
    "opening",
    [
        by_admin(EventKind.FACTOR_REMOVED, 0, Factor.BYPASS_CODE),  # removing a bypass code resets nothing
        by_admin(EventKind.FACTOR_REMOVED, 0, Factor.TEMPORARY_ACCESS_PASS),
        ev(EventKind.FACTOR_REMOVED, 0, factor=Factor.SMS),  # the person deleting their own factor
        msgspec.structs.replace(  # the IdP replacing a factor
            ev(EventKind.FACTOR_REMOVED, 0, factor=Factor.OKTA_VERIFY_PUSH),
            actor=Principal(login="system@okta.com", type=PrincipalType.SYSTEM),
        ),
    ],
)
def test_what_is_no_reset_opens_no_window(opening: Event) -> None:
    events = [*history(), opening, from_(EventKind.FACTOR_ENROLLED, 600, "51.158.20.30", VPS, ATTACKER)]
    assert run(events) == []


def test_a_reset_without_enrollment_is_quiet() -> None:
    events = [*history(), by_admin(EventKind.PASSWORD_RESET, 0)]
    events.append(from_(EventKind.SIGNIN_SUCCESS, 600, "203.0.113.5", ABROAD, ATTACKER))
    assert run(events) == []


def test_an_enrollment_long_after_the_reset_is_not_the_chain() -> None:
    events = [*history(), by_admin(EventKind.FACTORS_RESET, 0)]
    events.append(from_(EventKind.FACTOR_ENROLLED, 2 * DAY, "203.0.113.5", ABROAD, ATTACKER))
    assert run(events) == []


def test_access_after_the_window_does_not_extend_the_chain() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        on(ev(EventKind.FACTOR_ENROLLED, 600), LAPTOP),
        from_(EventKind.SIGNIN_SUCCESS, 600 + 13 * 3600, "203.0.113.5", ABROAD, ATTACKER),
    ]
    assert run(events) == []


# -- vendor records through the pipeline -----------------------------------------------------------


def _attacker_agent(record: dict[str, Any]) -> dict[str, Any]:
    record["client"]["userAgent"] = {
        "rawUserAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "os": "Linux",
        "browser": "FIREFOX",
    }
    return record


def test_okta_helpdesk_deactivates_okta_verify_then_activation_and_sessions_from_a_vps(
    tmp_path: Path,
) -> None:
    vps: dict[str, Any] = {"ip": "51.158.20.30", "place": PARIS, "asn": 12876, "as_org": "Scaleway SAS"}
    verify = {"id": "opfVICTIM000000000001", "type": "AuthenticatorEnrollment", "displayName": "Okta Verify"}
    records = [
        *okta_sign_in_history(),
        okta(
            "user.mfa.factor.deactivate",
            0,
            actor="helpdesk.bob@corp.example",
            actor_id="00uHELPDESK0000000001",
            ip="198.51.100.200",
            target=[ALICE_TARGET, verify],
            debug={"factor": "OKTA_VERIFY_PUSH"},
        ),
        _attacker_agent(okta_factor_activate(1200, **vps)),
        _attacker_agent(okta("user.session.start", 1500, **vps)),
        _attacker_agent(okta("user.session.start", 4000, **vps)),
    ]
    found = run_records(tmp_path, records, "okta", "reset_enroll_chain")
    assert [(f.severity, f.revision) for f in found] == [(Severity.CRITICAL, 2)]
    assert [h.severity for h in found[0].history] == [Severity.HIGH]
    assert found[0].user == "alice.martin@corp.example"
    assert "removed by helpdesk.bob@corp.example" in found[0].reasons[0]
    assert "198.51.100.200" not in found[0].source_ips


def test_okta_helpdesk_reset_then_activation_at_home_is_quiet(tmp_path: Path) -> None:
    records = [
        *okta_sign_in_history(),
        okta("user.mfa.factor.reset_all", 0, actor="helpdesk.bob@corp.example", target=[ALICE_TARGET]),
        okta_factor_activate(1200),
        okta("user.session.start", 1500),
    ]
    assert run_records(tmp_path, records, "okta", "reset_enroll_chain") == []


def _entra_chain(ip: str, place: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(entra_signin(-day * DAY, "88.160.1.2", PARIS) for day in range(1, 13)),
        entra_audit(
            "Admin deleted security info",
            0,
            by=NILS,
            ip="198.51.100.80",
            reason="Admin deleted Authenticator App with Notification and Code method for user",
        ),
        entra_audit(
            "Admin registered security info",
            120,
            by=NILS,
            ip="198.51.100.80",
            reason="Admin registered temporary access pass method for user",
        ),
        entra_signin(900, ip, place, detail="Temporary Access Pass"),
        entra_audit(
            "User registered security info",
            1000,
            ip=ip,
            reason="User registered Authenticator App with Notification and Code",
        ),
        entra_signin(2400, ip, place),
        entra_signin(4800, ip, place),
    ]


@pytest.mark.parametrize(
    ("ip", "place", "severity"),
    [
        ("51.158.20.30", PARIS, Severity.CRITICAL),  # Scaleway: hosting nobody here uses
        ("89.87.10.10", {**PARIS, "city": "Lyon", "lat": 45.76, "lon": 4.84}, Severity.HIGH),  # Bouygues
        # a country the person never used: an organisation that knows no countries yet (one person in
        # the file) cannot call it one nobody here uses, so no hostile sign
        ("102.89.34.12", LAGOS, Severity.HIGH),
    ],
)
def test_entra_helpdesk_deletes_the_authenticator_then_tap_registration_and_sign_ins(
    tmp_path: Path, ip: str, place: dict[str, Any], severity: Severity
) -> None:
    found = run_records(tmp_path, _entra_chain(ip, place), "entra", "reset_enroll_chain")
    assert [f.severity for f in found] == [severity]
    assert found[0].user == "mara.lind@contoso-example.com"
    assert found[0].title.endswith("reset → enroll → access")
    assert (
        found[0]
        .reasons[0]
        .startswith(
            "ms_authenticator_push removed by nils.helpdesk@contoso-example.com, then temporary access pass "
            "issued by nils.helpdesk@contoso-example.com"
        )
    )
    assert found[0].source_ips == [ip]


def test_entra_lost_phone_re_registered_at_home_is_quiet(tmp_path: Path) -> None:
    records = _entra_chain("88.160.1.2", PARIS)
    assert run_records(tmp_path, records, "entra", "reset_enroll_chain") == []


def test_duo_admin_deletes_the_phone_then_the_attacker_enrolls_one_and_approves(tmp_path: Path) -> None:
    user = "m.rivera@example.org"
    vps: dict[str, Any] = {"ip": "51.158.20.30", "city": "Paris", "country": "France"}
    records = [
        *(duo_auth(-day * DAY, "success", "user_approved") for day in range(1, 13)),
        duo_admin("phone_delete", 0, "+351 555 0100", {"username": user, "number": "+351 555 0100"}),
        duo_auth(900, "success", "user_approved", event_type="enrollment", **vps),
        duo_auth(1500, "success", "user_approved", **vps),
        duo_auth(2400, "success", "user_approved", **vps),
    ]
    found = run_records(tmp_path, records, "duo", "reset_enroll_chain")
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].reasons[0].startswith("a factor removed by dana helpdesk; 15 min after the last reset")
    # the person's own phone, deleted and re-added from their usual place: quiet
    own = [*records[:13], duo_auth(900, "success", "user_approved", event_type="enrollment")]
    own.append(duo_auth(1500, "success", "user_approved"))
    assert run_records(tmp_path, own, "duo", "reset_enroll_chain") == []
