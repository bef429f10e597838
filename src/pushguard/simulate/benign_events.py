"""The rarer days of ordinary life: a trip abroad (hotel Wi-Fi, sometimes behind a hosting provider; the
phone roaming on the home carrier or on the hotel Wi-Fi), a lost phone and the helpdesk reset, a new
phone, a new hire's first day, the office rush at 9:00, and service accounts and workloads signing in
around the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.benign_session import session
from pushguard.simulate.common import jitter, token, upper_token
from pushguard.simulate.networks import HOTEL_HOSTING
from pushguard.simulate.places import (
    AZURE,
    OFFICES,
    PHONES,
    PLACES,
    TRAVEL_NETWORKS,
    Net,
    address,
    distance_km,
)
from pushguard.simulate.tenant import Phone, User, apps_for, helpdesk_net, home_net, net, pooled
from pushguard.simulate.world import World, local

FLIGHT_KMH = 850.0
NEW_HIRE_DAYS = 4  # a new hire's first days: everything about them is new


@dataclass(frozen=True, slots=True)
class Trip:
    day: int  # departure day
    back: int  # return day (>= the simulated days: not back within the period)
    dest: str
    depart: datetime  # UTC, after the morning's work at home
    arrive: datetime  # UTC: distance at airliner speed, plus airports
    depart_back: datetime
    home_again: datetime
    hotel: Net
    roaming: bool  # the phone stays on the home carrier

    def abroad(self, day: int) -> bool:
        return self.day < day <= self.back

    @property
    def behaviour(self) -> str:
        if self.roaming:
            return "roaming_phone"
        return "hotel_vpn" if self.hotel.network.kind == "hosting" else "travel"


def _flight(a: str | Net, b: str | Net) -> timedelta:
    first = PLACES[a] if isinstance(a, str) else a.place
    second = PLACES[b] if isinstance(b, str) else b.place
    return timedelta(hours=distance_km(first, second) / FLIGHT_KMH)


def plan_trip(world: World, user: User) -> Trip | None:
    rng, rates = world.rng, world.rates
    if world.days < 4 or rng.random() >= min(0.9, rates.trips_per_week * world.days / 7):
        return None
    first = max(1, user.joined_day + 1)
    if first > world.days - 2:
        return None
    dest = rng.choice([k for k in TRAVEL_NETWORKS if PLACES[k].cc != user.home.cc])
    day = rng.randint(first, world.days - 2)
    back = day + rng.randint(2, 6)
    depart = local(day, user.start_hour + rng.uniform(2.5, 4.0), user)
    arrive = depart + _flight(user.home.key, dest) + jitter(rng, 2.5 * 3600, 4 * 3600)
    if rng.random() < rates.hotel_hosting_share:
        network = rng.choice(HOTEL_HOSTING)
        hotel = Net(address(rng, network), PLACES[dest], network)
    else:
        hotel = net(rng, dest, TRAVEL_NETWORKS[dest])
    depart_back = local(back, user.start_hour + rng.uniform(2.5, 4.0), user, PLACES[dest].utc_offset_h)
    home_again = depart_back + _flight(dest, user.home.key) + jitter(rng, 2.5 * 3600, 4 * 3600)
    roaming = rng.random() < rates.roaming_share
    return Trip(day, back, dest, depart, arrive, depart_back, home_again, hotel, roaming)


def fly_out(world: World, user: User, trip: Trip) -> None:
    """Lands and signs in from the hotel: the speed stays below an airliner's."""
    when = trip.arrive + jitter(world.rng, 3600, 3 * 3600)
    if when < world.end:
        session(world, user.idps[0], user, when, trip.hotel, trip.roaming, 1)


def record_trip(world: World, user: User, trip: Trip) -> None:
    end = min(trip.home_again, world.end)
    if trip.depart < world.end:
        world.episode(user, trip.behaviour, trip.depart, end)


def familiar_place(world: World, user: User, day: int) -> Net:
    if user.office and day % 7 < 5:
        return pooled(world.rng, user.office, OFFICES[user.office])
    return home_net(user)


def _new_phone_object(world: World, user: User) -> None:
    rng = world.rng
    user.phone = Phone(
        rng.choice(PHONES), "DP" + upper_token(rng, 18), user.phone.number, "pfd" + token(rng, 17)
    )


def new_phone(world: World, user: User, day: int) -> None:
    """A new phone, enrolled at home (on a weekend, usually), then used."""
    rng = world.rng
    src = home_net(user)
    when = local(day, rng.uniform(10, 18), user)
    start = when
    _new_phone_object(world, user)
    for provider in user.idps:
        idp = world.idp(provider)
        app = apps_for(user, provider)[0]
        idp.quiet(user, when, src, app=app)
        idp.enroll(user, when + jitter(rng, 30, 200), src, phone_name=user.phone.name, attacker=False)
        when += jitter(rng, 240, 600)
        idp.attempt(user, when, src, Outcome.APPROVED, app=app, phone=src)
        when += jitter(rng, 60, 300)
    world.episode(user, "new_phone", start, when)


def lost_phone(world: World, user: User, day: int) -> None:
    """The phone is gone: the morning's prompts go unanswered, the helpdesk deletes the authenticator
    (and sometimes issues a temporary credential), the person enrolls a new phone from where they work."""
    rng, rates = world.rng, world.rates
    src = familiar_place(world, user, day)
    when = local(day, user.start_hour + rng.uniform(0, 1), user)
    start = when
    primary = user.idps[0]
    app = apps_for(user, primary)[0]
    for _ in range(rng.randint(1, 3)):
        world.idp(primary).attempt(user, when, src, Outcome.TIMEOUT, app=app, phone=None)
        when += jitter(rng, 60, 240)
    when += jitter(rng, 600, 3600)  # finds the phone is gone, calls the helpdesk
    _new_phone_object(world, user)
    for provider in user.idps:
        admin = world.tenant.helpdesk.get(provider)
        if admin is None or admin is user:
            continue
        idp = world.idp(provider)
        desk = helpdesk_net(rng, admin)
        if provider is Provider.OKTA and rng.random() < 0.5:
            idp.remove_factors(user, when, admin, desk)
        else:
            idp.delete_authenticator(user, when, admin, desk)
        when += jitter(rng, 30, 300)
        here = apps_for(user, provider)[0]
        if rng.random() < rates.temporary_credential:
            idp.issue_bypass(user, when, admin, desk)
            when += jitter(rng, 120, 1200)
            idp.use_bypass(user, when, src, app=here, attacker=False)
        else:
            when += jitter(rng, 120, 1200)
            idp.signin_to_enroll(user, when, src, app=here, attacker=False)
        when += jitter(rng, 30, 300)
        idp.enroll(user, when, src, phone_name=user.phone.name, attacker=False)
        when += jitter(rng, 60, 600)
        idp.attempt(user, when, src, Outcome.APPROVED, app=here, phone=src, answer_s=rng.uniform(3, 12))
        when += jitter(rng, 60, 300)
    world.episode(user, "lost_phone_reset", start, when)


def onboard(world: World, user: User) -> None:
    """A new hire's first day: a temporary credential from the helpdesk (Entra) or the password set
    at activation, the phone enrolled, the first approvals."""
    rng = world.rng
    day = user.joined_day
    src = familiar_place(world, user, day)
    when = local(day, user.start_hour + rng.uniform(0.5, 1.5), user)
    start = when
    for provider in user.idps:
        idp = world.idp(provider)
        admin = world.tenant.helpdesk.get(provider)
        app = apps_for(user, provider)[0]
        if provider is Provider.ENTRA and admin is not None and rng.random() < 0.6:
            issued = when - jitter(rng, 1800, 7200)
            start = min(start, issued)
            idp.issue_bypass(user, issued, admin, helpdesk_net(rng, admin))
            idp.use_bypass(user, when, src, app=app, attacker=False)
        else:
            idp.signin_to_enroll(user, when, src, app=app, attacker=False)
        when += jitter(rng, 30, 300)
        idp.enroll(user, when, src, phone_name=user.phone.name, attacker=False)
        when += jitter(rng, 60, 400)
        when = session(world, provider, user, when, src, None, rng.randint(1, 3)) + jitter(rng, 60, 600)
    world.episode(user, "new_hire", start, min(world.end, start + timedelta(days=NEW_HIRE_DAYS)))


def office_rushes(world: World) -> dict[tuple[str, int], Net]:
    """(office, weekday) → the one egress address everyone there signs in from at 9:00 that day."""
    rng = world.rng
    rushes: dict[tuple[str, int], Net] = {}
    for office, network in OFFICES.items():
        for day in range(world.days):
            if day % 7 < 5 and rng.random() < world.rates.office_rush:
                rushes[(office, day)] = pooled(rng, office, network, size=1)
    return rushes


def services(world: World) -> None:
    rng = world.rng
    for service in world.tenant.services:
        src = home_net(service)
        when = local(0, rng.uniform(0, 1), service, 0)
        while when < world.end:
            world.idp(service.idps[0]).service(service, when, src)
            when += jitter(rng, 50 * 60, 70 * 60)
    for sp_id, app_id, name in world.tenant.workloads:
        src = net(rng, "dublin", AZURE)
        when = local(0, rng.uniform(0, 2), world.tenant.services[0], 0)
        while when < world.end:
            world.entra.workload(sp_id, app_id, name, when, src)
            when += jitter(rng, 110 * 60, 130 * 60)
