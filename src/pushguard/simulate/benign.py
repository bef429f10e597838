"""Benign life in the tenant: the look-alikes every detector has to live with.

Working hours in each user's time zone, several apps each morning with approved prompts (at the office,
at home, or through the corporate cloud VPN), an afternoon re-authentication, occasional fat-finger
denials and missed pushes followed by an approval, mistyped passwords, evening sign-ins, trips at
plausible speeds to new countries (phone on hotel Wi-Fi or roaming on the home carrier), new phones
enrolled on a weekend, lost phones reset by the helpdesk and re-enrolled, admins doing admin work, and
service accounts signing in around the clock without anyone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.common import jitter, token, upper_token
from pushguard.simulate.places import (
    AZURE,
    OFFICES,
    PHONES,
    PLACES,
    TRAVEL_NETWORKS,
    VPN,
    VPN_NODES,
    Net,
    Place,
)
from pushguard.simulate.tenant import Phone, User, apps_for, helpdesk_net, home_net, net, pooled
from pushguard.simulate.world import World, local

FLIGHT_KMH = 850.0


@dataclass(frozen=True, slots=True)
class Trip:
    day: int  # departure day
    dest: str
    depart: datetime  # UTC, after the morning's work at home
    arrive: datetime  # UTC: distance at airliner speed, plus airports


def distance_km(a: Place, b: Place) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _phone_net(world: World, user: User, src: Net, traveling: bool) -> Net:
    rng = world.rng
    if traveling:
        return src if rng.random() < 0.75 else net(rng, user.home.key, user.mobile)  # roaming: home carrier
    if src.network.kind in ("isp", "office") and rng.random() < 0.6:
        return src  # on the same Wi-Fi as the laptop
    return net(rng, user.home.key, user.mobile)


def _prompt(
    world: World, provider: Provider, user: User, when: datetime, src: Net, app: str, phone: Net
) -> datetime:
    """One legitimate prompt, with the occasional miss or fat finger before the approval."""
    rng = world.rng
    idp = world.idp(provider)
    roll = rng.random()
    if roll < 0.05:  # phone out of reach: one or two unanswered, then approved
        for _ in range(rng.randint(1, 2)):
            idp.attempt(user, when, src, Outcome.TIMEOUT, app=app, phone=phone)
            when += jitter(rng, 70, 200)
    elif roll < 0.07:  # fat finger: denied, asked again, approved
        idp.attempt(user, when, src, Outcome.DENIED, app=app, phone=phone, answer_s=rng.uniform(2, 6))
        when += jitter(rng, 15, 60)
    elif roll < 0.075 and user.number_match:  # picked the wrong number
        idp.attempt(user, when, src, Outcome.WRONG_NUMBER, app=app, phone=phone, answer_s=rng.uniform(3, 9))
        when += jitter(rng, 15, 50)
    idp.attempt(user, when, src, Outcome.APPROVED, app=app, phone=phone, answer_s=rng.uniform(3, 20))
    return when + jitter(rng, 20, 40)


def _session(
    world: World, provider: Provider, user: User, when: datetime, src: Net, traveling: bool, apps: int
) -> datetime:
    """A sign-in with its prompts, then apps opened on the same session."""
    rng = world.rng
    idp = world.idp(provider)
    apps_here = apps_for(user, provider)
    app = rng.choice(apps_here)
    if rng.random() < 0.03:
        idp.password_failure(user, when, src, app=app, attacker=False)
        when += jitter(rng, 8, 40)
    if provider is Provider.ENTRA and rng.random() < 0.3:
        world.entra.interrupt(user, when, src, app=app)
        when += jitter(rng, 1, 5)
    phone = _phone_net(world, user, src, traveling)
    when = _prompt(world, provider, user, when, src, app, phone)
    for _ in range(apps - 1):
        when += jitter(rng, 20, 300)
        other = rng.choice(apps_here)
        if rng.random() < 0.35:  # this app's policy asks again
            when = _prompt(world, provider, user, when, src, other, phone)
        else:
            idp.quiet(user, when, src, app=other)
    return when


def _where(world: World, user: User, day: int) -> Net:
    rng = world.rng
    if user.office and day % 7 < 5 and rng.random() < 0.6:
        return pooled(rng, user.office, OFFICES[user.office])
    if user.vpn and rng.random() < 0.5:
        return pooled(rng, VPN_NODES[user.home.key], VPN, size=8)
    return home_net(user)


def _plan_trip(world: World, user: User) -> Trip | None:
    rng = world.rng
    if world.days < 3 or rng.random() >= 0.05 * world.days / 7:
        return None
    dest = rng.choice([k for k in TRAVEL_NETWORKS if k != user.home.key])
    day = rng.randint(1, world.days - 2)
    depart = local(day, user.start_hour + rng.uniform(2.5, 4.0), user)
    hours = distance_km(user.home, PLACES[dest]) / FLIGHT_KMH + rng.uniform(2.5, 4.0)
    return Trip(day, dest, depart, depart + timedelta(hours=hours))


def _day(world: World, user: User, day: int, trip: Trip | None) -> None:
    rng = world.rng
    weekday = day % 7 < 5
    abroad = trip is not None and day > trip.day
    if abroad and trip is not None:
        dest = PLACES[trip.dest]
        src = net(rng, trip.dest, TRAVEL_NETWORKS[trip.dest])
        offset = dest.utc_offset_h
    else:
        src = _where(world, user, day)
        offset = user.tz
    if not weekday and rng.random() > 0.15:
        return
    primary = user.idps[0]
    start = local(day, user.start_hour + rng.gauss(0, 0.3) + (0 if weekday else 10), user, offset)
    if abroad and trip is not None and start < trip.arrive + timedelta(hours=3):
        return  # still flying, or asleep after the flight
    apps = rng.randint(2, 5) if weekday else 1
    end = _session(world, primary, user, start, src, abroad, apps)
    for provider in user.idps[1:]:  # Duo in front of the VPN / RDP
        end = _session(world, provider, user, end + jitter(rng, 60, 900), src, abroad, 1)
    if user.admin and weekday and rng.random() < 0.2 and primary is not Provider.DUO:
        world.idp(primary).privileged(user, end + jitter(rng, 300, 3600), src, action=rng.randint(0, 5))
    if trip is not None and day == trip.day:
        if end < trip.depart:
            _travel(world, user, trip)
        return
    if not weekday:
        return
    if rng.random() < 0.4:  # after lunch
        _session(world, primary, user, local(day, rng.uniform(13.0, 14.5), user, offset), src, abroad, 1)
    for _ in range(rng.randint(0, 3)):
        world.idp(primary).quiet(
            user, local(day, rng.uniform(10, 17.5), user, offset), src, app=rng.choice(user.apps)
        )
    if rng.random() < 0.1:  # evening, at home
        evening = src if abroad else home_net(user)
        _session(world, primary, user, local(day, rng.uniform(19.5, 22.5), user, offset), evening, abroad, 1)


def _travel(world: World, user: User, trip: Trip) -> None:
    """Flies, lands, signs in from the hotel: the speed stays below an airliner's."""
    rng = world.rng
    when = trip.arrive + jitter(rng, 3600, 3 * 3600)
    if when >= world.end:
        return
    hotel = net(rng, trip.dest, TRAVEL_NETWORKS[trip.dest])
    _session(world, user.idps[0], user, when, hotel, True, 1)


def _new_phone(world: World, user: User) -> None:
    """A new phone, enrolled at home on a weekend, then used."""
    rng = world.rng
    weekend = [d for d in range(world.days) if d % 7 >= 5] or [world.days - 1]
    day = rng.choice(weekend)
    src = home_net(user)
    when = local(day, rng.uniform(10, 18), user)
    user.phone = Phone(
        rng.choice(PHONES), "DP" + upper_token(rng, 18), user.phone.number, "pfd" + token(rng, 17)
    )
    for provider in user.idps:
        idp = world.idp(provider)
        app = apps_for(user, provider)[0]
        idp.quiet(user, when, src, app=app)
        idp.enroll(user, when + jitter(rng, 30, 200), src, phone_name=user.phone.name, attacker=False)
        when += jitter(rng, 240, 600)
        idp.attempt(user, when, src, Outcome.APPROVED, app=app, phone=src)
        when += jitter(rng, 60, 300)


def _lost_phone(world: World, user: User) -> None:
    """Phone lost: the helpdesk removes the factors (and issues a temporary credential), the user
    signs in with it from where they work and enrolls the new phone."""
    rng = world.rng
    provider = user.idps[0]
    admin = world.tenant.helpdesk.get(provider)
    if admin is None or admin is user:
        return
    day = rng.choice([d for d in range(1, world.days) if d % 7 < 5] or [world.days - 1])
    when = local(day, rng.uniform(9.5, 16), user)
    idp = world.idp(provider)
    desk = helpdesk_net(rng, admin)
    idp.remove_factors(user, when, admin, desk)
    idp.issue_bypass(user, when + jitter(rng, 60, 300), admin, desk)
    src = _where(world, user, day)
    when += jitter(rng, 600, 2400)
    idp.use_bypass(user, when, src, app=user.apps[0], attacker=False)
    user.phone = Phone(
        rng.choice(PHONES), "DP" + upper_token(rng, 18), user.phone.number, "pfd" + token(rng, 17)
    )
    idp.enroll(user, when + jitter(rng, 60, 300), src, phone_name=user.phone.name, attacker=False)
    idp.attempt(user, when + jitter(rng, 400, 900), src, Outcome.APPROVED, app=user.apps[0], phone=src)


def _service(world: World, user: User) -> None:
    rng = world.rng
    src = home_net(user)
    when = local(0, rng.uniform(0, 1), user, 0)
    while when < world.end:
        world.idp(user.idps[0]).service(user, when, src)
        when += jitter(rng, 50 * 60, 70 * 60)


def simulate_benign(world: World, users: list[User]) -> None:
    """Everyone's ordinary week; ``users`` are the people (campaign victims included: they live too)."""
    rng = world.rng
    for user in users:
        trip = _plan_trip(world, user)
        for day in range(world.days):
            _day(world, user, day, trip if trip is not None and day >= trip.day else None)
        roll = rng.random()
        if roll < 0.02 * world.days / 7 + 0.01:
            _new_phone(world, user)
        elif roll < 0.035 * world.days / 7 + 0.015:
            _lost_phone(world, user)
    for service in world.tenant.services:
        _service(world, service)
    for sp_id, app_id, name in world.tenant.workloads:
        src = net(rng, "dublin", AZURE)
        when = local(0, rng.uniform(0, 2), world.tenant.services[0], 0)
        while when < world.end:
            world.entra.workload(sp_id, app_id, name, when, src)
            when += jitter(rng, 110 * 60, 130 * 60)
