"""Geo/ASN enrichment of an event's requester (``ip``/``geo``) and responder (``responder_ip``/
``responder_geo``).

Order of trust, per address:

1. the vendor's own answer (it saw the connection): kept as it is; when it has no ASN, the ASN is added;
2. non-global addresses (RFC 1918, loopback, link-local, CGNAT 100.64/10, documentation, reserved,
   multicast): ``Geo(source=PRIVATE)`` with no location;
3. MaxMind DB files the user points to (GeoLite2/GeoIP2 City and/or ASN): city coordinates with the
   database's ``location.accuracy_radius`` as ``accuracy_km``, source MMDB;
4. the bundled offline database (the ``plevin`` reader with its ``plevin-db-country`` and
   ``plevin-db-network`` data wheels, installed from PyPI): country and ASN only, no coordinates,
   ``accuracy_km`` = :data:`BUNDLED_COUNTRY_ACCURACY_KM`, source BUNDLED. Country-level data must not feed
   impossible-travel: detectors use coordinates only, and only with their accuracy.

Hosting/VPN/relay egress is marked ``is_hosting=True`` from :data:`HOSTING_ASNS` (curated below), from
words in the AS organisation name (:data:`HOSTING_WORDS`), and, where the bundled database is loaded,
from its operator category for the ASN (hosting, cdn, content). Only ``True`` is ever set: ``None``
means "not known to be hosting".

Lookups are cached per address in a bounded LRU (``cache_size``); an enricher returns the very event it
was given when it changes nothing.
"""

from __future__ import annotations

import functools
import importlib.resources
import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import maxminddb
import msgspec

from pushguard.model import Event, Geo, GeoSource, InputError

DEFAULT_CACHE_SIZE = 65_536  # distinct addresses kept resolved
BUNDLED_COUNTRY_ACCURACY_KM = 1000.0  # the bundled data names a country, not a place in it
MMDB_DEFAULT_ACCURACY_KM = 100.0  # an MMDB City record with coordinates but no accuracy_radius

# Hosting, cloud, VPN-egress and relay-egress ASNs. Sources: the AS handles and companies below were
# checked against the registry data bundled in plevin-db-network 2026.10.4.2 (RIPE RIS origin AS, CAIDA
# AS-to-organisation, PeeringDB) with ``plevin.Plevin(path).system(asn)``; iCloud Private Relay egress
# providers (Akamai, Cloudflare, Fastly) from Apple's "Prepare your network or web server for iCloud
# Private Relay" and the Cloudflare and Akamai announcements of their part in it. AS36183 is Akamai's
# (AKAMAI-AS), the AS most Private Relay egress addresses come from; Apple's own AS714 is not egress.
HOSTING_ASNS: Mapping[int, str] = {
    # public clouds
    16509: "AMAZON-02 (AWS)",
    14618: "AMAZON-AES (AWS)",
    8987: "GOVCLOUD (AWS GovCloud)",
    396982: "GOOGLE-CLOUD-PLATFORM",
    19527: "GOOGLE-2 (Google Cloud)",
    8075: "MICROSOFT-CORP-MSN-AS-BLOCK (Azure)",
    31898: "ORACLE-BMC-31898 (Oracle Cloud)",
    45102: "ALIBABA-CN-NET (Alibaba Cloud)",
    37963: "ALIBABA-CN-NET (Alibaba Cloud)",
    132203: "TENCENT-NET-AP-CN (Tencent Cloud)",
    # hosting / VPS
    14061: "DIGITALOCEAN-ASN",
    16276: "OVH",
    24940: "HETZNER-AS",
    213230: "HETZNER-CLOUD2-AS",
    63949: "AKAMAI-LINODE-AP (Linode)",
    20473: "AS-VULTR (The Constant Company)",
    12876: "Scaleway",
    51167: "CONTABO",
    40021: "CONTABO-40021",
    60781: "LEASEWEB-NL-AMS-01",
    28753: "LEASEWEB-DE-FRA-10",
    62240: "Clouvider",
    396356: "LATITUDE-SH",
    201814: "Mevspace",
    200651: "FlokiNET",
    53667: "PONYNET (FranTech / BuyVM)",
    # VPN egress (commercial VPNs rent here)
    9009: "M247",
    60068: "CDN77 (Datacamp)",
    212238: "CDNEXT (Datacamp)",
    209103: "ProtonVPN (Proton AG)",
    147049: "PACKETHUBSA-AS-AP (PacketHub, NordVPN)",
    136787: "PACKETHUBSA-AS-AP (PacketHub, NordVPN)",
    # relay egress (iCloud Private Relay) and CDN/edge
    36183: "AKAMAI-AS (iCloud Private Relay egress)",
    13335: "CLOUDFLARENET (WARP, iCloud Private Relay egress)",
    54113: "FASTLY (iCloud Private Relay egress)",
}

# Parts of an AS organisation name (lowercase) that say "servers, not people": anywhere in the name
# ("WebHosting", "FastVPN", "ServerCentral"), and short ones only as whole words ("Host Europe").
HOSTING_WORDS = ("hosting", "vpn", "datacenter", "datacentre", "data-center", "cloud", "server", "colocation")
HOSTING_WHOLE_WORDS = frozenset({"host", "vps", "colo", "dedicated"})
_HOSTING_CATEGORIES = frozenset({"hosting", "cdn", "content"})  # plevin operator categories
_WORD_SPLIT = str.maketrans(dict.fromkeys(",.;:()[]/\\_&+-\"'", " "))


def is_hosting(asn: int | None, as_org: str | None) -> bool:
    """The curated list and the name heuristics (no database)."""
    if asn is not None and asn in HOSTING_ASNS:
        return True
    if not as_org:
        return False
    name = as_org.lower()
    if any(part in name for part in HOSTING_WORDS):
        return True
    return any(word in HOSTING_WHOLE_WORDS for word in name.translate(_WORD_SPLIT).split())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_private(text: str) -> bool:
    """Not a routable unicast address: no place to look up (invalid text counts as not private)."""
    addr = _address(text)
    return addr is not None and (not addr.is_global or addr.is_multicast)


_PRIVATE = Geo(source=GeoSource.PRIVATE)


def _data_file(package: str, name: str) -> str:
    """A database file shipped inside an installed data wheel (found without importing it)."""
    path = importlib.resources.files(package).joinpath("data", name)
    if not path.is_file():
        raise LookupError(f"{package}: {name} is missing")
    return str(path)


class _Bundled:
    """The plevin reader over its two data wheels (country by use, network by routing)."""

    def __init__(self) -> None:
        import plevin

        self.country = plevin.Plevin(_data_file("plevin_db_country", "plevin.place-country-code.plv"))
        self.network = plevin.Plevin(_data_file("plevin_db_network", "plevin.network.plv"))
        self.built = self.network.built

    def lookup(self, ip: str) -> Geo | None:
        net = self.network.lookup(ip)
        place = self.country.lookup(ip).place
        country = place.country.code if place is not None and place.country is not None else None
        network = net.network
        asn = network.asn if network is not None else None
        org: str | None = None
        if network is not None:
            operator = network.operator
            org = (operator.company if operator is not None else None) or network.handle
            if country is None:
                country = network.country  # registry country: better than none
        if country is None and asn is None and org is None:
            return None
        hosting = (net.abuse is not None and net.abuse.is_hosting_provider) or is_hosting(asn, org)
        return Geo(
            country=country,
            accuracy_km=BUNDLED_COUNTRY_ACCURACY_KM if country is not None else None,
            asn=asn,
            as_org=org,
            is_hosting=True if hosting else None,
            source=GeoSource.BUNDLED,
        )

    def hosting_asn(self, asn: int) -> bool:
        system = self.network.system(asn)
        network = system.network
        operator = network.operator if network is not None else None
        return operator is not None and operator.category in _HOSTING_CATEGORIES


@functools.cache
def bundled_database() -> _Bundled | None:
    """The bundled database, opened once per process (memory-mapped); None when not installed."""
    try:
        return _Bundled()
    except (ImportError, LookupError, OSError):
        return None


def _name(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    names = node.get("names")
    if isinstance(names, dict):
        name = names.get("en")
        if isinstance(name, str):
            return name
    return None


def _mmdb_geo(record: Mapping[str, Any]) -> dict[str, Any]:
    """Fields of a GeoIP2/GeoLite2 City, Country, ASN or ISP record."""
    out: dict[str, Any] = {}
    location = record.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            out["lat"], out["lon"] = float(lat), float(lon)
            radius = location.get("accuracy_radius")
            out["accuracy_km"] = (
                float(radius) if isinstance(radius, int | float) else MMDB_DEFAULT_ACCURACY_KM
            )
    country = record.get("country") or record.get("registered_country")
    if isinstance(country, dict) and isinstance(country.get("iso_code"), str):
        out["country"] = country["iso_code"]
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions:
        region = subdivisions[0]
        if isinstance(region, dict):
            code = region.get("iso_code")
            out["region"] = _name(region) or (code if isinstance(code, str) else None)
    city = _name(record.get("city"))
    if city:
        out["city"] = city
    asn = record.get("autonomous_system_number")
    if isinstance(asn, int):
        out["asn"] = asn
    org = record.get("autonomous_system_organization")
    if isinstance(org, str) and org:
        out["as_org"] = org
    traits = record.get("traits")
    if isinstance(traits, dict) and traits.get("is_anonymous_proxy") is True:
        out["is_proxy"] = True
    return {k: v for k, v in out.items() if v is not None}


def open_mmdb(path: Path) -> maxminddb.Reader:
    """A MaxMind database, or an InputError naming the file and what is wrong with it."""
    try:
        return maxminddb.open_database(str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such MaxMind database file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (maxminddb.InvalidDatabaseError, ValueError, UnicodeError):
        raise InputError(f"{path}: not a MaxMind database (.mmdb) file") from None


class GeoEnricher:
    """Event → Event with ``geo``/``responder_geo`` filled where the vendor left them empty or ASN-less."""

    def __init__(
        self,
        city_db: Path | None = None,
        asn_db: Path | None = None,
        bundled: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._readers: list[maxminddb.Reader] = []
        try:
            for path in (city_db, asn_db):
                if path is not None:
                    self._readers.append(open_mmdb(path))
        except BaseException:
            self.close()
            raise
        self._bundled = bundled_database() if bundled else None
        self.lookup = functools.lru_cache(maxsize=cache_size)(self._resolve)
        self._hosting_asn = functools.lru_cache(maxsize=4096)(self._resolve_hosting_asn)
        # Every event with a vendor ASN asks this; the name heuristics are string work worth caching.
        self._is_hosting = functools.lru_cache(maxsize=8192)(self._classify_hosting)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        for reader in self._readers:
            reader.close()
        self._readers = []

    def __enter__(self) -> GeoEnricher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def sources(self) -> list[str]:
        """What this enricher consults, for logs and ``--version`` style output."""
        names = [f"mmdb:{r.metadata().database_type}" for r in self._readers]
        if self._bundled is not None:
            names.append(f"bundled:plevin {self._bundled.built}")
        return names

    # -- lookups ---------------------------------------------------------------------------------

    def _resolve(self, ip: str) -> Geo | None:
        """What the databases say about one address (cached by ``lookup``)."""
        addr = _address(ip)
        if addr is None:
            return None
        if not addr.is_global or addr.is_multicast:
            return _PRIVATE
        fields: dict[str, Any] = {}
        for reader in self._readers:
            record = reader.get(addr)
            if isinstance(record, dict):
                for key, value in _mmdb_geo(record).items():
                    fields.setdefault(key, value)
        found: Geo | None = None
        if fields:
            found = Geo(**fields, source=GeoSource.MMDB)
        if self._bundled is not None and (found is None or found.asn is None or found.country is None):
            extra = self._bundled.lookup(str(addr))
            if found is None:
                found = extra
            elif extra is not None:
                found = msgspec.structs.replace(
                    found,
                    country=found.country or extra.country,
                    asn=found.asn if found.asn is not None else extra.asn,
                    as_org=found.as_org or extra.as_org,
                    is_hosting=found.is_hosting or extra.is_hosting,
                )
        if found is not None and found.is_hosting is None and self._is_hosting(found.asn, found.as_org):
            found = msgspec.structs.replace(found, is_hosting=True)
        return found

    def _resolve_hosting_asn(self, asn: int) -> bool:
        return self._bundled is not None and self._bundled.hosting_asn(asn)

    def _classify_hosting(self, asn: int | None, as_org: str | None) -> bool:
        return is_hosting(asn, as_org) or (asn is not None and self._hosting_asn(asn))

    def merge(self, vendor: Geo | None, ip: str | None) -> Geo | None:
        """The vendor's geo completed from the databases (the same object when nothing is added)."""
        if vendor is not None and vendor.asn is not None:
            if vendor.is_hosting is None and self._is_hosting(vendor.asn, vendor.as_org):
                return msgspec.structs.replace(vendor, is_hosting=True)
            return vendor
        found = self.lookup(ip) if ip else None
        if vendor is None:
            return found
        if found is None or found.source is GeoSource.PRIVATE:
            if vendor.is_hosting is None and self._is_hosting(None, vendor.as_org):
                return msgspec.structs.replace(vendor, is_hosting=True)
            return vendor
        changes: dict[str, Any] = {}
        if found.asn is not None:
            changes["asn"] = found.asn
            if not vendor.as_org and found.as_org:
                changes["as_org"] = found.as_org
        if vendor.is_hosting is None:
            org = changes.get("as_org", vendor.as_org)
            if found.is_hosting or self._is_hosting(found.asn, org):
                changes["is_hosting"] = True
        if vendor.lat is None and found.lat is not None:
            # The vendor named a place but gave no point: take the database's point, with its radius.
            changes.update(lat=found.lat, lon=found.lon, accuracy_km=found.accuracy_km, source=found.source)
            for key in ("country", "region", "city"):
                if getattr(vendor, key) is None and getattr(found, key) is not None:
                    changes[key] = getattr(found, key)
        elif vendor.country is None and vendor.lat is None and found.country is not None:
            changes["country"] = found.country
        if not changes:
            return vendor
        return msgspec.structs.replace(vendor, **changes)

    def __call__(self, event: Event) -> Event:
        geo = self.merge(event.geo, event.ip)
        responder_geo = (
            self.merge(event.responder_geo, event.responder_ip)
            if event.responder_ip or event.responder_geo is not None
            else None
        )
        if geo is event.geo and responder_geo is event.responder_geo:
            return event
        return msgspec.structs.replace(event, geo=geo, responder_geo=responder_geo)
