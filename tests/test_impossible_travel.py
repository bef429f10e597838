"""Impossible travel: the jumps no one can make, and the look-alikes that must stay quiet (a flight at
airliner speed, coarse country-level fixes, a train ride, VPN egress, a remote desktop in the user's
second country, two IdPs logging one sign-in). The last tests drive Okta System Log records (written by
us in the shape of tests/fixtures/okta/handmade.jsonl) and Duo records through the whole pipeline."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.detect.impossible_travel import ImpossibleTravel
from pushguard.flow import analyze
from pushguard.model import Event, EventKind, Finding, Geo, Provider, Severity
from tests.events import ABROAD, HOME, T0, colleagues, daily_approvals, ev, run_engine

HOUR = 3600.0
LYON = Geo(lat=45.764, lon=4.8357, country="FR", city="Lyon", accuracy_km=50.0, asn=3215)
NEW_YORK = Geo(lat=40.71, lon=-74.0, country="US", city="New York", accuracy_km=50.0, asn=7922)
NEW_YORK_OTHER = Geo(lat=40.71, lon=-74.0, country="US", city="New York", accuracy_km=50.0, asn=64501)
COARSE_US = Geo(lat=39.8, lon=-98.6, country="US", accuracy_km=1000.0, asn=7922)
DO_NL = Geo(lat=52.37, lon=4.9, country="NL", city="Amsterdam", accuracy_km=50.0, asn=14061, is_hosting=True)


def run(events: list[Event], detector: ImpossibleTravel | None = None) -> list[Finding]:
    return run_engine(events, [detector or ImpossibleTravel()])


def history(days: int = 12, geo: Geo = HOME, ip: str = "198.51.100.7", offset: float = 0.0) -> list[Event]:
    return daily_approvals(days, hours=(offset / 3600,), ip=ip, geo=geo)


# -- attacks ---------------------------------------------------------------------------------------


def test_paris_then_new_york_an_hour_later_is_high() -> None:
    found = run(
        [
            *history(),
            ev(EventKind.PUSH_APPROVED, 0),
            ev(EventKind.SIGNIN_SUCCESS, HOUR, ip="203.0.113.9", geo=NEW_YORK, device_id=None),
        ]
    )
    assert len(found) == 1
    finding = found[0]
    assert finding.detector == "impossible_travel"
    assert finding.severity is Severity.HIGH  # a new country, thousands of km
    assert finding.techniques == ["T1078"]
    assert "5,737 km beyond the accuracy radii" in finding.reasons[0]
    assert "above 1,000 km/h" in finding.reasons[0]
    assert "US is a country this identity never succeeded from" in finding.reasons
    assert finding.source_ips == ["198.51.100.7", "203.0.113.9"]
    assert len(finding.evidence) == 2  # the place before and the place after


def test_two_places_that_are_both_the_person_s_own_are_no_journey() -> None:
    """Home in Paris and a corporate gateway that exits in New York, alternating: both are networks the
    person came back to, so the hour between them is no flight."""
    events = [
        *history(),
        *history(days=5, geo=NEW_YORK, ip="203.0.113.70", offset=8 * HOUR),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.71", geo=NEW_YORK, device_id=None),
    ]
    assert run(events) == []


def test_a_second_known_country_from_a_network_nobody_knows_is_medium() -> None:
    events = [
        *history(),
        *history(days=5, geo=NEW_YORK, ip="203.0.113.70", offset=8 * HOUR),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="192.0.2.71", geo=NEW_YORK_OTHER, device_id=None),
    ]
    assert [f.severity for f in run(events)] == [Severity.MEDIUM]


def test_a_limit_set_lower_catches_a_short_hop() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 600, ip="203.0.113.9", geo=LYON, device_id=None),
    ]
    assert run(events) == []
    tight = ImpossibleTravel({"min_gap_km": 200.0, "max_speed_kmh": 500.0})
    assert [f.severity for f in run(events, tight)] == [Severity.LOW]  # the home ISP: partly familiar


# -- look-alikes -----------------------------------------------------------------------------------


def test_a_flight_at_airliner_speed_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 8 * HOUR, ip="203.0.113.9", geo=NEW_YORK),  # ~730 km/h
    ]
    assert run(events) == []


def test_coarse_country_level_fixes_far_apart_do_not_cry_wolf() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.9", geo=COARSE_US),
    ]
    assert run(events) == []
    # a fix with no radius, or at 0,0 (a failed lookup), is not a place either
    nowhere = [Geo(lat=40.71, lon=-74.0, country="US"), Geo(lat=0.0, lon=0.0, accuracy_km=10.0)]
    for geo in nowhere:
        assert run([*history(), ev(EventKind.PUSH_APPROVED, 0), ev(EventKind.MFA_SUCCESS, 60, geo=geo)]) == []


def test_paris_to_lyon_by_train_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.9", geo=LYON),
    ]
    assert run(events) == []


def test_two_idps_logging_one_sign_in_a_second_apart_are_one_place() -> None:
    near = Geo(lat=48.9, lon=2.2, country="FR", city="Paris", accuracy_km=20.0, asn=3215)
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.SIGNIN_SUCCESS, 1, provider=Provider.ENTRA, geo=near),
    ]
    assert run(events) == []


def test_a_vpn_on_the_person_s_own_laptop_is_low_a_stranger_s_vps_is_high() -> None:
    own_laptop = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 600, ip="203.0.113.9", geo=DO_NL),
    ]
    found = run(own_laptop, ImpossibleTravel({"min_gap_km": 200.0}))
    assert [f.severity for f in found] == [Severity.LOW]
    assert any("through the person's own registered device" in r for r in found[0].reasons)
    stranger = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 600, ip="203.0.113.9", geo=DO_NL, device_id=None),
    ]
    found = run([*colleagues(), *stranger], ImpossibleTravel({"min_gap_km": 200.0}))
    assert [f.severity for f in found] == [Severity.HIGH]  # hosting and a country nobody here uses
    assert any("hosting/VPN egress nobody here uses" in r for r in found[0].reasons)


def test_vpn_on_then_off_on_the_person_s_own_laptop_is_low_too() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=DO_NL),  # VPN on, then off on 4G
        ev(EventKind.PUSH_APPROVED, 600, ip="198.51.100.99"),
    ]
    found = run(events, ImpossibleTravel({"min_gap_km": 200.0}))
    assert [f.severity for f in found] == [Severity.LOW]
    assert "the way back" in found[0].reasons[-2]


def test_a_slow_first_leg_then_the_way_home_to_a_known_address_fires() -> None:
    # the attacker's success comes hours after the user's (a flight could explain it); the user's own
    # next success at their usual address, 90 minutes later, cannot be explained
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 16 * HOUR, ip="203.0.113.66", geo=ABROAD, device_id=None),
        ev(EventKind.PUSH_APPROVED, 16 * HOUR + 5400),
    ]
    found = run(events)
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "to Paris, France (AS3215 Orange) 198.51.100.7" in found[0].reasons[1]
    assert "Nigeria was new to this identity at that success" in found[0].reasons


def test_the_way_back_is_the_same_trip() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.9", geo=NEW_YORK, device_id=None),
        ev(EventKind.PUSH_APPROVED, 2 * HOUR),
    ]
    found = run(events)
    assert len({f.id for f in found}) == 1


def test_failures_from_far_away_are_not_travel() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.SIGNIN_FAILURE, 600, ip="203.0.113.9", geo=NEW_YORK),
        ev(EventKind.PUSH_DENIED, 700, ip="203.0.113.9", geo=NEW_YORK),
    ]
    assert run(events) == []


def test_unknown_tunables_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown tunable 'max_speed'"):
        ImpossibleTravel({"max_speed": 900.0})


# -- vendor records through the pipeline -----------------------------------------------------------


def okta_mfa(
    seconds: float, ip: str, city: str, country: str, lat: float, lon: float, asn: int
) -> dict[str, Any]:
    stamp = f"{T0 + timedelta(seconds=seconds):%Y-%m-%dT%H:%M:%S.000Z}"
    place = {
        "city": city,
        "state": None,
        "country": country,
        "postalCode": None,
        "geolocation": {"lat": lat, "lon": lon},
    }
    return {
        "actor": {
            "id": "00u7travel0000000001",
            "type": "User",
            "alternateId": "lena.okafor@corp.example",
            "displayName": "Lena Okafor",
        },
        "client": {
            "userAgent": {
                "rawUserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                "os": "Windows 10",
                "browser": "EDGE",
            },
            "zone": None,
            "device": "Computer",
            "ipAddress": ip,
            "geographicalContext": place,
        },
        "authenticationContext": {
            "rootSessionId": f"idx{int(seconds)}",
            "externalSessionId": f"idx{int(seconds)}",
        },
        "displayMessage": "Authentication of user via MFA",
        "eventType": "user.authentication.auth_via_mfa",
        "outcome": {"result": "SUCCESS", "reason": None},
        "published": stamp,
        "securityContext": {"asNumber": asn, "asOrg": None, "isp": None, "domain": None, "isProxy": False},
        "severity": "INFO",
        "debugContext": {
            "debugData": {"factor": "OKTA_VERIFY_PUSH", "pushOnlyResponseType": "OV_RESPONSE_APPROVE"}
        },
        "transaction": {"type": "WEB", "id": f"tx{int(seconds)}", "detail": {}},
        "uuid": f"22222222-0000-4000-8000-{int(seconds + 10**6):012d}",
        "version": "0",
        "target": [],
    }


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_okta_records_paris_then_sao_paulo_through_the_pipeline(tmp_path: Path) -> None:
    records = [
        okta_mfa(-day * 86400, "198.51.100.7", "Paris", "France", 48.8566, 2.3522, 3215)
        for day in range(12, 0, -1)
    ]
    records.append(okta_mfa(0, "198.51.100.7", "Paris", "France", 48.8566, 2.3522, 3215))
    records.append(okta_mfa(40 * 60, "203.0.113.44", "Sao Paulo", "Brazil", -23.5558, -46.6396, 28573))
    result = analyze([write(tmp_path / "okta.jsonl", records)], detector_config={"new_context": False})
    assert result.stats.errors == 0, result.stats.error_samples
    travel = [f for f in result.findings if f.detector == "impossible_travel"]
    assert len(travel) == 1
    assert travel[0].user == "lena.okafor@corp.example"
    assert travel[0].severity is Severity.HIGH
    assert "BR is a country this identity never succeeded from" in travel[0].reasons


def test_okta_records_of_a_real_flight_stay_quiet(tmp_path: Path) -> None:
    records = [
        okta_mfa(-day * 86400, "198.51.100.7", "Paris", "France", 48.8566, 2.3522, 3215)
        for day in range(12, 0, -1)
    ]
    records.append(okta_mfa(0, "198.51.100.7", "Paris", "France", 48.8566, 2.3522, 3215))
    records.append(okta_mfa(13 * HOUR, "203.0.113.44", "Sao Paulo", "Brazil", -23.5558, -46.6396, 28573))
    result = analyze([write(tmp_path / "okta.jsonl", records)])
    assert [f for f in result.findings if f.detector == "impossible_travel"] == []
