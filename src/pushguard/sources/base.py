"""What every vendor source module provides, and the helpers they share."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, cast

import msgspec

from pushguard.model import Event, Geo, Provider, RawRef

Record = Mapping[str, Any]

# Invalid JSON: msgspec reports bad UTF-8 in bytes as UnicodeDecodeError, and a str holding a lone
# surrogate (a JSON escape like \\ud800 that decoded into a field) as UnicodeEncodeError.
NOT_JSON = (msgspec.DecodeError, UnicodeError)


class Unmapped:
    """A well-formed record that this source does not turn into an Event, and why.

    The reason is counted and reported (e.g. ``okta: eventType system.org.rate_limit.warning``)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unmapped({self.reason!r})"


ParseResult = list[Event] | Unmapped


class Source(Protocol):
    """One vendor's parser. ``parse`` raises ``RecordError`` for a malformed record."""

    provider: Provider

    def matches(self, record: Record) -> bool:
        """True when the record is in this vendor's shape (used for auto-detection)."""
        ...

    def parse(self, record: Record, ref: RawRef) -> ParseResult: ...


class RecordError(ValueError):
    """A record in the vendor's shape whose content is wrong (the reason says which field)."""


def parse_time(value: Any, field: str) -> datetime:
    """ISO-8601 (with Z or an offset, or Panther's ``YYYY-MM-DD hh:mm:ss.fff``) or Unix seconds.

    Naive times are taken as UTC, since every vendor here writes UTC."""
    if value.__class__ is not str:  # a str, the common case, skips these checks (a tenth of the time)
        if isinstance(value, bool):
            raise RecordError(f"{field}: expected a timestamp, got {value!r}")
        if isinstance(value, int | float):
            seconds = value / 1000.0 if value > 100_000_000_000 else float(value)
            try:
                return datetime.fromtimestamp(seconds, tz=UTC)
            except (OverflowError, OSError, ValueError) as exc:
                raise RecordError(f"{field}: timestamp {value!r} out of range") from exc
    if not isinstance(value, str) or not value:
        raise RecordError(f"{field}: expected a timestamp, got {value!r}")
    text = value
    # Entra writes 7 fractional digits; fromisoformat takes at most 6. Okta's milliseconds leave no room
    # for more than 6 digits after the dot: the scan is skipped.
    dot = text.find(".")
    if dot != -1 and len(text) - dot > 7:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            text = text[: dot + 7] + text[end:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RecordError(f"{field}: not an ISO-8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def text_or_none(value: Any) -> str | None:
    """Vendor strings with placeholders for 'nothing' ('', 'unknown', 'null', '<null>') become None."""
    if value.__class__ is str:  # the common case first: this runs dozens of times per record
        text: str = value.strip()
    elif value is None or isinstance(value, bool):
        return None
    else:
        text = str(value).strip()
    if not text or (len(text) <= 7 and text.lower() in _EMPTY_TEXT):
        return None
    return text


_EMPTY_TEXT = frozenset({"unknown", "null", "<null>", "none", "n/a"})


def lower_or_none(value: Any) -> str | None:
    text: str | None = text_or_none(value)
    return text.lower() if text is not None else None


def float_or_none(value: Any) -> float | None:
    if value.__class__ is float:  # the common case first
        number: float = value
        return number
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def int_or_none(value: Any) -> int | None:
    number = float_or_none(value)
    return int(number) if number is not None else None


MAX_ASN = 2**32 - 1  # AS numbers are 32-bit (RFC 6793)


def asn_or_none(value: Any) -> int | None:
    """An AS number, or None for anything outside 0..2^32-1 (an unbounded int would break the state
    encoders downstream, found by fuzzing)."""
    if value.__class__ is int:  # the common case first (exact: below 2^53, the float round trip is too)
        asn: int = value
        return asn if 0 <= asn <= MAX_ASN else None
    number = int_or_none(value)
    return number if number is not None and 0 <= number <= MAX_ASN else None


def bool_or_none(value: Any) -> bool | None:
    """True/False, or the strings 'true'/'false'; anything else ('unknown') is None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low == "true":
            return True
        if low == "false":
            return False
    return None


def mapping(value: Any) -> Record:
    """A nested object, or an empty one when the vendor wrote null or another type."""
    if value.__class__ is dict:  # what the JSON decoder gives; skips the slower ABC check
        return cast(Record, value)
    return value if isinstance(value, Mapping) else _EMPTY


_EMPTY: Record = {}


def items(value: Any) -> list[Any]:
    """A JSON array, or an empty one when the vendor wrote null or another type (never iterate a str)."""
    return value if value.__class__ is list else _NO_ITEMS


_NO_ITEMS: list[Any] = []


@functools.lru_cache(maxsize=65536)  # a tenant's addresses repeat; parsing one costs microseconds
def canonical_ip(text: str) -> str | None:
    """An IP address in its canonical text (IPv6 compressed, lowercase), None when not an address
    (sanitised samples put GUIDs and placeholders there)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


# An address with the port a collector or proxy wrote after it: "[2001:db8::1]:443" (RFC 3986),
# "1.2.3.4:1234", "1.2.3.4 port 1234" (sshd style). A bare IPv6 address ends in ":digits" too: that form
# is only tried with a dotted IPv4 address before the colon.
_WITH_PORT = re.compile(
    r"\[([^\]]+)\](?::\d{1,5})?|(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}|(\S+)\s+port\s+\d{1,5}", re.I
)


def ip_or_none(value: Any) -> str | None:
    """An IP address in its canonical text (``canonical_ip``), with a trailing port dropped; None for
    anything else (a host name, a placeholder)."""
    text = text_or_none(value)
    if text is None:
        return None
    found = canonical_ip(text)
    if found is not None:
        return found
    bare = _WITH_PORT.fullmatch(text)
    if bare is None:
        return None
    return canonical_ip(next(group for group in bare.groups() if group is not None))


# Vendors geolocate the client IP to a city or a country and publish no radius. A city-level fix is
# taken as good to ~50 km, which is what impossible travel needs to know before it trusts coordinates.
VENDOR_CITY_ACCURACY_KM = 50.0
VENDOR_COUNTRY_ACCURACY_KM = 500.0


def vendor_geo(
    *,
    lat: float | None,
    lon: float | None,
    country: str | None,
    region: str | None,
    city: str | None,
    asn: int | None,
    as_org: str | None = None,
    is_proxy: bool | None = None,
) -> Geo | None:
    """The place a vendor gives for an address: None when it names nothing; a radius from how precise
    the place is (city, else country), kept only with coordinates. 0,0 (the sea off Africa) is what
    Okta and Entra write when they have no fix: no coordinates."""
    if lat == 0.0 and lon == 0.0:
        lat = lon = None
    if lat is None and country is None and city is None and asn is None:
        return None
    accuracy = VENDOR_CITY_ACCURACY_KM if city else VENDOR_COUNTRY_ACCURACY_KM if country else None
    return Geo(
        lat=lat,
        lon=lon,
        country=country,
        region=region,
        city=city,
        accuracy_km=accuracy if lat is not None else None,
        asn=asn,
        as_org=as_org,
        is_proxy=is_proxy,
    )
