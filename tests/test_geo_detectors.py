"""Impossible travel, requester/responder mismatch and new context, with the geography helpers they share:
positive cases, and the benign look-alikes (airliner speed, coarse fixes, corporate gateways, a second
known country, a new laptop alone)."""

from __future__ import annotations

import pytest

from pushguard.detect.geo import asn_set, gap_km, haversine_km, is_unroutable, precise
from pushguard.detect.impossible_travel import ImpossibleTravel
from pushguard.detect.new_context import NewContext
from pushguard.detect.requester_responder_mismatch import RequesterResponderMismatch
from pushguard.model import Device, Event, EventKind, Finding, Geo, Provider, Severity
from pushguard.pipeline import Engine
from tests.events import ABROAD, HOME, ev

HOUR = 3600.0
LYON = Geo(lat=45.764, lon=4.8357, country="France", city="Lyon", accuracy_km=50.0, asn=3215)
NEW_YORK = Geo(lat=40.71, lon=-74.0, country="United States", city="New York", accuracy_km=50.0, asn=7922)
COARSE_US = Geo(lat=39.8, lon=-98.6, country="United States", accuracy_km=1500.0, asn=7922)
ZSCALER_FR = Geo(
    lat=48.85, lon=2.35, country="France", city="Paris", accuracy_km=50.0, asn=22616, is_hosting=True
)
MADRID = Geo(lat=40.42, lon=-3.70, country="Spain", city="Madrid", accuracy_km=50.0, asn=15704)
DO_NL = Geo(
    lat=52.37, lon=4.9, country="Netherlands", city="Amsterdam", accuracy_km=50.0, asn=14061, is_hosting=True
)


def run(events: list[Event], *detectors: object) -> list[Finding]:
    engine = Engine(detectors=list(detectors))  # type: ignore[arg-type]
    found: list[Finding] = []
    for event in sorted(events, key=lambda e: e.sort_key()):
        found.extend(engine.process(event))
    found.extend(engine.finish())
    return found


def history(days: int = 12, geo: Geo = HOME, ip: str = "198.51.100.7") -> list[Event]:
    events = []
    for day in range(1, days + 1):
        events.append(ev(EventKind.PUSH_SENT, -day * 86400, ip=ip, geo=geo))
        events.append(ev(EventKind.PUSH_APPROVED, -day * 86400 + 5, ip=ip, geo=geo))
    return events


# -- geography -------------------------------------------------------------------------------------


def test_haversine_and_gap() -> None:
    assert haversine_km(48.8566, 2.3522, 40.71, -74.0) == pytest.approx(5837, rel=0.01)
    assert gap_km(300.0, 50.0, 50.0) == 200.0
    assert gap_km(80.0, 50.0, 50.0) == 0.0


def test_precise_needs_a_radius_no_coarser_than_the_limit() -> None:
    assert precise(HOME, 100.0)
    assert not precise(COARSE_US, 100.0)
    assert not precise(Geo(country="France"), 100.0)


def test_unroutable_and_asn_lists() -> None:
    assert is_unroutable("10.1.2.3") and is_unroutable("100.64.0.1") and is_unroutable("::ffff:192.168.0.1")
    assert not is_unroutable("8.8.8.8") and not is_unroutable("not an ip")
    assert asn_set("AS13335, 15169 as16509") == frozenset({13335, 15169, 16509})
    with pytest.raises(ValueError, match="not an ASN"):
        asn_set("AS12x")


# -- impossible travel -----------------------------------------------------------------------------


def test_paris_then_new_york_an_hour_later_is_impossible() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.SIGNIN_SUCCESS, HOUR, ip="203.0.113.9", geo=NEW_YORK),
    ]
    found = run(events, ImpossibleTravel())
    assert len(found) == 1
    assert found[0].detector == "impossible_travel"
    assert found[0].severity is Severity.HIGH  # a new country, thousands of km
    assert "km/h" in found[0].reasons[0]


def test_a_flight_at_airliner_speed_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 9 * HOUR, ip="203.0.113.9", geo=NEW_YORK),
    ]
    assert run(events, ImpossibleTravel()) == []


def test_coarse_fixes_do_not_cry_wolf() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.9", geo=COARSE_US),
    ]
    assert run(events, ImpossibleTravel()) == []


def test_paris_to_lyon_by_train_is_quiet() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.9", geo=LYON),
    ]
    assert run(events, ImpossibleTravel()) == []


def test_a_vpn_jump_is_low_and_can_be_ignored() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, 600, ip="203.0.113.9", geo=DO_NL),
    ]
    assert [f.severity for f in run(events, ImpossibleTravel({"min_gap_km": 200.0}))] == [Severity.LOW]
    assert run(events, ImpossibleTravel({"min_gap_km": 200.0, "ignore_hosting": True})) == []


def test_the_way_back_is_the_same_trip() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_APPROVED, 0),
        ev(EventKind.PUSH_APPROVED, HOUR, ip="203.0.113.9", geo=NEW_YORK),
        ev(EventKind.PUSH_APPROVED, 2 * HOUR),
    ]
    found = run(events, ImpossibleTravel())
    assert len({f.id for f in found}) == 1


# -- requester vs responder ------------------------------------------------------------------------


def duo_answer(kind: EventKind, asked: Geo, answered: Geo, ip: str = "203.0.113.5") -> Event:
    return ev(
        kind, 0, provider=Provider.DUO, ip=ip, geo=asked, responder_ip="37.166.94.231", responder_geo=answered
    )


def test_approved_at_home_while_requested_from_abroad() -> None:
    found = run([*history(), duo_answer(EventKind.PUSH_APPROVED, ABROAD, HOME)], RequesterResponderMismatch())
    assert [f.severity for f in found] == [Severity.CRITICAL]  # the requesting country is new
    assert "Lagos" in found[0].reasons[0] and "Paris" in found[0].reasons[0]


def test_a_refused_mismatch_is_medium() -> None:
    found = run([*history(), duo_answer(EventKind.PUSH_DENIED, ABROAD, HOME)], RequesterResponderMismatch())
    assert [f.severity for f in found] == [Severity.MEDIUM]


def test_corporate_gateway_and_same_city_are_quiet() -> None:
    gateway = duo_answer(EventKind.PUSH_APPROVED, ZSCALER_FR, MADRID)
    near = duo_answer(EventKind.PUSH_APPROVED, LYON, HOME)
    assert run([*history(), gateway, near], RequesterResponderMismatch()) == []


def test_a_requester_network_the_identity_works_from_is_quiet() -> None:
    events = history(geo=NEW_YORK, ip="203.0.113.77") + history(days=3)
    assert (
        run([*events, duo_answer(EventKind.PUSH_APPROVED, NEW_YORK, HOME)], RequesterResponderMismatch())
        == []
    )


# -- new context -----------------------------------------------------------------------------------


def test_new_country_after_refusals_is_high() -> None:
    events = [
        *history(),
        ev(EventKind.PUSH_DENIED, 0, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_DENIED, 300, ip="203.0.113.5", geo=ABROAD),
        ev(EventKind.PUSH_APPROVED, 900, ip="203.0.113.5", geo=ABROAD, device_id="dev-new"),
    ]
    found = run(events, NewContext())
    assert [f.severity for f in found] == [Severity.HIGH]
    assert "new country" in found[0].title


def test_a_new_laptop_at_the_usual_place_is_quiet() -> None:
    events = [*history(), ev(EventKind.PUSH_APPROVED, 0, device_id="dev-new-laptop")]
    assert run(events, NewContext()) == []


def test_a_holiday_abroad_on_the_usual_phone_is_quiet() -> None:
    events = [*history(), ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=MADRID)]
    assert run(events, NewContext()) == []


def test_a_new_unmanaged_device_in_a_new_country_fires() -> None:
    event = Event(
        provider=Provider.ENTRA,
        event_id="x1",
        time=ev(EventKind.SIGNIN_SUCCESS, 0).time,
        kind=EventKind.SIGNIN_SUCCESS,
        identity="alice@corp.example",
        ip="203.0.113.9",
        geo=MADRID,
        device=Device(id="unknown-pc", managed=False, compliant=False),
    )
    found = run([*history(), event], NewContext())
    assert [f.severity for f in found] == [Severity.MEDIUM]


def test_no_history_no_news() -> None:
    events = [*history(days=3), ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9", geo=ABROAD, device_id="d2")]
    assert run(events, NewContext()) == []
