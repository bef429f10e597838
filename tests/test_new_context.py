"""New context: several new things at once at an approval or a success, weighted. Attack shapes (a new
country right after refusals, an unknown non-compliant device abroad, an ignored burst then an approval)
and the daily life that must stay quiet (a new laptop at the usual place, a holiday on the usual phone, a
traveller whose phone missed two pushes, the user's second known country, a VPN, a young account). The
last test drives Duo authentication records through the whole pipeline."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.detect.new_context import NewContext
from pushguard.flow import analyze
from pushguard.model import Device, Event, EventKind, Finding, Geo, Provider, Severity
from tests.events import ABROAD, HOME, T0, daily_approvals, ev, run_engine

DAY = 86400.0
MADRID = Geo(lat=40.42, lon=-3.70, country="Spain", city="Madrid", accuracy_km=50.0, asn=15704)
NORDVPN_FR = Geo(
    lat=48.85, lon=2.35, country="France", city="Paris", accuracy_km=50.0, asn=147049, is_hosting=True
)


def run(events: list[Event], detector: NewContext | None = None) -> list[Finding]:
    return run_engine(events, [detector or NewContext()])


def history(
    days: int = 12, geo: Geo = HOME, ip: str = "198.51.100.7", device: str = "dev-alice-laptop"
) -> list[Event]:
    return daily_approvals(days, ip=ip, geo=geo, device_id=device)


def signin(seconds: float, geo: Geo, device: Device) -> Event:
    event = ev(EventKind.SIGNIN_SUCCESS, seconds, provider=Provider.ENTRA, ip="203.0.113.9", geo=geo)
    return Event(
        provider=event.provider,
        event_id=event.event_id,
        time=event.time,
        kind=event.kind,
        identity=event.identity,
        subject=event.subject,
        ip=event.ip,
        geo=geo,
        device=device,
    )


# -- attacks ---------------------------------------------------------------------------------------


def test_new_country_after_two_denials_is_high() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 300, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 900, ip="203.0.113.5", geo=ABROAD, device_id="dev-new"),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH]
    finding = found[0]
    assert finding.title == "Success from a new context: new country, new network, new device, recent denials"
    assert finding.reasons[0].startswith("context score 10 (fires at 7): first success from Nigeria")
    assert "refusals weighing 4 in the last 4 h" in finding.reasons[0]


def test_denials_spread_over_hours_still_count() -> None:
    # no burst: two refusals 40 and 90 minutes apart, then the approval from the same foreign network
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 2400, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 2400 + 5400, ip="203.0.113.5", geo=ABROAD, device_id=None),
    ]
    assert [f.severity for f in run(events)] == [Severity.HIGH]
    assert run(events, NewContext({"refusal_window_s": 3600})) == []  # a one-hour window misses them


def test_an_ignored_okta_burst_then_an_approval_abroad_is_high() -> None:
    # Okta logs no timeout: a push left unanswered until the next one counts as a refusal
    burst = [ev(EventKind.PUSH_SENT, i * 60, ip="203.0.113.5", geo=ABROAD) for i in range(5)]
    approved = ev(EventKind.PUSH_APPROVED, 5 * 60 - 50, ip="203.0.113.5", geo=ABROAD, device_id=None)
    found = run([*history(), *burst, approved])
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "refusals weighing 4" in found[0].reasons[0]


def test_a_new_unmanaged_non_compliant_device_in_a_new_country_is_medium() -> None:
    found = run([*history(), signin(0, MADRID, Device(id="unknown-pc", managed=False, compliant=False))])
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert "the new device is not compliant" in found[0].reasons[0]


def test_new_country_network_and_device_together_are_low() -> None:
    found = run([*history(), signin(0, MADRID, Device(id="unknown-pc"))])
    assert [f.severity for f in found] == [Severity.LOW]
    assert found[0].confidence == pytest.approx(0.65)


# -- daily life ------------------------------------------------------------------------------------


def test_a_new_laptop_at_the_usual_place_is_quiet() -> None:
    assert run([*history(), ev(EventKind.PUSH_APPROVED, 0, device_id="dev-new-laptop")]) == []


def test_a_holiday_abroad_on_the_usual_laptop_is_quiet() -> None:
    assert run([*history(), ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=MADRID)]) == []


def test_a_traveller_whose_phone_missed_two_pushes_is_quiet() -> None:
    """A hotel abroad, no device details in the records: a new country and network, two misses."""
    where = {"ip": "203.0.113.9", "geo": MADRID, "provider": Provider.DUO, "device_id": None}
    events = [
        *history(),
        ev(EventKind.PUSH_TIMEOUT, 0, **where),  # type: ignore[arg-type]
        ev(EventKind.PUSH_TIMEOUT, 150, **where),  # type: ignore[arg-type]
        ev(EventKind.PUSH_APPROVED, 300, **where),  # type: ignore[arg-type]
    ]
    assert run(events) == []
    # the same two misses weigh as much as two denials if told to: the weighing is what keeps it quiet
    assert run(events, NewContext({"strong_refusals": 2})) != []


def test_the_users_second_known_country_is_not_new() -> None:
    events = [
        *history(),
        *history(days=4, geo=MADRID, ip="203.0.113.30", device="dev-alice-phone"),
        signin(0, MADRID, Device(id="unknown-pc", managed=False)),
    ]
    assert run(events) == []


def test_a_consumer_vpn_at_home_is_quiet() -> None:
    assert run([*history(), ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=NORDVPN_FR)]) == []


def test_posture_counts_only_on_a_device_the_identity_never_used() -> None:
    byod = Device(id="alice-own-pc", managed=False, compliant=False)
    events = [*history(), *[signin(-d * DAY - 600, HOME, byod) for d in range(1, 4)], signin(0, MADRID, byod)]
    assert run(events) == []


def test_no_history_no_news() -> None:
    events = [*history(days=3), ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=ABROAD, device_id="d2")]
    assert run(events) == []


def test_weights_are_tunable_and_checked() -> None:
    events = [*history(), ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=MADRID, device_id=None)]
    assert run(events) == []  # a new country and network: a trip
    assert [f.severity for f in run(events, NewContext({"min_score": 4}))] == [Severity.LOW]
    with pytest.raises(ValueError, match=r"new_context\.min_score: tunable min_score must be int"):
        NewContext({"min_score": "high"})


# -- Duo records through the pipeline --------------------------------------------------------------


def duo_record(
    seconds: float, ip: str, place: tuple[str, str], result: str, reason: str, **access: Any
) -> dict[str, Any]:
    when = T0 + timedelta(seconds=seconds)
    return {
        "access_device": {
            "browser": "Edge",
            "browser_version": "120.0.2210.91",
            "hostname": None,
            "ip": ip,
            "location": {"city": place[0], "country": place[1], "state": None},
            "os": "Windows",
            "os_version": "11",
            **access,
        },
        "application": {"key": "DIEXAMPLEAPPKEY00001", "name": "Example Okta SSO"},
        "auth_device": {
            "ip": "198.51.100.77",
            "location": {"city": "Porto", "country": "Portugal", "state": None},
            "name": "Pixel 7",
            "key": "DPEXAMPLEPHONE000001",
        },
        "email": "m.rivera@example.org",
        "event_type": "authentication",
        "factor": "duo_push",
        "isotimestamp": when.isoformat(),
        "reason": reason,
        "result": result,
        "timestamp": int(when.timestamp()),
        "trusted_endpoint_status": "trusted" if access else "not trusted",
        "txid": f"5c2d0e1f-6b45-4d9f-8e32-{int(seconds + 10**7):012d}",
        "user": {"groups": ["Staff"], "key": "DUEXAMPLEUSERKEY0001", "name": "m.rivera@example.org"},
    }


def test_duo_records_denials_then_an_approval_from_lagos(tmp_path: Path) -> None:
    laptop = {"epkey": "EPEXAMPLELAPTOP00001"}
    porto = ("Porto", "Portugal")
    records = [
        duo_record(-d * DAY, "198.51.100.23", porto, "success", "user_approved", **laptop)
        for d in range(12, 0, -1)
    ]
    lagos = ("Lagos", "Nigeria")
    records += [
        duo_record(0, "203.0.113.66", lagos, "denied", "user_mistake"),
        duo_record(240, "203.0.113.66", lagos, "denied", "user_mistake"),
        duo_record(600, "203.0.113.66", lagos, "success", "user_approved"),
    ]
    path = tmp_path / "duo.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = analyze([path], detector_config={"requester_responder_mismatch": False})
    assert result.stats.errors == 0, result.stats.error_samples
    found = [f for f in result.findings if f.detector == "new_context"]
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "first success from NG" in found[0].reasons[0]
