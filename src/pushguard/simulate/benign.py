"""Benign life in the tenant: the look-alikes every detector has to live with, at the rates this seed
drew (``rates.BenignRates``).

Working hours in each person's time zone: several apps each morning with prompts (at the office, at
home, through the corporate VPN, through a secure web gateway abroad on alternate days, through a
consumer VPN), an afternoon re-authentication, evening sign-ins; flaky phones that miss several prompts,
fat fingers that deny once or twice, mistyped passwords; the office rush at 9:00 from one egress; trips
at plausible speeds (hotel Wi-Fi, the phone roaming on the home carrier); new phones, lost phones reset
by the helpdesk, new hires; admins doing admin work; service accounts signing in around the clock.
Each look-alike is written down as a benign episode (``World.episode``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.benign_events import (
    Trip,
    fly_out,
    lost_phone,
    new_phone,
    office_rushes,
    onboard,
    plan_trip,
    record_trip,
    services,
)
from pushguard.simulate.benign_session import session
from pushguard.simulate.common import jitter
from pushguard.simulate.places import OFFICES, PLACES, VPN, VPN_NODES, Net
from pushguard.simulate.tenant import User, home_net, pooled
from pushguard.simulate.world import World, local


class _Day:
    """Where a person works from today, and the look-alike that makes it (if any)."""

    __slots__ = ("behaviour", "rush", "src")

    def __init__(self, src: Net, behaviour: str | None = None, rush: bool = False) -> None:
        self.src = src
        self.behaviour = behaviour
        self.rush = rush


def _where(world: World, user: User, day: int, rushes: dict[tuple[str, int], Net]) -> _Day:
    rng = world.rng
    weekday = day % 7 < 5
    if user.gateway is not None:
        if (day + user.gateway_parity) % 2 == 0:  # gateway one day, home network the next
            node, vendor = user.gateway
            return _Day(pooled(rng, node, vendor, size=6), "far_gateway")
        return _Day(home_net(user))
    if user.office and weekday:
        rush = rushes.get((user.office, day))
        if rng.random() < (0.9 if rush is not None else 0.6):
            if rush is not None:
                return _Day(rush, "office_rush", rush=True)
            return _Day(pooled(rng, user.office, OFFICES[user.office]))
    if user.consumer_vpn is not None and rng.random() < world.rates.consumer_vpn_day:
        exit_key, provider = user.consumer_vpn
        return _Day(pooled(rng, exit_key, provider, size=12), "consumer_vpn")
    if user.vpn and rng.random() < 0.5:
        return _Day(pooled(rng, VPN_NODES[user.home.key], VPN, size=8))
    return _Day(home_net(user))


def _day(
    world: World,
    user: User,
    day: int,
    trip: Trip | None,
    rushes: dict[tuple[str, int], Net],
    rush_windows: dict[tuple[str, int], list[datetime]],
) -> None:
    rng, rates = world.rng, world.rates
    weekday = day % 7 < 5
    abroad = trip is not None and trip.abroad(day)
    if trip is not None and abroad:
        today = _Day(trip.hotel)
        offset = PLACES[trip.dest].utc_offset_h
        roaming: bool | None = trip.roaming
    else:
        today = _where(world, user, day, rushes)
        offset = user.tz
        roaming = None
    src = today.src
    if not weekday and rng.random() > 0.15:
        return
    if today.rush:
        start = local(day, 9.0 + rng.uniform(-0.15, 0.25), user, offset)
    else:
        start = local(day, user.start_hour + rng.gauss(0, 0.3) + (0 if weekday else 10), user, offset)
    if trip is not None and abroad and start < trip.arrive + timedelta(hours=3):
        return  # still flying, or asleep after the flight
    if trip is not None and day > trip.back and start < trip.home_again + timedelta(hours=3):
        return  # flying home
    primary = user.idps[0]
    apps = rng.randint(2, 5) if weekday else 1
    end = session(world, primary, user, start, src, roaming, apps)
    for provider in user.idps[1:]:  # the second IdP: Duo in front of the VPN / RDP, or the other SSO
        end = session(world, provider, user, end + jitter(rng, 60, 900), src, roaming, 1)
    if today.rush:
        world.episode(user, "office_rush", start, end)
        window = rush_windows.setdefault((f"ip:{src.ip}", day), [start, end])
        window[0], window[1] = min(window[0], start), max(window[1], end)
    last = end
    if user.admin and weekday and rng.random() < 0.2 and primary is not Provider.DUO:
        when = end + jitter(rng, 300, 3600)
        world.idp(primary).privileged(user, when, src, action=rng.randint(0, 5))
        world.episode(user, "admin_work", when, when, primary)
    if trip is not None and day == trip.day:
        if end < trip.depart:
            fly_out(world, user, trip)
    elif trip is not None and day == trip.back:
        pass  # the afternoon is the flight home
    elif weekday:
        if rng.random() < 0.4:  # after lunch
            when = local(day, rng.uniform(13.0, 14.5), user, offset)
            last = session(world, primary, user, when, src, roaming, 1)
        for _ in range(rng.randint(0, 3)):
            world.idp(primary).quiet(
                user, local(day, rng.uniform(10, 17.5), user, offset), src, app=rng.choice(user.apps)
            )
        if rng.random() < rates.evening:  # evening, at home
            evening = src if abroad else home_net(user)
            when = local(day, rng.uniform(19.5, 22.5), user, offset)
            session(world, primary, user, when, evening, roaming, 1)
    if today.behaviour in ("far_gateway", "consumer_vpn"):
        world.episode(user, today.behaviour, start, last)


def _special_day(world: World, user: User, per_week: float, weekend: bool) -> int | None:
    rng = world.rng
    if rng.random() >= min(0.9, per_week * world.days / 7):
        return None
    first = max(1, user.joined_day + 1)
    days = [d for d in range(first, world.days) if (d % 7 >= 5) == weekend]
    return rng.choice(days) if days else None


def simulate_benign(world: World, users: list[User], with_services: bool = True) -> None:
    """Everyone's ordinary life over every simulated day (history included); ``users`` are the people
    (campaign victims included: they live too)."""
    rates = world.rates
    rushes = office_rushes(world)
    rush_windows: dict[tuple[str, int], list[datetime]] = {}
    for user in users:
        trip = plan_trip(world, user)
        lost = _special_day(world, user, rates.lost_phones_per_week, weekend=False)
        fresh = _special_day(world, user, rates.new_phones_per_week, weekend=True) if lost is None else None
        if user.joined_day > 0:
            onboard(world, user)
        for day in range(user.joined_day + (1 if user.joined_day > 0 else 0), world.days):
            if day == lost:
                lost_phone(world, user, day)
                continue
            _day(
                world, user, day, trip if trip is not None and day >= trip.day else None, rushes, rush_windows
            )
            if day == fresh:
                new_phone(world, user, day)
        if trip is not None:
            record_trip(world, user, trip)
    for (identity, _), (start, end) in sorted(rush_windows.items()):
        world.episode(identity, "office_rush", start, end)
    if with_services:
        services(world)
