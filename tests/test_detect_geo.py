"""The geography the location detectors share (detect/geo.py): distances against known city pairs, the
gap beyond the accuracy radii, which fixes are precise enough to measure, and how a place reads."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushguard.detect.geo import (
    EARTH_RADIUS_KM,
    asn_set,
    gap_km,
    geo_gap_km,
    haversine_km,
    is_hosting,
    place_text,
    precise,
    valid_point,
)
from pushguard.model import Geo, GeoSource

PARIS = Geo(lat=48.8566, lon=2.3522, country="FR", city="Paris", accuracy_km=50.0, asn=3215, as_org="Orange")
NEW_YORK = Geo(lat=40.7128, lon=-74.006, country="US", city="New York", accuracy_km=20.0)
COUNTRY_ONLY = Geo(country="US", accuracy_km=1000.0, asn=7922, source=GeoSource.BUNDLED)

latitudes = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
longitudes = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((48.8566, 2.3522), (40.7128, -74.006), 5837.0),  # Paris - New York
        ((51.5072, -0.1276), (48.8566, 2.3522), 344.0),  # London - Paris
        ((-33.8688, 151.2093), (35.6762, 139.6503), 7823.0),  # Sydney - Tokyo, across the equator
        ((0.0, 179.5), (0.0, -179.5), 111.2),  # across the antimeridian, not around the world
    ],
)
def test_haversine_matches_known_distances(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert haversine_km(*a, *b) == pytest.approx(km, rel=0.01)


@given(latitudes, longitudes, latitudes, longitudes)
def test_haversine_is_symmetric_and_bounded(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    there = haversine_km(lat1, lon1, lat2, lon2)
    assert there == pytest.approx(haversine_km(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= there <= math.pi * EARTH_RADIUS_KM + 1e-6
    assert haversine_km(lat1, lon1, lat1, lon1) == pytest.approx(0.0, abs=1e-6)


def test_the_gap_takes_both_radii_off_and_never_goes_below_zero() -> None:
    assert gap_km(300.0, 50.0, 50.0) == 200.0
    assert gap_km(80.0, 50.0, 50.0) == 0.0
    assert gap_km(80.0) == 80.0


def test_geo_gap_needs_points_and_radii_on_both_sides() -> None:
    measured = geo_gap_km(PARIS, NEW_YORK)
    assert measured is not None
    distance, gap = measured
    assert distance == pytest.approx(5837.0, rel=0.01)
    assert gap == pytest.approx(distance - 70.0)
    assert geo_gap_km(PARIS, COUNTRY_ONLY) is None  # no coordinates: a country is not a point
    assert geo_gap_km(PARIS, Geo(lat=40.7, lon=-74.0)) is None  # a point without a radius


@pytest.mark.parametrize(
    ("lat", "lon", "ok"),
    [
        (48.85, 2.35, True),
        (0.0, 0.0, False),  # null island: what a failed lookup writes
        (0.0, 32.58, True),  # on the equator is a real place (Kampala is near it)
        (91.0, 0.0, False),
        (45.0, 181.0, False),
        (float("nan"), 2.0, False),
        (float("inf"), 2.0, False),
        (None, 2.0, False),
    ],
)
def test_valid_point(lat: float | None, lon: float | None, ok: bool) -> None:
    assert valid_point(lat, lon) is ok


def test_precise_means_city_level_or_better_with_a_known_radius() -> None:
    assert precise(PARIS, 100.0)
    assert not precise(PARIS, 40.0)  # the caller's limit is tighter than this fix
    assert not precise(COUNTRY_ONLY, 100.0)
    assert not precise(Geo(lat=48.85, lon=2.35), 100.0)  # no radius: unknown precision
    assert not precise(Geo(lat=0.0, lon=0.0, accuracy_km=10.0), 100.0)
    assert not precise(Geo(lat=48.85, lon=2.35, accuracy_km=10.0, source=GeoSource.PRIVATE), 100.0)
    assert not precise(None, 100.0)


def test_hosting_is_what_enrichment_marked() -> None:
    assert is_hosting(Geo(asn=14061, is_hosting=True))
    assert is_hosting(Geo(asn=9009, is_proxy=True))
    assert not is_hosting(PARIS)
    assert not is_hosting(None)


def test_asn_lists_accept_the_usual_spellings_and_refuse_junk() -> None:
    assert asn_set("AS13335, 15169 as16509") == frozenset({13335, 15169, 16509})
    assert asn_set("") == frozenset()
    with pytest.raises(ValueError, match="not an ASN: 'AS12x'"):
        asn_set("AS12x")


def test_place_text_names_city_country_network_and_address() -> None:
    assert place_text(PARIS, "198.51.100.7") == "Paris, FR (AS3215 Orange) 198.51.100.7"
    vpn = Geo(country="NL", asn=14061, as_org="DigitalOcean", is_hosting=True)
    assert place_text(vpn) == "NL (AS14061 DigitalOcean, hosting/VPN)"
    assert place_text(Geo(asn=9009, is_proxy=True)) == "unknown place (AS9009, proxy)"
    assert place_text(None, "203.0.113.5") == "203.0.113.5"
    assert place_text(None) == "unknown place"
