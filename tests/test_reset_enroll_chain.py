"""Reset → enroll → access: the helpdesk social-engineering chain escalating as it advances (one finding,
its revision growing), and the helpdesk's daily work that must stay quiet (a lost phone re-enrolled from
home or through the company's own proxy, a reset with no enrollment after it, an enrollment days later).
Okta and Entra ID records go through the whole pipeline; the Entra audit records are hand-made after
Microsoft's audit activity reference (no public sample has security-info registrations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pushguard.detect.reset_enroll_chain import ResetEnrollChain
from pushguard.model import Event, EventKind, Finding, Geo, Severity
from tests.account_records import (
    LAGOS,
    NILS,
    PARIS,
    entra_audit,
    entra_signin,
    okta,
    okta_factor_activate,
    okta_sign_in_history,
    run_records,
)
from tests.events import ABROAD, HOME, ev, run_engine

DAY = 86400.0
ADMIN = "nils.helpdesk@corp.example"
ZSCALER = Geo(
    lat=50.11, lon=8.68, country="Germany", city="Frankfurt", accuracy_km=50.0, asn=53813, is_hosting=True
)


def run(events: list[Event]) -> list[Finding]:
    return run_engine(events, [ResetEnrollChain()])


def history(days: int = 12, proxy: Geo | None = None) -> list[Event]:
    """Ordinary mornings from home; with ``proxy``, every other day through that egress."""
    events = []
    for day in range(1, days + 1):
        through = proxy is not None and day % 2 == 1
        ip, geo = ("165.225.94.30", proxy) if through else ("198.51.100.7", HOME)
        events.append(ev(EventKind.PUSH_SENT, -day * DAY, ip=ip, geo=geo))
        events.append(ev(EventKind.PUSH_APPROVED, -day * DAY + 5, ip=ip, geo=geo))
    return events


def by_admin(kind: EventKind, seconds: float) -> Event:
    return ev(kind, seconds, actor=ADMIN, ip="198.51.100.80", factor=None)


def abroad(kind: EventKind, seconds: float) -> Event:
    return ev(kind, seconds, ip="203.0.113.5", geo=ABROAD, factor=None)


# -- the chain -------------------------------------------------------------------------------------


def test_the_helpdesk_chain_from_a_new_place_escalates_to_critical() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        by_admin(EventKind.BYPASS_ISSUED, 120),
        abroad(EventKind.SIGNIN_SUCCESS, 900),  # with the bypass code: judged before the profile learns it
        abroad(EventKind.FACTOR_ENROLLED, 1200),
        abroad(EventKind.PUSH_APPROVED, 3000),
        abroad(EventKind.PRIVILEGED_ACTION, 3600),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH, Severity.CRITICAL]
    assert len({f.id for f in found}) == 1 and [f.revision for f in found] == [1, 2]
    assert found[-1].title == "Helpdesk-style chain: reset → enroll → access → privileged"
    assert found[-1].reasons[0].startswith("bypass issued by nils.helpdesk@corp.example, then a factor")
    assert "from Nigeria, a country this identity never succeeded from" in found[-1].reasons[1]
    assert found[-1].techniques == ["T1656", "T1098.005", "T1078"]


def test_a_self_service_reset_then_enrollment_through_new_hosting_is_medium_then_high() -> None:
    dc = Geo(lat=52.37, lon=4.9, country="France", city="Paris", accuracy_km=50.0, asn=14061, is_hosting=True)
    events = [
        *history(),
        ev(EventKind.PASSWORD_RESET, 0, factor=None),
        ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.9", geo=dc),
        ev(EventKind.SIGNIN_SUCCESS, 900, ip="203.0.113.9", geo=dc, factor=None),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM, Severity.HIGH]
    assert found[0].reasons[0].startswith("password reset self-service, then a factor enrolled 10 min later")
    assert "through hosting / VPN / proxy egress new to this identity" in found[0].reasons[1]


def test_access_from_a_new_place_after_a_home_enrollment_completes_the_chain() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.FACTOR_ENROLLED, 600),
        abroad(EventKind.SIGNIN_SUCCESS, 1200),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "(then access from Nigeria" in found[0].reasons[1]


def test_an_admins_lost_phone_then_privileged_work_from_the_office_is_medium() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.FACTOR_ENROLLED, 600),
        ev(EventKind.PUSH_APPROVED, 900),
        ev(EventKind.PRIVILEGED_ACTION, 1800, factor=None),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert found[0].reasons[-1] == "then a privileged action: a privileged action"


# -- benign look-alikes ----------------------------------------------------------------------------


def test_a_lost_phone_re_enrolled_from_home_is_quiet() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.FACTOR_ENROLLED, 1200),
        ev(EventKind.PUSH_APPROVED, 1500),
    ]
    assert run(events) == []


def test_re_enrollment_through_the_companys_own_proxy_is_quiet() -> None:
    """Zscaler egress is hosting, but this identity signs in through it every other day."""
    events = [
        *history(proxy=ZSCALER),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.SIGNIN_SUCCESS, 600, ip="165.225.94.31", geo=ZSCALER, factor=None),
        ev(EventKind.FACTOR_ENROLLED, 700, ip="165.225.94.31", geo=ZSCALER),
        ev(EventKind.PUSH_APPROVED, 900, ip="165.225.94.31", geo=ZSCALER),
    ]
    assert run(events) == []


def test_a_reset_without_enrollment_is_quiet() -> None:
    events = [*history(), by_admin(EventKind.PASSWORD_RESET, 0), abroad(EventKind.SIGNIN_SUCCESS, 600)]
    assert run(events) == []


def test_an_enrollment_long_after_the_reset_is_not_the_chain() -> None:
    events = [*history(), by_admin(EventKind.FACTORS_RESET, 0), abroad(EventKind.FACTOR_ENROLLED, 2 * DAY)]
    assert run(events) == []


def test_access_after_the_window_does_not_extend_the_chain() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.FACTOR_ENROLLED, 600),
        abroad(EventKind.SIGNIN_SUCCESS, 600 + 13 * 3600),
    ]
    assert run(events) == []


# -- vendor records through the pipeline -----------------------------------------------------------


def test_okta_helpdesk_reset_then_activation_and_session_from_lagos(tmp_path: Path) -> None:
    lagos: dict[str, Any] = {"ip": "102.89.34.12", "place": LAGOS, "asn": 36873, "as_org": "Airtel Networks"}
    alice = {"id": "00u1a2b3c4d5e6f7g8h9", "type": "User", "alternateId": "alice.martin@corp.example"}
    records = [
        *okta_sign_in_history(),
        okta(
            "user.mfa.factor.reset_all",
            0,
            actor="helpdesk.bob@corp.example",
            actor_id="00uHELPDESK0000000001",
            ip="198.51.100.200",
            target=[alice],
        ),
        okta_factor_activate(1200, **lagos),
        okta("user.session.start", 1500, **lagos),
    ]
    found = run_records(tmp_path, records, "okta", "reset_enroll_chain")
    assert [f.severity for f in found] == [Severity.HIGH]
    assert found[0].user == "alice.martin@corp.example"
    assert "factors reset by helpdesk.bob@corp.example" in found[0].reasons[0]


def test_okta_helpdesk_reset_then_activation_at_home_is_quiet(tmp_path: Path) -> None:
    alice = {"id": "00u1a2b3c4d5e6f7g8h9", "type": "User", "alternateId": "alice.martin@corp.example"}
    records = [
        *okta_sign_in_history(),
        okta("user.mfa.factor.reset_all", 0, actor="helpdesk.bob@corp.example", target=[alice]),
        okta_factor_activate(1200),
        okta("user.session.start", 1500),
    ]
    assert run_records(tmp_path, records, "okta", "reset_enroll_chain") == []


def test_entra_tap_then_registration_then_sign_in_from_abroad(tmp_path: Path) -> None:
    records = [entra_signin(-day * DAY, "88.160.1.2", PARIS) for day in range(1, 13)]
    records.append(
        entra_audit(
            "Admin registered security info",
            0,
            by=NILS,
            ip="198.51.100.80",
            reason="Admin registered temporary access pass method for user",
        )
    )
    records.append(
        entra_audit(
            "User registered security info",
            1500,
            ip="102.89.34.12",
            reason="User registered Authenticator App with Notification and Code",
        )
    )
    records.append(entra_signin(2400, "102.89.34.12", LAGOS))
    found = run_records(tmp_path, records, "entra", "reset_enroll_chain")
    assert [f.severity for f in found] == [Severity.HIGH]
    assert found[0].user == "mara.lind@contoso-example.com"
    assert found[0].reasons[0].startswith("bypass issued by nils.helpdesk@contoso-example.com")
