"""Advancing the shared identity profile by one event (after the detectors have seen it)."""

from __future__ import annotations

import hashlib

from pushguard.detect.base import SUCCESS_KINDS, append_bounded
from pushguard.model import Event, EventKind, IdentityProfile, LastPlace

MAX_PLACES = 24  # countries / ASNs / devices remembered per identity
MAX_IPS = 32
MAX_RING = 48
MAX_RECENT_IDS = 32
# Coordinates coarser than this (country centroids) are not a place to travel from.
PLACE_ACCURACY_LIMIT_KM = 200.0

_PROMPT_OUTCOMES_WITHOUT_SEND = frozenset({EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT})


def new_profile(identity: str) -> IdentityProfile:
    return IdentityProfile(identity=identity)


def id_hash(event_id: str) -> int:
    """A stable 64-bit hash of an event id (the profile keeps these, not the 36-byte ids: 9 bytes each
    in msgpack; a collision among an identity's last MAX_RECENT_IDS events is a 1 in 10^17 chance)."""
    return int.from_bytes(
        hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


def _remember(known: dict[str, int], key: str, ts: int, limit: int) -> None:
    if key in known:
        del known[key]  # re-insert: dicts keep insertion order, so the oldest stays first
    elif len(known) >= limit:
        del known[next(iter(known))]
    known[key] = ts


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
        profile.vendor_ids[event.provider.value] = subject.id
    kind = event.kind
    if kind is EventKind.PUSH_SENT:
        append_bounded(profile.prompts, second, MAX_RING)
    elif kind in _PROMPT_OUTCOMES_WITHOUT_SEND or kind is EventKind.FRAUD_REPORTED:
        append_bounded(profile.denials, second, MAX_RING)
    if kind in (EventKind.FACTORS_RESET, EventKind.PASSWORD_RESET, EventKind.BYPASS_ISSUED):
        append_bounded(profile.resets, second, MAX_RING)
    elif kind is EventKind.FACTOR_ENROLLED:
        append_bounded(profile.enrollments, second, MAX_RING)
    if kind in SUCCESS_KINDS:
        _learn_success(profile, event, ts, second)


def _learn_success(profile: IdentityProfile, event: Event, ts: float, second: int) -> None:
    """Only successful authentications teach what is normal: an attacker's failures must not."""
    if event.kind is EventKind.PUSH_APPROVED:
        append_bounded(profile.approvals, second, MAX_RING)
    append_bounded(profile.successes, second, MAX_RING)
    profile.last_success = ts
    if event.ip:
        _remember(profile.ips, event.ip, second, MAX_IPS)
    geo = event.geo
    if geo is not None:
        if geo.country:
            _remember(profile.countries, geo.country, second, MAX_PLACES)
        if geo.asn is not None:
            _remember(profile.asns, str(geo.asn), second, MAX_PLACES)
        if (
            geo.lat is not None
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
                ip=event.ip,
                event_id=event.event_id,
            )
    device = event.device
    if device is not None and device.id:
        _remember(profile.devices, device.id, second, MAX_PLACES)
