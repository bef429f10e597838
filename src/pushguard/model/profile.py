"""The shared per-identity context every detector may read (DESIGN.md, "Shared context").

Compact by construction: bounded maps (oldest entry evicted) and short rings of timestamps, so a busy
identity costs the same as a quiet one. Times are epoch seconds taken from events, never the clock."""

from __future__ import annotations

import msgspec


class LastPlace(msgspec.Struct, kw_only=True, omit_defaults=True):
    ts: float
    lat: float
    lon: float
    accuracy_km: float
    country: str | None = None
    ip: str | None = None
    event_id: str = ""


class IdentityProfile(msgspec.Struct, kw_only=True, omit_defaults=True):
    identity: str
    vendor_ids: dict[str, str] = {}  # provider → immutable vendor id
    first_seen: float = 0.0
    last_seen: float = 0.0
    events: int = 0
    # known places and things: value = last seen (epoch seconds)
    countries: dict[str, int] = {}
    asns: dict[str, int] = {}  # str keys: msgpack maps stay homogeneous
    ips: dict[str, int] = {}
    devices: dict[str, int] = {}
    # recent activity rings (whole epoch seconds, oldest first: 5 bytes each in msgpack, not 9)
    prompts: list[int] = []
    denials: list[int] = []
    approvals: list[int] = []
    successes: list[int] = []
    resets: list[int] = []
    enrollments: list[int] = []
    last_success: float | None = None
    last_place: LastPlace | None = None
    # findings: detector → [severity rank, detected_at]
    open_findings: dict[str, list[float]] = {}
    incident: str | None = None
    incident_last: float = 0.0
    recent_ids: list[int] = []  # replay guard: 64-bit hashes of the last event ids applied

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
