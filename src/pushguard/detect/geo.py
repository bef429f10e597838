"""Geography shared by the location detectors: great-circle distance, distance beyond the error radii,
which fixes are precise enough to measure, hosting egress, and how a place reads in a reason.

IP geolocation is a circle, not a point: two fixes 300 km apart with 50 km radii may be 200 km apart
or less. Every comparison here therefore works on the *gap* (distance minus both radii, never below 0),
and refuses fixes without a radius, coarser than the caller's limit (country centroids), out of range,
or at 0,0 (the "null island" a lookup writes when it has no answer). Private and reserved addresses are
classified by enrichment (``GeoSource.PRIVATE``, no coordinates), so they are never precise here."""

from __future__ import annotations

import math

from pushguard.model import Geo, GeoSource

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def gap_km(distance_km: float, *radii_km: float) -> float:
    """The distance the two fixes are certainly apart: distance minus the error radii, at least 0."""
    return max(0.0, distance_km - sum(radii_km))


def valid_point(lat: float | None, lon: float | None) -> bool:
    """Finite, in range, and not 0,0: a lookup that found nothing often writes zeros."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return False
    return not (lat == 0.0 and lon == 0.0)


def precise(geo: Geo | None, max_accuracy_km: float) -> bool:
    """Coordinates with a known radius no coarser than ``max_accuracy_km`` (city level or vendor)."""
    return (
        geo is not None
        and valid_point(geo.lat, geo.lon)
        and geo.accuracy_km is not None
        and 0.0 <= geo.accuracy_km <= max_accuracy_km
        and geo.source is not GeoSource.PRIVATE
    )


def geo_gap_km(a: Geo, b: Geo) -> tuple[float, float] | None:
    """(distance, gap) between two fixes that both have coordinates and radii; None otherwise."""
    if not (valid_point(a.lat, a.lon) and valid_point(b.lat, b.lon)):
        return None
    if a.accuracy_km is None or b.accuracy_km is None:
        return None
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    distance = haversine_km(a.lat, a.lon, b.lat, b.lon)
    return distance, gap_km(distance, a.accuracy_km, b.accuracy_km)


def is_hosting(geo: Geo | None) -> bool:
    """Cloud / hosting / VPN egress or an anonymising proxy, as the enrichment marked it."""
    return geo is not None and bool(geo.is_hosting or geo.is_proxy)


def asn_set(text: str) -> frozenset[int]:
    """Parse a tunable list of ASNs: ``"AS13335, 15169 16509"`` → {13335, 15169, 16509}."""
    found: set[int] = set()
    for token in text.replace(",", " ").split():
        digits = token.upper().removeprefix("AS")
        if not digits.isdigit():
            raise ValueError(f"not an ASN: {token!r}")
        found.add(int(digits))
    return frozenset(found)


def place_text(geo: Geo | None, ip: str | None = None) -> str:
    """A short human description of one side: ``Lagos, NG (AS36873 Airtel) 203.0.113.5``."""
    if geo is None:
        return ip or "unknown place"
    where = ", ".join(part for part in (geo.city, geo.country) if part) or "unknown place"
    if geo.asn is not None:
        org = f" {geo.as_org}" if geo.as_org else ""
        where += f" (AS{geo.asn}{org}"
        if geo.is_hosting or geo.is_proxy:
            where += ", hosting/VPN" if geo.is_hosting else ", proxy"
        where += ")"
    if ip:
        where += f" {ip}"
    return where
