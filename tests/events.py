"""Building canonical Events for detector tests (the parsers have their own tests)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pushguard.detect import Detector
from pushguard.model import Device, Event, EventKind, Factor, Finding, Geo, Principal, Provider
from pushguard.pipeline import Engine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)

HOME = Geo(
    lat=48.8566, lon=2.3522, country="France", city="Paris", accuracy_km=50.0, asn=3215, as_org="Orange"
)
ABROAD = Geo(
    lat=6.52, lon=3.38, country="Nigeria", city="Lagos", accuracy_km=50.0, asn=36873, as_org="Airtel"
)
OFFICE = Geo(
    lat=48.87, lon=2.33, country="France", city="Paris", accuracy_km=20.0, asn=5410, as_org="Bouygues"
)
COLLEAGUES = tuple(f"colleague{n}@corp.example" for n in range(5))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(
    kind: EventKind,
    seconds: float,
    *,
    user: str = "alice@corp.example",
    ip: str = "198.51.100.7",
    geo: Geo | None = HOME,
    provider: Provider = Provider.OKTA,
    factor: Factor | None = Factor.OKTA_VERIFY_PUSH,
    device_id: str | None = "dev-alice-laptop",
    actor: str | None = None,
    reason: str | None = None,
    responder_ip: str | None = None,
    responder_geo: Geo | None = None,
) -> Event:
    subject = Principal(id="00u" + user.split("@")[0], login=user)
    return Event(
        provider=provider,
        event_id=f"e{next(_ids):06d}",
        time=at(seconds),
        kind=kind,
        identity=user,
        subject=subject,
        actor=Principal(login=actor) if actor else subject,
        ip=ip,
        geo=geo,
        device=Device(id=device_id) if device_id else None,
        factor=factor,
        reason=reason,
        responder_ip=responder_ip,
        responder_geo=responder_geo,
    )


def daily_approvals(
    days: int = 12,
    *,
    hours: Sequence[float] = (0,),
    answer_after_s: float = 5.0,
    ip: str = "198.51.100.7",
    geo: Geo | None = HOME,
    device_id: str | None = "dev-alice-laptop",
) -> list[Event]:
    """The user's own history: on each of the ``days`` before T0, at each of ``hours`` after T0's time
    of day, a push sent and approved ``answer_after_s`` later from the same place and device."""
    events = []
    for day in range(1, days + 1):
        for hour in hours:
            start = -day * 86400 + hour * 3600
            for kind, offset in ((EventKind.PUSH_SENT, 0.0), (EventKind.PUSH_APPROVED, answer_after_s)):
                events.append(ev(kind, start + offset, ip=ip, geo=geo, device_id=device_id))
    return events


def office_colleagues(days: int = 12) -> list[Event]:
    """Five colleagues approving pushes at the office (192.0.2.0/24) on each of the ``days`` before T0:
    the office network, its operator (AS5410) and France become the organisation's (detect/org.py)."""
    events = []
    for day in range(1, days + 1):
        for n, user in enumerate(COLLEAGUES):
            ip, start = f"192.0.2.{10 + n}", -day * 86400 + 600 * n
            events.append(ev(EventKind.PUSH_SENT, start, user=user, ip=ip, geo=OFFICE, device_id=None))
            events.append(
                ev(EventKind.PUSH_APPROVED, start + 5, user=user, ip=ip, geo=OFFICE, device_id=None)
            )
    return events


def run_engine(events: Iterable[Event], detectors: Sequence[Detector[Any]]) -> list[Finding]:
    """The events in time order through an Engine with these detectors, then its finish: every finding
    revision produced."""
    engine = Engine(detectors=list(detectors))
    found: list[Finding] = []
    for event in sorted(events, key=lambda e: e.sort_key()):
        found.extend(engine.process(event))
    found.extend(engine.finish())
    return found


def colleagues(days: int = 3, geo: Geo | None = HOME, people: int = 5) -> list[Event]:
    """An organisation around the user: ``people`` colleagues each approving a push every day before T0
    from their own home address in ``geo``'s country, so the organisation knows that country (and so
    "a country nobody here uses" means something)."""
    events = []
    for day in range(1, days + 1):
        for n in range(people):
            start = -day * 86400 + 600 + n * 60
            ip = f"198.18.{n}.{10 + n}"
            events.append(
                ev(EventKind.PUSH_APPROVED, start, user=f"colleague{n}@corp.example", ip=ip, geo=geo)
            )
    return events
