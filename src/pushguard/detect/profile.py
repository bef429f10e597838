"""Advancing the shared identity profile by one event (after the detectors have seen it)."""

from __future__ import annotations

import hashlib

from pushguard.detect.base import SUCCESS_KINDS, append_bounded
from pushguard.detect.familiarity import agent_key, requester_ip
from pushguard.detect.org import net_of
from pushguard.model import Event, EventKind, Geo, GeoSource, IdentityProfile, LastPlace, PlaceFix, Seen

MAX_PLACES = 16  # countries / ASNs / networks / devices / browsers remembered per identity
MAX_IPS = 12
MAX_RING = 48
MAX_RECENT_IDS = 32
MAX_LOCATED = 3  # recent located addresses (for records that carry an address and no place)
LOCATED_FOR_S = 12 * 3600  # how long a sign-in's place stands for its address
# A success within this long of a medium-or-worse finding that says "someone is winning pushes or
# factors" teaches nothing about what is familiar: the attacker's approval must not make the attacker's
# network "known" the next night. Findings about *where* a success came from (a mismatch, travel, a new
# context) do not stop learning: they recur for a gateway abroad or a trip, and a place the person keeps
# coming back to has to become theirs.
QUARANTINE_S = 12 * 3600
_MEDIUM_RANK = 2.0
_COMPROMISE_DETECTORS = frozenset(
    {
        "push_bombing",
        "push_fatigue",
        "approval_after_denials",
        "fraud_report",
        "enrollment_abuse",
        "reset_enroll_chain",
        "push_spray",
        "push_spray_asn",
    }
)
# Coordinates coarser than this (country centroids) are not a place to travel from.
PLACE_ACCURACY_LIMIT_KM = 200.0

_PROMPT_OUTCOMES_WITHOUT_SEND = frozenset({EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT})
_DAY = 86_400


def new_profile(identity: str) -> IdentityProfile:
    return IdentityProfile(identity=identity)


def id_hash(event_id: str) -> int:
    """A stable 64-bit hash of an event id (the profile keeps these, not the 36-byte ids: 9 bytes each
    in msgpack; a collision among an identity's last MAX_RECENT_IDS events is a 1 in 10^17 chance)."""
    return int.from_bytes(
        hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


def remember(known: dict[str, Seen], key: str, ts: int, limit: int) -> None:
    """Count ``key`` as seen at ``ts``; the least recently seen entry makes room when full."""
    seen = known.pop(key, None)  # re-insert: dicts keep insertion order, so the stalest stays first
    if seen is None:
        if len(known) >= limit:
            del known[next(iter(known))]
        seen = Seen(0, ts, ts)
    seen.count += 1
    seen.first = min(seen.first, ts)
    seen.last = max(seen.last, ts)
    known[key] = seen


def update_profile(profile: IdentityProfile, event: Event, hashed: int) -> None:
    """``hashed``: ``id_hash(event.event_id)``, which the caller computed for the replay check."""
    ts = event.ts
    second = int(ts)  # rings and last-seen maps keep whole seconds: 5 bytes in msgpack, not 9
    if profile.events == 0 or ts < profile.first_seen:
        profile.first_seen = ts
    if ts > profile.last_seen:
        profile.last_seen = ts
    profile.events += 1
    append_bounded(profile.recent_ids, hashed, MAX_RECENT_IDS)
    subject = event.subject
    # the provider (a str enum) looks up its own value; the plain text is stored
    if subject is not None and subject.id and profile.vendor_ids.get(event.provider) != subject.id:
        profile.vendor_ids[str(event.provider)] = subject.id
    kind = event.kind
    if kind is EventKind.PUSH_SENT:
        append_bounded(profile.prompts, second, MAX_RING)
    elif kind in _PROMPT_OUTCOMES_WITHOUT_SEND or kind is EventKind.FRAUD_REPORTED:
        append_bounded(profile.denials, second, MAX_RING)
    if kind in (EventKind.FACTORS_RESET, EventKind.PASSWORD_RESET, EventKind.BYPASS_ISSUED):
        append_bounded(profile.resets, second, MAX_RING)
    elif kind is EventKind.FACTOR_REMOVED and event.by_other:
        append_bounded(profile.resets, second, MAX_RING)  # an admin deleting the factor is a reset
    elif kind is EventKind.FACTOR_ENROLLED:
        append_bounded(profile.enrollments, second, MAX_RING)
    geo = event.geo
    if event.ip and geo is not None and geo.lat is not None and geo.lon is not None and requester_ip(event):
        _locate(profile, event.ip, geo, geo.lat, geo.lon, second)
    if kind in SUCCESS_KINDS:
        _learn_success(profile, event, ts, second)


def _locate(profile: IdentityProfile, ip: str, geo: Geo, lat: float, lon: float, second: int) -> None:
    if geo.source is GeoSource.SIGNIN or geo.accuracy_km is None or geo.accuracy_km > PLACE_ACCURACY_LIMIT_KM:
        return  # a borrowed place, or a country centroid: nothing to lend
    located = profile.located
    located.pop(ip, None)
    if len(located) >= MAX_LOCATED:
        del located[next(iter(located))]
    hosting = bool(geo.is_hosting or geo.is_proxy)
    located[ip] = PlaceFix(
        second, round(lat * 100), round(lon * 100), round(geo.accuracy_km), geo.country, geo.asn or 0, hosting
    )


def place_of(profile: IdentityProfile, ip: str | None, ts: float) -> PlaceFix | None:
    """Where a recent sign-in of this identity located ``ip`` (within LOCATED_FOR_S of ``ts``)."""
    if not ip:
        return None
    fix = profile.located.get(ip)
    if fix is None or abs(ts - fix.ts) > LOCATED_FOR_S:
        return None
    return fix


def _learn_success(profile: IdentityProfile, event: Event, ts: float, second: int) -> None:
    """Only successful authentications teach what is normal: an attacker's failures must not."""
    if event.kind is EventKind.PUSH_APPROVED:
        append_bounded(profile.approvals, second, MAX_RING)
    last = profile.last_success
    if last is None or int(last) // _DAY != second // _DAY:
        profile.active_days += 1
    append_bounded(profile.successes, second, MAX_RING)
    profile.last_success = ts
    ip = requester_ip(event)
    geo = event.geo if ip else None
    if (
        geo is not None
        and geo.lat is not None
        and geo.lon is not None
        and geo.accuracy_km is not None
        and geo.accuracy_km <= PLACE_ACCURACY_LIMIT_KM
    ):
        profile.last_place = LastPlace(
            ts=ts,
            lat=geo.lat,
            lon=geo.lon,
            accuracy_km=geo.accuracy_km,
            country=geo.country,
            ip=ip,
            event_id=event.event_id,
        )
    if _under_suspicion(profile, ts):
        return  # where it happened is kept (last_place), what it used is not learnt as familiar
    if event.kind is EventKind.PUSH_APPROVED:
        _learn_phone(profile, event, second)
    if ip:
        remember(profile.ips, ip, second, MAX_IPS)
        net = net_of(ip)
        if net:
            remember(profile.nets, net, second, MAX_PLACES)
    if geo is not None:
        if geo.country:
            remember(profile.countries, geo.country, second, MAX_PLACES)
        if geo.asn is not None:
            remember(profile.asns, str(geo.asn), second, MAX_PLACES)
    device = event.device
    if device is not None:
        if device.id:
            remember(profile.devices, device.id, second, MAX_PLACES)
        agent = agent_key(device.os, device.browser)
        if agent:
            remember(profile.agents, agent, second, MAX_PLACES)


def _under_suspicion(profile: IdentityProfile, ts: float) -> bool:
    return any(
        entry[0] >= _MEDIUM_RANK and 0.0 <= ts - entry[1] <= QUARANTINE_S
        for detector, entry in profile.open_findings.items()
        if len(entry) >= 2 and detector in _COMPROMISE_DETECTORS
    )


def _learn_phone(profile: IdentityProfile, event: Event, second: int) -> None:
    """The networks the phone answers from (its carrier, the home Wi-Fi): where the person really is."""
    phone = event.responder_geo
    if phone is not None and phone.asn is not None:
        remember(profile.phone_nets, f"AS{phone.asn}", second, MAX_PLACES)
    if event.responder_ip and event.responder_ip != event.ip:
        net = net_of(event.responder_ip)
        if net:
            remember(profile.phone_nets, net, second, MAX_PLACES)
