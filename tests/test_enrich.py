"""Enrichment: geo/ASN (private, vendor, MaxMind files, bundled database, hosting) and user agents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from msgspec.structs import replace
from netaddr import IPSet

from pushguard.enrich import (
    AliasMap,
    CountryEnricher,
    GazetteerEnricher,
    GeoEnricher,
    UserAgentEnricher,
    build_enrichers,
)
from pushguard.enrich.country import country_code
from pushguard.enrich.geo import BUNDLED_COUNTRY_ACCURACY_KM, bundled_database, is_hosting, is_private
from pushguard.model import Device, EventKind, Geo, GeoSource, InputError
from tests.events import ev

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def offline() -> Iterator[GeoEnricher]:
    """Bundled database only."""
    with GeoEnricher() as enricher:
        yield enricher


@pytest.fixture
def mmdb_files(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny GeoIP2-City and GeoLite2-ASN file written with mmdb-writer (real MaxMind DB format)."""
    city = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    city.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "city": {"names": {"en": "London"}},
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "location": {"latitude": 51.5142, "longitude": -0.0931, "accuracy_radius": 10},
        },
    )
    city.insert_network(
        IPSet(["2001:67c:2e8::/48"]),
        {"country": {"iso_code": "NL"}, "location": {"latitude": 52.37, "longitude": 4.89}},
    )
    city_path = tmp_path / "city.mmdb"
    city.to_db_file(str(city_path))
    asn = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    asn.insert_network(
        IPSet(["81.2.69.0/24"]),
        {"autonomous_system_number": 20712, "autonomous_system_organization": "Andrews & Arnold Ltd"},
    )
    asn.insert_network(
        IPSet(["203.0.113.0/24", "192.0.2.0/24"]),  # documentation space: must never be looked up
        {"autonomous_system_number": 64500, "autonomous_system_organization": "Example"},
    )
    asn_path = tmp_path / "asn.mmdb"
    asn.to_db_file(str(asn_path))
    return city_path, asn_path


# -- private and reserved addresses ----------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.10.10",
        "100.64.0.1",  # CGNAT
        "192.0.2.10",  # documentation
        "0.0.0.0",
        "224.0.0.251",  # multicast
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",  # IPv4-mapped private
    ],
)
def test_private_and_reserved_addresses_get_no_location(offline: GeoEnricher, ip: str) -> None:
    assert is_private(ip)
    out = offline(ev(EventKind.PUSH_SENT, 0, ip=ip, geo=None))
    assert out.geo == Geo(source=GeoSource.PRIVATE)
    assert out.geo.lat is None and out.geo.country is None and out.geo.asn is None


def test_public_and_invalid_addresses_are_not_private() -> None:
    assert not is_private("8.8.8.8")
    assert not is_private("::ffff:8.8.8.8")
    assert not is_private("not an ip")


def test_invalid_ip_leaves_the_event_alone(offline: GeoEnricher) -> None:
    event = ev(EventKind.PUSH_SENT, 0, ip="not-an-ip", geo=None)
    assert offline(event) is event


# -- vendor geo first ------------------------------------------------------------------------------


def test_vendor_geo_with_asn_is_returned_unchanged(offline: GeoEnricher) -> None:
    vendor = Geo(
        lat=48.85, lon=2.35, country="France", city="Paris", accuracy_km=50.0, asn=3215, as_org="Orange"
    )
    event = ev(EventKind.PUSH_SENT, 0, ip="8.8.8.8", geo=vendor)
    assert offline(event) is event


def test_vendor_coordinates_kept_and_asn_added(offline: GeoEnricher) -> None:
    vendor = Geo(lat=37.42, lon=-122.08, country="United States", city="Mountain View", accuracy_km=25.0)
    out = offline(ev(EventKind.PUSH_SENT, 0, ip="8.8.8.8", geo=vendor))
    assert out.geo is not None
    assert (out.geo.lat, out.geo.lon, out.geo.country, out.geo.city) == (
        37.42,
        -122.08,
        "United States",
        "Mountain View",
    )
    assert out.geo.accuracy_km == 25.0
    assert out.geo.source is GeoSource.VENDOR
    assert out.geo.asn == 15169
    assert out.geo.as_org


def test_vendor_geo_of_a_private_address_is_kept(offline: GeoEnricher) -> None:
    vendor = Geo(country="France", city="Paris")
    event = ev(EventKind.PUSH_SENT, 0, ip="10.0.0.5", geo=vendor)
    assert offline(event) is event


def test_vendor_hosting_asn_is_marked_without_lookup() -> None:
    with GeoEnricher(bundled=False) as enricher:
        vendor = Geo(country="DE", asn=24940, as_org="Hetzner Online GmbH")
        out = enricher(ev(EventKind.PUSH_SENT, 0, ip="5.9.1.1", geo=vendor))
        assert out.geo is not None and out.geo.is_hosting is True
        assert out.geo.asn == 24940 and out.geo.source is GeoSource.VENDOR


# -- bundled offline database ----------------------------------------------------------------------


def test_bundled_database_is_installed() -> None:
    db = bundled_database()
    assert db is not None, "plevin-db-country / plevin-db-network must be installed (pyproject)"
    assert db.built >= "2026"


@pytest.mark.parametrize(
    ("ip", "country", "asn"),
    [
        ("8.8.8.8", "US", 15169),
        ("1.1.1.1", "AU", 13335),
        ("2001:4860:4860::8888", "US", 15169),
        ("::ffff:8.8.8.8", "US", 15169),
    ],
)
def test_bundled_lookup_of_well_known_addresses(
    offline: GeoEnricher, ip: str, country: str, asn: int
) -> None:
    out = offline(ev(EventKind.PUSH_SENT, 0, ip=ip, geo=None))
    geo = out.geo
    assert geo is not None
    assert geo.source is GeoSource.BUNDLED
    assert (geo.country, geo.asn) == (country, asn)
    assert geo.lat is None and geo.lon is None  # country-level: no point to travel from
    assert geo.accuracy_km == BUNDLED_COUNTRY_ACCURACY_KM
    assert geo.accuracy_km >= 500


def test_responder_side_is_enriched_too(offline: GeoEnricher) -> None:
    out = offline(ev(EventKind.PUSH_APPROVED, 0, ip="10.0.0.1", geo=None, responder_ip="1.1.1.1"))
    assert out.geo is not None and out.geo.source is GeoSource.PRIVATE
    assert out.responder_geo is not None
    assert out.responder_geo.asn == 13335


def test_no_databases_no_change() -> None:
    with GeoEnricher(bundled=False) as enricher:
        event = ev(EventKind.PUSH_SENT, 0, ip="8.8.8.8", geo=None)
        assert enricher(event) is event


# -- hosting / VPN / relay marking -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "asn"),
    [
        ("52.95.110.1", 16509),  # AWS
        ("5.9.1.1", 24940),  # Hetzner
        ("172.224.226.1", 36183),  # Akamai, iCloud Private Relay egress
    ],
)
def test_hosting_and_relay_egress_marked(offline: GeoEnricher, ip: str, asn: int) -> None:
    geo = offline(ev(EventKind.PUSH_SENT, 0, ip=ip, geo=None)).geo
    assert geo is not None
    assert geo.asn == asn
    assert geo.is_hosting is True


def test_eyeball_network_not_marked(offline: GeoEnricher) -> None:
    geo = offline(ev(EventKind.PUSH_SENT, 0, ip="41.1.1.1", geo=None)).geo  # Vodacom, cellular
    assert geo is not None and geo.asn is not None
    assert geo.is_hosting is None


@pytest.mark.parametrize(
    ("asn", "org", "expected"),
    [
        (14061, None, True),
        (396982, "Google LLC", True),
        (None, "Example Hosting Ltd", True),
        (None, "ACME Cloud Services", True),
        (None, "FastVPN-net", True),
        (None, "Datacenter Example B.V.", True),
        (None, "Comcast Cable Communications", False),
        (None, "Host Europe GmbH", True),
        (None, "Ghostnet Residential", False),
        (3215, "Orange", False),
        (None, None, False),
    ],
)
def test_hosting_heuristics(asn: int | None, org: str | None, expected: bool) -> None:
    assert is_hosting(asn, org) is expected


# -- user-supplied MaxMind DB files ----------------------------------------------------------------


def test_mmdb_city_and_asn(mmdb_files: tuple[Path, Path]) -> None:
    city, asn = mmdb_files
    with GeoEnricher(city_db=city, asn_db=asn, bundled=False) as enricher:
        assert enricher.sources == ["mmdb:GeoIP2-City", "mmdb:GeoLite2-ASN"]
        geo = enricher(ev(EventKind.PUSH_SENT, 0, ip="81.2.69.160", geo=None)).geo
        assert geo == Geo(
            lat=51.5142,
            lon=-0.0931,
            country="GB",
            region="England",
            city="London",
            accuracy_km=10.0,
            asn=20712,
            as_org="Andrews & Arnold Ltd",
            source=GeoSource.MMDB,
        )
        # a City record without accuracy_radius gets a conservative default, never None
        v6 = enricher(ev(EventKind.PUSH_SENT, 0, ip="2001:67c:2e8::1", geo=None)).geo
        assert v6 is not None and v6.accuracy_km is not None and v6.accuracy_km >= 50
        # private space is never looked up, whatever a file says about it
        doc = enricher(ev(EventKind.PUSH_SENT, 0, ip="203.0.113.9", geo=None)).geo
        assert doc == Geo(source=GeoSource.PRIVATE)


def test_mmdb_point_completes_a_vendor_place_without_coordinates(mmdb_files: tuple[Path, Path]) -> None:
    city, asn = mmdb_files
    with GeoEnricher(city_db=city, asn_db=asn, bundled=False) as enricher:
        vendor = Geo(country="United Kingdom", city="London")  # Duo-style: names, no point, no ASN
        geo = enricher(ev(EventKind.PUSH_SENT, 0, ip="81.2.69.160", geo=vendor)).geo
        assert geo is not None
        assert (geo.country, geo.city) == ("United Kingdom", "London")  # the vendor's words stay
        assert (geo.lat, geo.lon, geo.accuracy_km) == (51.5142, -0.0931, 10.0)
        assert geo.source is GeoSource.MMDB
        assert geo.asn == 20712


def test_mmdb_miss_falls_back_to_bundled(mmdb_files: tuple[Path, Path]) -> None:
    city, asn = mmdb_files
    with GeoEnricher(city_db=city, asn_db=asn) as enricher:
        geo = enricher(ev(EventKind.PUSH_SENT, 0, ip="8.8.8.8", geo=None)).geo
        assert geo is not None and geo.source is GeoSource.BUNDLED and geo.asn == 15169
        # the ASN-only part of an MMDB answer is completed by the bundled country
        hit = enricher(ev(EventKind.PUSH_SENT, 0, ip="81.2.69.160", geo=None)).geo
        assert hit is not None and hit.source is GeoSource.MMDB and hit.country == "GB"


def test_missing_mmdb_file_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.mmdb: no such MaxMind database file"):
        GeoEnricher(city_db=tmp_path / "nope.mmdb", bundled=False)


# -- cache -----------------------------------------------------------------------------------------


def test_geo_cache_is_bounded() -> None:
    with GeoEnricher(bundled=False, cache_size=8) as enricher:
        for i in range(100):
            enricher(ev(EventKind.PUSH_SENT, 0, ip=f"10.0.{i}.1", geo=None))
        info = enricher.lookup.cache_info()
        assert info.maxsize == 8 and info.currsize == 8 and info.misses == 100
        enricher(ev(EventKind.PUSH_SENT, 0, ip="10.0.99.1", geo=None))
        assert enricher.lookup.cache_info().hits == 1


# -- user agents -----------------------------------------------------------------------------------


def test_user_agent_fills_os_and_browser() -> None:
    enricher = UserAgentEnricher()
    event = ev(EventKind.PUSH_SENT, 0, geo=None)
    out = enricher(replace(event, device=Device(id="d1", user_agent=CHROME_WIN)))
    assert out.device == Device(id="d1", user_agent=CHROME_WIN, os="Windows 10", browser="Chrome 124.0")
    phone = enricher(replace(event, responder_device=Device(user_agent=SAFARI_IPHONE)))
    assert phone.responder_device is not None
    assert phone.responder_device.os == "iOS 17.4"
    assert phone.responder_device.browser == "Mobile Safari 17.4"


def test_user_agent_keeps_vendor_fields() -> None:
    enricher = UserAgentEnricher()
    base = ev(EventKind.PUSH_SENT, 0, geo=None)
    both = replace(base, device=Device(user_agent=CHROME_WIN, os="Windows", browser="CHROME"))
    assert enricher(both) is both
    partial = enricher(replace(base, device=Device(user_agent=CHROME_WIN, os="Windows")))
    assert partial.device is not None
    assert (partial.device.os, partial.device.browser) == ("Windows", "Chrome 124.0")


def test_user_agent_unknown_or_absent_is_a_no_op() -> None:
    enricher = UserAgentEnricher()
    base = ev(EventKind.PUSH_SENT, 0, geo=None)
    assert enricher(base) is base  # device without a user agent
    odd = replace(base, device=Device(user_agent="zzz-not-a-browser"))
    assert enricher(odd) is odd
    tool = enricher(replace(base, device=Device(user_agent="curl/8.4.0")))
    assert tool.device is not None and tool.device.browser == "curl 8.4" and tool.device.os is None


def test_user_agent_cache_is_bounded() -> None:
    enricher = UserAgentEnricher(cache_size=4)
    base = ev(EventKind.PUSH_SENT, 0, geo=None)
    for i in range(20):
        enricher(replace(base, device=Device(user_agent=f"Mozilla/5.0 Chrome/{100 + i}.0.0.0")))
    info = enricher.parse.cache_info()
    assert info.currsize == 4 and info.misses == 20


# -- the package surface ---------------------------------------------------------------------------


def test_build_enrichers() -> None:
    enrichers = build_enrichers()
    expected = [GeoEnricher, CountryEnricher, GazetteerEnricher, UserAgentEnricher]
    assert [type(e) for e in enrichers] == expected
    event = replace(ev(EventKind.PUSH_SENT, 0, ip="8.8.8.8", geo=None), device=Device(user_agent=CHROME_WIN))
    for enrich in enrichers:
        event = enrich(event)
    assert event.geo is not None and event.geo.asn == 15169
    assert event.geo.country == "US"
    assert event.device is not None and event.device.browser == "Chrome 124.0"
    assert callable(AliasMap)  # still exported


def test_country_names_become_iso_codes_on_both_sides() -> None:
    assert country_code("United States") == "US"
    assert country_code("fr") == "FR"
    assert country_code("UK") == "GB"  # not ISO's code, but what vendors write
    assert country_code("South Korea") == "KR"
    assert country_code("Atlantis") is None
    event = replace(
        ev(EventKind.PUSH_SENT, 0, geo=Geo(country="Netherlands", city="Amsterdam")),
        responder_geo=Geo(country="France"),
    )
    out = CountryEnricher()(event)
    assert out.geo is not None and out.geo.country == "NL" and out.geo.city == "Amsterdam"
    assert out.responder_geo is not None and out.responder_geo.country == "FR"
    already = ev(EventKind.PUSH_SENT, 0, geo=Geo(country="NL"))
    assert CountryEnricher()(already) is already
