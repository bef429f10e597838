"""Familiarity: what the person and the organisation came back to, judged before the event teaches it;
the organisation table is a function of the events, not of the order they were read in."""

from __future__ import annotations

import random

import msgspec
import pytest

from pushguard.detect import familiarity
from pushguard.detect.familiarity import Level, agent_key, assess, established, requester_ip
from pushguard.detect.org import ORG_MIN_PEOPLE, OrgKnowledge, OrgTable, OrgTrust, net_of
from pushguard.detect.profile import new_profile, update_profile
from pushguard.detect.reset_enroll_chain import META as RESET_META
from pushguard.model import (
    ORG_ASN,
    ORG_COUNTRY,
    ORG_IP,
    ORG_MATURE,
    ORG_NET,
    ORG_TRUSTED,
    Device,
    Event,
    EventKind,
    Geo,
    GeoSource,
    IdentityProfile,
    Provider,
    Seen,
    UserKind,
)
from pushguard.pipeline import Engine
from tests.events import ABROAD, HOME, ev

DAY = 86400.0


def learnt(events: list[Event]) -> IdentityProfile:
    profile = new_profile("alice@corp.example")
    for n, event in enumerate(events):
        update_profile(profile, event, n)
    return profile


def test_something_is_the_person_s_only_once_they_came_back_to_it() -> None:
    assert not established(None, 0)
    assert not established(Seen(1, 0, 0), DAY)  # once
    assert not established(Seen(3, 0, 600), 3600)  # three times within the hour
    assert established(Seen(2, 0, 600), 5 * 3600)


def test_home_network_and_laptop_are_familiar_a_new_network_and_device_are_not() -> None:
    history = [ev(EventKind.PUSH_APPROVED, -day * DAY) for day in range(1, 4)]
    profile = learnt(history)
    home = assess(ev(EventKind.PUSH_SENT, 0), profile)
    assert (home.network, home.device, home.level) == ("own", "own", Level.FAMILIAR)
    neighbour = assess(ev(EventKind.PUSH_SENT, 0, ip="198.51.100.99", device_id=None), profile)
    assert neighbour.network == "own"  # same /24: a rotated home address
    stranger = assess(ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", geo=ABROAD, device_id="other"), profile)
    assert (stranger.network, stranger.device, stranger.level) == ("new", "new", Level.UNFAMILIAR)
    assert stranger.abroad and not stranger.country_new  # nobody here knows any country yet
    assert "neither the person nor the organisation" in stranger.describe()


def test_the_same_operator_with_their_own_browser_is_familiar_a_browser_alone_abroad_is_not() -> None:
    laptop = Device(os="Windows 11", browser="Chrome 131.0")
    history = [
        msgspec.structs.replace(ev(EventKind.PUSH_APPROVED, -day * DAY, device_id=None), device=laptop)
        for day in range(1, 4)
    ]
    profile = learnt(history)
    assert (
        agent_key("Windows 11", "Chrome 131.0") == agent_key("Windows 10", "Chrome 120") == "windows|chrome"
    )
    rotated = msgspec.structs.replace(
        ev(EventKind.PUSH_SENT, 0, ip="192.0.2.77", device_id=None),
        device=Device(os="Windows", browser="Chrome"),
    )
    assert assess(rotated, profile).level is Level.FAMILIAR  # new address, same ISP, same browser
    abroad = msgspec.structs.replace(
        ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", geo=ABROAD, device_id=None), device=laptop
    )
    assert assess(abroad, profile).level is Level.UNFAMILIAR  # an AiTM proxy passes the victim's browser on


def test_the_engine_s_memo_answers_only_the_event_and_profile_it_was_armed_with() -> None:
    """Detectors of one event share one familiarity while the engine holds it armed; outside that (a
    profile that learnt since, another event) it is judged afresh."""
    profile = learnt([ev(EventKind.PUSH_APPROVED, -day * DAY) for day in range(1, 4)])
    event = ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5", device_id="other")
    familiarity.arm(event, profile)
    try:
        first = assess(event, profile)
        assert assess(event, profile) is first  # kept for the next detector
        other = assess(ev(EventKind.PUSH_SENT, 0), profile)  # another event: its own answer
        assert (other.network, first.network) == ("own", "operator")
    finally:
        familiarity.disarm()
    for n, hours in enumerate((5, 3, 1)):  # the profile learns the new address: no stale answer after
        update_profile(profile, ev(EventKind.PUSH_APPROVED, -hours * 3600, ip="203.0.113.5"), 100 + n)
    assert assess(event, profile).network == "own"


def test_thin_history_is_said() -> None:
    profile = learnt([ev(EventKind.PUSH_APPROVED, -DAY)])
    assert assess(ev(EventKind.PUSH_SENT, 0, ip="203.0.113.5"), profile).thin
    assert not assess(
        ev(EventKind.PUSH_SENT, 0), learnt([ev(EventKind.PUSH_APPROVED, -d * DAY) for d in (1, 2, 3)])
    ).thin


def test_a_phone_only_okta_record_has_no_requester_but_duo_s_shared_wifi_does() -> None:
    deny = ev(EventKind.PUSH_DENIED, 0, ip="192.0.2.9", responder_ip="192.0.2.9")
    assert requester_ip(deny) is None
    duo = ev(EventKind.PUSH_DENIED, 0, ip="192.0.2.9", responder_ip="192.0.2.9", provider=Provider.DUO)
    assert requester_ip(duo) == "192.0.2.9"


def test_a_success_under_suspicion_teaches_no_familiarity() -> None:
    profile = learnt([ev(EventKind.PUSH_APPROVED, -d * DAY) for d in (1, 2, 3)])
    approval = ev(EventKind.PUSH_APPROVED, 10, ip="203.0.113.5", geo=ABROAD)
    profile.open_findings["push_bombing"] = [4.0, approval.ts]  # critical, fired by this approval
    update_profile(profile, approval, 99)
    assert "203.0.113.5" not in profile.ips and ABROAD.country not in profile.countries
    assert profile.last_place is not None and profile.last_place.ip == "203.0.113.5"  # where it happened


def org_events(rng: random.Random) -> list[Event]:
    """Eight people succeeding from an office address over two days, one from home, in random order."""
    events = [
        ev(EventKind.PUSH_APPROVED, day * DAY + n * 60, user=f"p{n}@corp.example", ip="198.51.100.200")
        for day in range(2)
        for n in range(8)
    ]
    events.append(ev(EventKind.PUSH_APPROVED, 300, user="home@corp.example", ip="192.0.2.50"))
    rng.shuffle(events)
    return events


def test_the_organisation_table_does_not_depend_on_the_order_it_learnt_in() -> None:
    rng = random.Random(7)
    tables = []
    for _ in range(5):
        table = OrgTable()
        for n, event in enumerate(org_events(rng)):
            table.learn(event, hash(event.identity) + n * 0)
        tables.append(table)
    halves = OrgTable(), OrgTable()
    for n, event in enumerate(org_events(rng)):
        halves[n % 2].learn(event, hash(event.identity))
    merged = OrgTable()
    merged.merge(halves[1])
    merged.merge(halves[0])
    tables.append(merged)
    assert all(t.entries == tables[0].entries for t in tables)
    office = tables[0].entries["i:198.51.100.200"]
    assert len(office.people) == ORG_MIN_PEOPLE and office.established == int(office.firsts[-1])
    assert tables[0].entries["i:192.0.2.50"].established == 0  # one person's home
    assert tables[0].countries_since == office.established


def test_bits_count_only_what_was_established_before_the_event() -> None:
    table = OrgTable()
    for n in range(ORG_MIN_PEOPLE):
        table.learn(ev(EventKind.PUSH_APPROVED, n * 60, user=f"p{n}@corp.example", ip="198.51.100.200"), n)
    knowledge = OrgKnowledge(table)
    at_the_moment = ev(EventKind.PUSH_SENT, (ORG_MIN_PEOPLE - 1) * 60, ip="198.51.100.200")
    assert knowledge.bits(at_the_moment) == 0
    later = ev(EventKind.PUSH_SENT, 3600, ip="198.51.100.201")
    assert knowledge.bits(later) == ORG_NET | ORG_ASN | ORG_COUNTRY | ORG_MATURE  # a neighbour, same /24
    office = ev(EventKind.PUSH_SENT, 3600, ip="198.51.100.200")
    assert knowledge.bits(office) & ORG_IP


def test_service_accounts_and_failures_teach_the_organisation_nothing() -> None:
    table = OrgTable()
    for n in range(10):
        nhi = msgspec.structs.replace(
            ev(EventKind.SIGNIN_SUCCESS, n, user=f"svc{n}@corp.example", ip="203.0.113.9"),
            user_kind=UserKind.NHI,
        )
        table.learn(nhi, n)
        table.learn(ev(EventKind.PUSH_DENIED, n, user=f"p{n}@corp.example", ip="203.0.113.9"), n)
    assert table.entries == {}


def test_the_allow_list_names_offices_and_gateways() -> None:
    trust = OrgTrust.parse({"trusted_networks": ["198.51.100.0/24"], "trusted_asns": ["AS22616"]}, "cfg")
    knowledge = OrgKnowledge(trust=trust)
    assert knowledge.bits(ev(EventKind.PUSH_SENT, 0, ip="198.51.100.9")) & ORG_TRUSTED
    gateway = Geo(country="Netherlands", asn=22616, as_org="Zscaler", is_hosting=True)
    assert knowledge.bits(ev(EventKind.PUSH_SENT, 0, ip="203.0.113.1", geo=gateway)) & ORG_TRUSTED
    assert not knowledge.bits(ev(EventKind.PUSH_SENT, 0, ip="203.0.113.1", geo=HOME)) & ORG_TRUSTED


def test_networks_of_addresses() -> None:
    assert net_of("198.51.100.7") == "198.51.100"
    assert net_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::"
    assert net_of("not an address") == ""


def test_the_engine_lends_a_recent_sign_in_s_place_to_a_record_without_one() -> None:
    """An audit record (an address, no place) minutes after a located sign-in from the same address."""
    seen: list[Event] = []

    class Spy:
        meta = RESET_META  # any detector's metadata will do: it watches enrollments
        state_type = dict

        def initial_state(self) -> dict[str, str]:
            return {}

        def observe(
            self, state: dict[str, str], event: Event, profile: IdentityProfile
        ) -> tuple[dict[str, str], list[object]]:
            seen.append(event)
            return state, []

        def advance(self, state: dict[str, str], watermark: float) -> tuple[dict[str, str], list[object]]:
            return state, []

    engine = Engine(detectors=[Spy()])  # type: ignore[list-item]
    engine.process(ev(EventKind.SIGNIN_SUCCESS, 0, ip="203.0.113.5", geo=ABROAD))
    engine.process(ev(EventKind.FACTOR_ENROLLED, 600, ip="203.0.113.5", geo=None))
    placed = seen[-1].geo
    assert placed is not None and placed.lat is not None and abs(placed.lat - ABROAD.lat) < 0.01  # type: ignore[operator]
    assert placed.source.value == "signin"
    # an offline database's guess for the address (another country, another operator) gives way to the
    # vendor's view in the sign-in; a record's own vendor country stays
    guess = Geo(country="RO", accuracy_km=1000.0, asn=8953, as_org="Orange Romania", source=GeoSource.BUNDLED)
    engine.process(ev(EventKind.FACTOR_ENROLLED, 700, ip="203.0.113.5", geo=guess))
    lent = seen[-1].geo
    assert lent is not None and (lent.country, lent.asn, lent.as_org) == (ABROAD.country, ABROAD.asn, None)
    own = Geo(country="Ghana", city="Accra", source=GeoSource.VENDOR)
    engine.process(ev(EventKind.FACTOR_ENROLLED, 800, ip="203.0.113.5", geo=own))
    kept = seen[-1].geo
    assert kept is not None and (kept.country, kept.city, kept.lat) == ("Ghana", "Accra", placed.lat)


def test_a_wrong_allow_list_is_named() -> None:
    with pytest.raises(ValueError, match=r"cfg: organisation.trusted_networks: not a network: 'office'"):
        OrgTrust.parse({"trusted_networks": ["office"]}, "cfg")
    with pytest.raises(ValueError, match=r"cfg: organisation\.trusted_asns: not an ASN"):
        OrgTrust.parse({"trusted_asns": ["Zscaler"]}, "cfg")
    with pytest.raises(ValueError, match="unknown key"):
        OrgTrust.parse({"offices": []}, "cfg")
