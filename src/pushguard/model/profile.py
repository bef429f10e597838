"""The shared per-identity context every detector may read (DESIGN.md, "Shared context").

Compact by construction: bounded maps (least recently seen entry evicted) and short rings of timestamps,
so a busy identity costs the same as a quiet one. Times are epoch seconds taken from events, never the
clock. What the identity is familiar with (its addresses, networks, devices, browsers, its phone's
networks) is kept with counts and first/last seen, learnt from successful authentications only: a
familiar thing is one the person came back to, not one an attacker used once."""

from __future__ import annotations

import msgspec


class Seen(msgspec.Struct, array_like=True, gc=False):
    """How often and when something was part of a successful authentication (whole epoch seconds)."""

    count: int
    first: int
    last: int


class LastPlace(msgspec.Struct, kw_only=True, omit_defaults=True):
    ts: float
    lat: float
    lon: float
    accuracy_km: float
    country: str | None = None
    ip: str | None = None
    event_id: str = ""


class PlaceFix(msgspec.Struct, array_like=True, gc=False):
    """Where an address was located by a sign-in (audit records carry the address but no place).
    Coordinates in hundredths of a degree (about a kilometre: finer than any IP fix), radius in km:
    small integers keep the profile small."""

    ts: int
    lat100: int
    lon100: int
    accuracy_km: int
    country: str | None = None
    asn: int = 0  # the network operator the sign-in named (0: none)
    hosting: bool = False  # ... and whether it is hosting/VPN/proxy egress


# Bits of ``IdentityProfile.org``: what the organisation as a whole knows of the event's network. Set by
# the engine for the event being observed (from its organisation table), never stored.
ORG_IP = 1  # several colleagues succeeded from this address
ORG_NET = 2  # ... from this /24 (/64)
ORG_ASN = 4  # ... from this network operator
ORG_COUNTRY = 8  # ... from this country
ORG_TRUSTED = 16  # the configured allow-list names this network (office, secure web gateway)
ORG_MATURE = 32  # the organisation knows some countries at all (else "a country nobody uses" means nothing)


class IdentityProfile(msgspec.Struct, kw_only=True, omit_defaults=True):
    identity: str
    vendor_ids: dict[str, str] = {}  # provider → immutable vendor id
    first_seen: float = 0.0
    last_seen: float = 0.0
    events: int = 0
    # familiar places and things, from successes: key → [count, first seen, last seen]
    countries: dict[str, Seen] = {}
    asns: dict[str, Seen] = {}  # str keys: msgpack maps stay homogeneous
    ips: dict[str, Seen] = {}
    nets: dict[str, Seen] = {}  # /24 (IPv4) or /64 (IPv6) of the addresses
    devices: dict[str, Seen] = {}  # vendor device ids (registered device, Duo endpoint key)
    agents: dict[str, Seen] = {}  # "os|browser" of the requesting client
    phone_nets: dict[str, Seen] = {}  # the phone's networks when it approved: "AS<n>" and its /24
    active_days: int = 0  # UTC days with a success: how much there is to know about this identity
    # recent activity rings (whole epoch seconds, oldest first: 5 bytes each in msgpack, not 9)
    prompts: list[int] = []
    denials: list[int] = []
    approvals: list[int] = []
    successes: list[int] = []
    resets: list[int] = []
    enrollments: list[int] = []
    last_success: float | None = None
    last_place: LastPlace | None = None
    located: dict[str, PlaceFix] = {}  # recent addresses with a place, from any sign-in
    # findings: detector → [severity rank, detected_at]
    open_findings: dict[str, list[float]] = {}
    incident: str | None = None
    incident_last: float = 0.0
    recent_ids: list[int] = []  # replay guard: 64-bit hashes of the last event ids applied
    org: int = 0  # ORG_* bits for the event being observed (transient: the engine sets and clears it)

    def knows_ip(self, ip: str | None) -> bool:
        return ip is not None and ip in self.ips

    def knows_asn(self, asn: int | None) -> bool:
        return asn is not None and str(asn) in self.asns

    def knows_country(self, country: str | None) -> bool:
        return country is not None and country in self.countries

    def knows_device(self, device_id: str | None) -> bool:
        return device_id is not None and device_id in self.devices

    @property
    def has_history(self) -> bool:
        """Enough history that 'new' means something (one successful authentication seen)."""
        return bool(self.successes) or self.last_success is not None
