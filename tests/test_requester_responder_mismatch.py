"""Requester vs responder mismatch: a push asked for from one place and answered on a phone far away.
Attack cases, and the look-alikes: a secure web gateway, a neighbouring city across a border, a network
the user works from, a traveller whose phone roams on the home carrier, the user's own managed laptop,
Okta's phone-only deny record. The last tests drive Duo authentication records (written by us in the
shape of tests/fixtures/duo/authlogs-v2-own.jsonl line 1) through the whole pipeline."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec

from pushguard.detect.requester_responder_mismatch import RequesterResponderMismatch
from pushguard.flow import analyze
from pushguard.model import Device, Event, EventKind, Finding, Geo, IdentityProfile, Provider, Severity
from tests.events import ABROAD, HOME, T0, ev, run_engine

HOUR = 3600.0
DAY = 86400.0
LYON = Geo(lat=45.764, lon=4.8357, country="FR", city="Lyon", accuracy_km=50.0, asn=3215)
NEW_YORK = Geo(lat=40.71, lon=-74.0, country="US", city="New York", accuracy_km=50.0, asn=7922)
ZSCALER_FR = Geo(
    lat=48.85, lon=2.35, country="FR", city="Paris", accuracy_km=50.0, asn=22616, is_hosting=True
)
MADRID = Geo(lat=40.42, lon=-3.70, country="ES", city="Madrid", accuracy_km=50.0, asn=15704)
GENEVA = Geo(lat=46.2044, lon=6.1432, country="CH", city="Geneva", accuracy_km=20.0, asn=3303)
ANNEMASSE = Geo(lat=46.1934, lon=6.2342, country="FR", city="Annemasse", accuracy_km=20.0, asn=3215)
VULTR_US = Geo(
    lat=32.78, lon=-96.8, country="US", city="Dallas", accuracy_km=50.0, asn=20473, is_hosting=True
)
LISBON_HOTEL = Geo(lat=38.72, lon=-9.14, country="PT", city="Lisbon", accuracy_km=50.0, asn=3243)
PARIS_MOBILE = Geo(lat=48.86, lon=2.34, country="France", city="Paris", accuracy_km=50.0, asn=5410)


def run(events: list[Event], detector: RequesterResponderMismatch | None = None) -> list[Finding]:
    return run_engine(events, [detector or RequesterResponderMismatch()])


def history(days: int = 12, geo: Geo = HOME, ip: str = "198.51.100.7") -> list[Event]:
    return [ev(EventKind.PUSH_APPROVED, -day * DAY, ip=ip, geo=geo) for day in range(1, days + 1)]


def duo_answer(
    kind: EventKind,
    asked: Geo,
    answered: Geo,
    seconds: float = 0,
    ip: str = "203.0.113.5",
    device: Device | None = None,
) -> Event:
    event = ev(
        kind,
        seconds,
        provider=Provider.DUO,
        ip=ip,
        geo=asked,
        responder_ip="37.166.94.231",
        responder_geo=answered,
        device_id=None,
    )
    return msgspec.structs.replace(event, device=device) if device is not None else event


# -- attacks ---------------------------------------------------------------------------------------


def test_approved_at_home_while_requested_from_a_new_country_is_critical() -> None:
    found = run([*history(), duo_answer(EventKind.PUSH_APPROVED, ABROAD, HOME)])
    assert [f.severity for f in found] == [Severity.CRITICAL]
    finding = found[0]
    assert finding.techniques == ["T1621", "T1078"]
    assert "Lagos, Nigeria (AS36873 Airtel) 203.0.113.5" in finding.reasons[0]
    assert "approved on the phone at Paris" in finding.reasons[0]
    assert "4,6" in finding.reasons[0] and "km beyond the accuracy radii" in finding.reasons[0]
    assert any(
        r.startswith("the requesting side: a network neither the person nor the organisation ever used")
        and r.endswith("a country the person never signed in from")
        for r in finding.reasons
    )
    assert finding.source_ips == ["203.0.113.5", "37.166.94.231"]


def test_a_refused_mismatch_is_medium_and_an_approval_later_escalates_it() -> None:
    found = run(
        [
            *history(),
            duo_answer(EventKind.PUSH_DENIED, ABROAD, HOME),
            duo_answer(EventKind.PUSH_APPROVED, ABROAD, HOME, seconds=1200),
        ]
    )
    assert [(f.severity, f.revision) for f in found] == [(Severity.MEDIUM, 1), (Severity.CRITICAL, 2)]
    assert found[0].id == found[1].id  # one finding, escalated
    assert len(found[1].evidence) == 2


def test_countries_alone_decide_when_there_are_no_coordinates() -> None:
    asked, answered = Geo(country="NG", city="Lagos"), Geo(country="FR", city="Paris")
    found = run([*history(), duo_answer(EventKind.PUSH_APPROVED, asked, answered)])
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "different countries (NG vs FR)" in found[0].reasons[0]


def test_a_hosting_requester_nobody_here_uses_is_not_excused() -> None:
    found = run([*history(), duo_answer(EventKind.PUSH_APPROVED, VULTR_US, HOME)])
    assert [f.severity for f in found] == [Severity.CRITICAL]


def test_a_fraud_report_is_never_explained_away() -> None:
    laptop = Device(id="EPLAPTOP0001", managed=True)
    events = [
        *[msgspec.structs.replace(e, device=laptop) for e in history()],
        duo_answer(EventKind.FRAUD_REPORTED, ABROAD, HOME, device=laptop),
    ]
    assert [f.severity for f in run(events)] == [Severity.MEDIUM]


# -- look-alikes -----------------------------------------------------------------------------------


def test_a_secure_web_gateway_and_a_nearby_city_are_quiet() -> None:
    gateway = duo_answer(EventKind.PUSH_APPROVED, ZSCALER_FR, MADRID)
    near = duo_answer(EventKind.PUSH_APPROVED, LYON, HOME, seconds=60)
    assert run([*history(), gateway, near]) == []


def test_a_border_between_two_close_cities_is_not_a_mismatch() -> None:
    assert run([*history(), duo_answer(EventKind.PUSH_APPROVED, GENEVA, ANNEMASSE)]) == []


def test_a_requester_network_the_identity_works_from_is_quiet() -> None:
    events = history(geo=NEW_YORK, ip="203.0.113.77") + history(days=3)
    assert run([*events, duo_answer(EventKind.PUSH_APPROVED, NEW_YORK, HOME)]) == []


def test_a_traveller_whose_phone_roams_on_the_home_carrier_is_quiet() -> None:
    hotel_ip = "203.0.113.40"
    events = [
        *history(),
        # landed in Lisbon: laptop and phone on the hotel Wi-Fi, then the phone on roaming data
        duo_answer(EventKind.PUSH_APPROVED, LISBON_HOTEL, LISBON_HOTEL, seconds=0, ip=hotel_ip),
        duo_answer(
            EventKind.PUSH_APPROVED, msgspec.structs.replace(LISBON_HOTEL, asn=12353), PARIS_MOBILE, 3 * HOUR
        ),
    ]
    assert run(events) == []


def test_the_same_roaming_picture_days_after_the_last_success_there_fires() -> None:
    events = [
        *history(),
        duo_answer(EventKind.PUSH_APPROVED, LISBON_HOTEL, LISBON_HOTEL, seconds=-3 * DAY, ip="203.0.113.40"),
        ev(EventKind.PUSH_APPROVED, -2 * DAY),  # back home since
        duo_answer(EventKind.PUSH_APPROVED, msgspec.structs.replace(LISBON_HOTEL, asn=12353), PARIS_MOBILE),
    ]
    # a known country (not critical), and a hotel network they succeeded from once (partly theirs: high
    # lowered a step)
    assert [f.severity for f in run(events)] == [Severity.MEDIUM]


def test_the_users_own_laptop_managed_or_not_is_quiet_a_device_never_seen_is_not() -> None:
    """A device id the person came back to (Duo Desktop's endpoint key, a registered device) is theirs,
    wherever its traffic egresses; an unmanaged one too (BYOD users live unmanaged)."""
    managed = Device(id="EPLAPTOP0001", managed=True)
    byod = Device(id="EPLAPTOP0002", managed=False)
    for laptop in (managed, byod):
        events = [msgspec.structs.replace(e, device=laptop) for e in history()]
        assert run([*events, duo_answer(EventKind.PUSH_APPROVED, ABROAD, HOME, device=laptop)]) == []
    events = [msgspec.structs.replace(e, device=managed) for e in history()]
    stranger = Device(id="EPSTRANGER01", managed=False)
    found = run([*events, duo_answer(EventKind.PUSH_APPROVED, ABROAD, HOME, device=stranger)])
    assert [f.severity for f in found] == [Severity.CRITICAL]


def okta_phone_deny(seconds: float, phone: Geo = HOME, ip: str = "37.166.94.231") -> Event:
    return ev(EventKind.PUSH_DENIED, seconds, ip=ip, geo=phone, responder_ip=ip, responder_geo=phone)


def test_okta_phone_deny_pairs_with_the_push_it_answered() -> None:
    sent = ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", geo=ABROAD, device_id=None)
    found = run([*history(), sent, okta_phone_deny(30)])
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert found[0].evidence[0] == sent.event_id  # the send opens the episode: it names the requester
    assert (
        "requested from Lagos, Nigeria (AS36873 Airtel) 203.0.113.5, refused on the phone at Paris"
        in (found[0].reasons[0])
    )
    assert "the answer names only the phone; the push was sent 30 s before" in found[0].reasons


def test_okta_phone_deny_alone_or_long_after_the_push_is_quiet() -> None:
    assert run([*history(), okta_phone_deny(0, ABROAD)]) == []
    late = [ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", geo=ABROAD), okta_phone_deny(600)]
    assert run([*history(), *late]) == []
    at_home = [ev(EventKind.PUSH_SENT, 0), okta_phone_deny(20)]  # laptop and phone both in Paris
    assert run([*history(), *at_home]) == []


def test_okta_fixture_push_from_amsterdam_denied_on_a_phone_in_lyon() -> None:
    fixture = Path(__file__).parent / "fixtures" / "okta" / "handmade.jsonl"
    result = analyze([fixture])
    assert result.stats.errors == 0, result.stats.error_samples
    found = [f for f in result.findings if f.detector == "requester_responder_mismatch"]
    assert len(found) == 1
    assert found[0].evidence[:2] == [
        "11111111-0000-4000-8000-000000000001",  # system.push.send_factor_verify_push from Amsterdam
        "11111111-0000-4000-8000-000000000005",  # user.mfa.okta_verify.deny_push from the phone in Lyon
    ]
    assert "735 km apart (635 km beyond the accuracy radii)" in found[0].reasons[0]


# -- Duo records through the pipeline --------------------------------------------------------------


def duo_record(
    seconds: float,
    access_ip: str,
    access: tuple[str, str],
    phone_ip: str,
    phone: tuple[str, str],
    **extra: Any,
) -> dict[str, Any]:
    when = T0 + timedelta(seconds=seconds)
    record: dict[str, Any] = {
        "access_device": {
            "browser": "Edge",
            "browser_version": "120.0.2210.91",
            "flash_version": "uninstalled",
            "hostname": None,
            "ip": access_ip,
            "is_encryption_enabled": True,
            "is_firewall_enabled": True,
            "is_password_set": True,
            "java_version": "uninstalled",
            "location": {"city": access[0], "country": access[1], "state": None},
            "os": "Windows",
            "os_version": "11",
            "security_agents": [],
        },
        "alias": "",
        "application": {"key": "DIEXAMPLEAPPKEY00001", "name": "Example Okta SSO"},
        "auth_device": {
            "ip": phone_ip,
            "location": {"city": phone[0], "country": phone[1], "state": None},
            "name": "Pixel 7 (+351 555 0100)",
            "key": "DPEXAMPLEPHONE000001",
        },
        "email": "m.rivera@example.org",
        "event_type": "authentication",
        "factor": "duo_push",
        "isotimestamp": when.isoformat(),
        "ood_software": None,
        "reason": "user_approved",
        "result": "success",
        "timestamp": int(when.timestamp()),
        "trusted_endpoint_status": "not trusted",
        "txid": f"7b1f0c2e-5a34-4c8e-9d21-{int(seconds + 10**7):012d}",
        "user": {"groups": ["Staff"], "key": "DUEXAMPLEUSERKEY0001", "name": "m.rivera@example.org"},
    }
    record.update(extra)
    return record


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


LISBON, PORTO, LAGOS, PARIS = (
    ("Lisbon", "Portugal"),
    ("Porto", "Portugal"),
    ("Lagos", "Nigeria"),
    ("Paris", "France"),
)


def test_duo_records_login_from_lagos_approved_in_porto(tmp_path: Path) -> None:
    records = [
        duo_record(-day * DAY, "198.51.100.23", LISBON, "198.51.100.77", PORTO) for day in range(12, 0, -1)
    ]
    records.append(duo_record(0, "203.0.113.66", LAGOS, "198.51.100.77", PORTO))
    result = analyze([write(tmp_path / "duo.jsonl", records)], detector_config={"new_context": False})
    assert result.stats.errors == 0, result.stats.error_samples
    found = [f for f in result.findings if f.detector == "requester_responder_mismatch"]
    assert len(found) == 1
    assert found[0].user == "m.rivera@example.org"
    assert found[0].severity is Severity.CRITICAL
    # Duo names the cities: the gazetteer places them, so the sides are measured (Lagos-Porto ~4,000 km)
    assert "km apart" in found[0].reasons[0] and "Lagos, NG" in found[0].reasons[0]


def test_duo_records_of_a_trip_with_the_phone_roaming_stay_quiet(tmp_path: Path) -> None:
    records = [
        duo_record(-day * DAY, "198.51.100.23", LISBON, "198.51.100.77", PORTO) for day in range(12, 0, -1)
    ]
    records.append(duo_record(0, "203.0.113.90", PARIS, "203.0.113.90", PARIS))  # hotel Wi-Fi, both
    records.append(
        duo_record(2 * HOUR, "203.0.113.91", PARIS, "198.51.100.78", PORTO)
    )  # phone on roaming data
    path = write(tmp_path / "duo.jsonl", records)
    result = analyze([path])
    assert result.stats.errors == 0, result.stats.error_samples
    assert [f for f in result.findings if f.detector == "requester_responder_mismatch"] == []
    # without the travel continuity it stays quiet too: the requester is the person's own browser on the
    # hotel network they succeeded from two hours before (familiar), wherever the phone's data egresses
    strict = analyze([path], detector_config={"requester_responder_mismatch": {"continuity_s": 0}})
    assert [f for f in strict.findings if f.detector == "requester_responder_mismatch"] == []


def test_state_with_a_pending_push_survives_the_store_encoding() -> None:
    detector = RequesterResponderMismatch()
    state, _ = detector.observe(
        detector.initial_state(),
        ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", geo=ABROAD),
        msgspec.convert({"identity": "alice@corp.example"}, IdentityProfile),
    )
    assert state.pending is not None
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=detector.state_type)
    assert decoded == state


def test_the_phone_on_the_home_wi_fi_and_a_stranger_s_device_elsewhere_in_the_same_city() -> None:
    """No distance to measure (a VPS in the person's own city): the phone answered on the person's home
    network while a device they never used asked from another network. Their own laptop on a VPN from
    home, or a new laptop on the home network, is not this."""
    home_ip, vps_ip = "198.51.100.7", "203.0.113.80"
    vps = msgspec.structs.replace(HOME, asn=16276, as_org="OVH SAS", is_hosting=True)
    laptop = Device(id="dev-alice-laptop", os="Windows 11", browser="Edge")

    def answer(device: Device, ip: str = vps_ip) -> Event:
        event = ev(EventKind.PUSH_APPROVED, 0, provider=Provider.DUO, ip=ip, geo=vps, device_id=None)
        return msgspec.structs.replace(event, device=device, responder_ip=home_ip, responder_geo=HOME)

    events = [msgspec.structs.replace(e, device=laptop) for e in history()]
    stranger = Device(os="Linux", browser="Chrome")
    found = run([*events, answer(stranger)])
    assert [f.severity for f in found] == [Severity.CRITICAL]  # hosting nobody here uses
    assert "the phone answered on the person's own network (198.51.100.x)" in found[0].reasons[0]
    assert run([*events, answer(laptop)]) == []  # their own laptop through a VPN
    assert run([*events, answer(stranger, ip="198.51.100.44")]) == []  # a new device at home
