"""Enrollment abuse, the reset → enroll → access chain and privileged action after a risky approval:
positive cases and the helpdesk's and admins' daily work that must stay quiet. The last test drives
Entra ID audit records (hand-made after Microsoft's directoryAudit documentation: no public sample has
security-info registrations) and sign-ins through the whole pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pushguard.detect.enrollment_abuse import EnrollmentAbuse
from pushguard.detect.privileged_after_risky_approval import PrivilegedAfterRiskyApproval
from pushguard.detect.reset_enroll_chain import ResetEnrollChain
from pushguard.model import Event, EventKind, Finding, Geo, Severity
from pushguard.pipeline import Engine, analyze
from tests.events import ABROAD, at, ev

HOUR = 3600.0
DO_NL = Geo(
    lat=52.37, lon=4.9, country="Netherlands", city="Amsterdam", accuracy_km=50.0, asn=14061, is_hosting=True
)
ADMIN = "nils.helpdesk@corp.example"


def run(events: list[Event], *detectors: object) -> list[Finding]:
    engine = Engine(detectors=list(detectors))  # type: ignore[arg-type]
    found: list[Finding] = []
    for event in sorted(events, key=lambda e: e.sort_key()):
        found.extend(engine.process(event))
    found.extend(engine.finish())
    return found


def history(days: int = 12) -> list[Event]:
    events = []
    for day in range(1, days + 1):
        events.append(ev(EventKind.PUSH_SENT, -day * 86400))
        events.append(ev(EventKind.PUSH_APPROVED, -day * 86400 + 5))
    return events


def by_admin(kind: EventKind, seconds: float) -> Event:
    return ev(kind, seconds, actor=ADMIN, ip="198.51.100.80", factor=None)


# -- enrollment abuse ------------------------------------------------------------------------------


def test_enrollment_after_refusals_from_a_new_country_is_critical() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 600, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.FACTOR_ENROLLED, 1800, ip="203.0.113.5", geo=ABROAD, device_id="attacker-phone"),
    ]
    found = run(events, EnrollmentAbuse())
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "2 prompts refused" in found[0].reasons[0]
    assert "never succeeded from" in found[0].reasons[0]
    assert found[0].techniques == ["T1098.005", "T1556.006"]


def test_several_factors_through_hosting_egress_fire() -> None:
    events = [
        *history(),
        ev(EventKind.FACTOR_ENROLLED, 0, ip="203.0.113.9", geo=DO_NL),
        ev(EventKind.FACTOR_ENROLLED, 300, ip="203.0.113.9", geo=DO_NL),
    ]
    found = run(events, EnrollmentAbuse())
    assert found and found[-1].severity.rank >= Severity.HIGH.rank
    assert "factors enrolled within" in found[-1].reasons[0]


def test_a_new_phone_on_an_ordinary_day_is_quiet() -> None:
    events = [*history(), ev(EventKind.FACTOR_ENROLLED, 0, device_id="new-iphone")]
    assert run(events, EnrollmentAbuse()) == []


def test_a_helpdesk_re_enrollment_for_a_lost_phone_from_home_is_quiet() -> None:
    """Registered by the helpdesk (2) after a reset (2) is 4: medium at most, never more."""
    events = [*history(), by_admin(EventKind.FACTORS_RESET, 0)]
    events.append(ev(EventKind.FACTOR_ENROLLED, 600, actor=ADMIN))
    found = run(events, EnrollmentAbuse())
    assert all(f.severity is Severity.MEDIUM for f in found)


def test_enrollment_after_dormancy_by_someone_else() -> None:
    events = [*history(), by_admin(EventKind.FACTOR_ENROLLED, 60 * 86400)]
    found = run(events, EnrollmentAbuse())
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "inactive for" in found[0].reasons[0] and f"registered by {ADMIN}" in found[0].reasons[0]


# -- reset → enroll → access -----------------------------------------------------------------------


def test_the_helpdesk_chain_from_a_new_place_escalates_to_critical() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        by_admin(EventKind.BYPASS_ISSUED, 120),
        ev(EventKind.SIGNIN_SUCCESS, 900, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.FACTOR_ENROLLED, 1200, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 3000, ip="203.0.113.5", geo=ABROAD),
    ]
    privileged = ev(EventKind.PRIVILEGED_ACTION, 3600, ip="203.0.113.5", geo=ABROAD, factor=None)
    found = run([*events, privileged], ResetEnrollChain())
    assert [f.severity for f in found] == [Severity.HIGH, Severity.CRITICAL]
    assert len({f.id for f in found}) == 1
    assert found[-1].title == "Helpdesk-style chain: reset → enroll → access → privileged"
    assert "bypass issued by nils.helpdesk@corp.example" in found[-1].reasons[0]


def test_a_lost_phone_re_enrolled_from_home_is_quiet() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.FACTOR_ENROLLED, 1200),
        ev(EventKind.PUSH_APPROVED, 1500),
    ]
    assert run(events, ResetEnrollChain()) == []


def test_a_reset_without_enrollment_is_quiet() -> None:
    events = [
        *history(),
        by_admin(EventKind.PASSWORD_RESET, 0),
        ev(EventKind.SIGNIN_SUCCESS, 600, ip="203.0.113.5", geo=ABROAD),
    ]
    assert run(events, ResetEnrollChain()) == []


def test_an_enrollment_long_after_the_reset_is_not_the_chain() -> None:
    events = [
        *history(),
        by_admin(EventKind.FACTORS_RESET, 0),
        ev(EventKind.FACTOR_ENROLLED, 2 * 86400, ip="203.0.113.5", geo=ABROAD),
    ]
    assert run(events, ResetEnrollChain()) == []


# -- privileged after a risky approval -------------------------------------------------------------


def test_privileged_action_after_approval_following_refusals() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 300, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 600, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PRIVILEGED_ACTION, 1500, ip="203.0.113.5", geo=ABROAD, factor=None),
    ]
    found = run(events, PrivilegedAfterRiskyApproval())
    assert [f.severity for f in found] == [Severity.CRITICAL]  # refusals and a new country
    assert "2 prompts refused" in found[0].reasons[0]


def test_routine_admin_work_after_an_ordinary_approval_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0),  # one fat finger
        ev(EventKind.PUSH_APPROVED, 60),
        ev(EventKind.PRIVILEGED_ACTION, 600, factor=None),
    ]
    assert run(events, PrivilegedAfterRiskyApproval()) == []


def test_privileged_action_long_after_the_risky_approval_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PRIVILEGED_ACTION, 10 * HOUR, factor=None),
    ]
    assert run(events, PrivilegedAfterRiskyApproval()) == []


# -- Entra ID records through the pipeline ---------------------------------------------------------

FIXTURE = Path(__file__).parent / "fixtures" / "entra" / "audit-graph-handmade.jsonl"


def audit(line: int, seconds: float, ip: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(FIXTURE.read_text().splitlines()[line])
    record["id"] = f"{record['id']}-{seconds:.0f}"
    record["activityDateTime"] = at(seconds).isoformat().replace("+00:00", "Z")
    user = record["initiatedBy"].get("user")
    if user and user.get("userPrincipalName") == "mara.lind@contoso-example.com":
        user["ipAddress"] = ip
    return record


def signin(seconds: float, ip: str, city: str, country: str, lat: float, lon: float) -> dict[str, Any]:
    """A Graph signIn of the user (the shape of tests/fixtures/entra, trimmed to the fields used)."""
    return {
        "id": f"signin-{seconds:.0f}",
        "createdDateTime": at(seconds).isoformat().replace("+00:00", "Z"),
        "userPrincipalName": "mara.lind@contoso-example.com",
        "userId": "0f3e9a7c-1b2d-4c5e-8f90-a1b2c3d4e5f6",
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": ip,
        "isInteractive": True,
        "status": {"errorCode": 0},
        "location": {
            "city": city,
            "countryOrRegion": country,
            "geoCoordinates": {"latitude": lat, "longitude": lon},
        },
    }


def test_entra_tap_then_registration_then_sign_in_from_abroad(tmp_path: Path) -> None:
    records = [signin(-day * 86400, "88.160.1.2", "Paris", "FR", 48.85, 2.35) for day in range(1, 13)]
    records.append(audit(1, 0, "198.51.100.80"))  # "Admin registered security info": a Temporary Access Pass
    records.append(audit(0, 1500, "102.89.34.12"))  # "User registered security info" from Lagos
    records.append(signin(2400, "102.89.34.12", "Lagos", "NG", 6.52, 3.38))
    path = tmp_path / "entra.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = analyze([path], detector_config={"new_context": False})
    chain = [f for f in result.findings if f.detector == "reset_enroll_chain"]
    assert result.stats.errors == 0, result.stats.error_samples
    assert len(chain) == 1, [f.detector for f in result.findings]
    assert chain[0].user == "mara.lind@contoso-example.com"
    assert chain[0].severity is Severity.HIGH
    assert any(f.detector == "enrollment_abuse" for f in result.findings)
