"""Geography shared by the location detectors: great-circle distance, distance beyond the error radii,
which fixes are precise enough to measure, and which addresses say nothing about a place.

IP geolocation is a circle, not a point: two fixes 300 km apart with 50 km radii may be 200 km apart
or less. Every comparison here therefore works on the *gap* (distance minus both radii, never below 0),
and refuses fixes without a radius or coarser than the caller's limit (country centroids)."""

from __future__ import annotations

import ipaddress
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


def precise(geo: Geo | None, max_accuracy_km: float) -> bool:
    """Coordinates with a known radius no coarser than ``max_accuracy_km`` (city level or vendor)."""
    return (
        geo is not None
        and geo.lat is not None
        and geo.lon is not None
        and geo.accuracy_km is not None
        and geo.accuracy_km <= max_accuracy_km
        and geo.source is not GeoSource.PRIVATE
    )


def geo_gap_km(a: Geo, b: Geo) -> tuple[float, float] | None:
    """(distance, gap) between two fixes that both have coordinates and radii; None otherwise."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    if a.accuracy_km is None or b.accuracy_km is None:
        return None
    distance = haversine_km(a.lat, a.lon, b.lat, b.lon)
    return distance, gap_km(distance, a.accuracy_km, b.accuracy_km)


def is_unroutable(ip: str | None) -> bool:
    """Private, loopback, link-local, CGNAT, reserved, documentation-free-but-unroutable addresses.

    An unparsable address is not called unroutable (the caller's other checks decide)."""
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return bool(
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
        or addr in _CGNAT
    )


_CGNAT = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 shared address space (not is_private)


def is_hosting(geo: Geo | None) -> bool:
    """Cloud / hosting / VPN egress or an anonymising proxy, as the enrichment marked it."""
    return geo is not None and bool(geo.is_hosting or geo.is_proxy)


def asn_set(text: str) -> frozenset[int]:
    """Parse a tunable list of ASNs: ``"AS13335, 15169 16509"`` → {13335, 15169, 16509}."""
    found: set[int] = set()
    for token in text.replace(",", " ").split():
        token = token.strip().upper().removeprefix("AS")
        if not token.isdigit():
            raise ValueError(f"not an ASN: {token!r}")
        found.add(int(token))
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
