"""Labeled attacks on push MFA: the prompt-driven kinds (bombing, fatigue, denials then approval, fraud
report, requester far from the responder). The account-driven kinds are in ``campaigns_account``, the
sprays in ``campaigns_spray``.

Every campaign comes from an attacker who holds the victim's password. Where from is drawn per campaign
at the seed's shares (``rates.AttackRates``): a residential proxy on an ISP of the victim's own country,
a fresh VPS in that country, or hosting, VPN or mobile networks abroad. The victim's phone stays with
the victim. Sizes and spacings are drawn from wide intervals: a bombing is 3 to 20 pushes, seconds or
minutes apart; fatigue is a prompt every half hour through a night, or a few a day for days."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome, Written
from pushguard.simulate.common import jitter
from pushguard.simulate.networks import fresh_vps, residential_proxy
from pushguard.simulate.places import ATTACKER_NETWORKS, PLACES, Net, distance_km
from pushguard.simulate.tenant import User, apps_for, home_net, net
from pushguard.simulate.world import World, local

T_MFA = "T1621"  # Multi-Factor Authentication Request Generation
T_VALID = "T1078"  # Valid Accounts
T_CLOUD = "T1078.004"  # Valid Accounts: Cloud Accounts
T_DEVICE = "T1098.005"  # Account Manipulation: Device Registration
T_MANIP = "T1098.001"  # Account Manipulation: Additional Cloud Credentials
T_SPRAY = "T1110.003"  # Brute Force: Password Spraying
T_IMPERSONATE = "T1656"  # Impersonation (of the user, to the helpdesk)

RESIDENTIAL = "residential"
LOCAL_VPS = "local_vps"
FOREIGN = "foreign"


@dataclass(slots=True)
class Run:
    """One campaign as it is being written."""

    kind: str
    provider: Provider
    identity: str
    techniques: list[str]
    written: Written = field(default_factory=Written)
    ips: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    access: bool = False
    infrastructure: str = FOREIGN
    context: list[str] = field(default_factory=list)  # the operation's events that are not this campaign's

    def add(self, written: Written, src: Net | None = None) -> Written:
        self.written.extend(written)
        if src is not None and src.ip not in self.ips:
            self.ips.append(src.ip)
        return written


def attacker_net(world: World, victim: User | None = None, far_km: float = 0.0) -> Net:
    """An address on attacker infrastructure abroad: away from the victim's country (and ``far_km``)."""
    rng = world.rng
    choices = [
        (place, network)
        for place, network in ATTACKER_NETWORKS
        if victim is None
        or (PLACES[place].cc != victim.home.cc and distance_km(victim.home, PLACES[place]) >= far_km)
    ]
    place, network = rng.choice(choices)
    return net(rng, place, network)


def attacker_source(world: World, victim: User, run: Run) -> Net:
    """Where this campaign comes from, at the seed's shares (local = the victim's country); recorded on
    the run."""
    rng, rates = world.rng, world.attacks
    roll = rng.random()
    country = victim.home.cc
    if roll < rates.residential_share:
        run.infrastructure = RESIDENTIAL
        return residential_proxy(rng, country)
    if roll < rates.residential_share + rates.local_vps_share:
        found = fresh_vps(rng, country)
        if found is not None:
            run.infrastructure = LOCAL_VPS
            return found
    run.infrastructure = FOREIGN
    return attacker_net(world, victim)


def victim_phone(world: World, victim: User) -> Net:
    return home_net(victim) if world.rng.random() < 0.7 else net(world.rng, victim.home.key, victim.mobile)


def attack_day(world: World, margin_days: int = 0) -> int:
    """A day of the scored period (``margin_days`` left before its end)."""
    return world.rng.randint(
        world.first_attack_day, max(world.first_attack_day, world.days - 1 - margin_days)
    )


def attack_time(world: World, victim: User, night: bool | None = None) -> datetime:
    rng = world.rng
    day = attack_day(world)
    if night is None:
        night = rng.random() < 0.6
    hour = rng.uniform(22.0, 25.5) if night else rng.uniform(6.5, 17.5)
    when = max(local(day, hour, victim), world.scored_start + jitter(rng, 600, 3600))
    return min(when, world.end - jitter(rng, 4 * 3600, 5 * 3600))


def _refusal(world: World, victim: User, provider: Provider, index: int) -> Outcome:
    rng = world.rng
    if provider is Provider.DUO and index >= 6 and rng.random() < 0.25:
        return Outcome.BLOCKED  # Duo's own rate limit
    roll = rng.random()
    if victim.number_match and roll < 0.15:
        return Outcome.WRONG_NUMBER
    return Outcome.DENIED if roll < 0.45 else Outcome.TIMEOUT


def bombing(world: World, victim: User, provider: Provider, approve: bool) -> Run:
    """A burst of prompts; the victim gives in, or rides it out."""
    rng, rates = world.rng, world.attacks
    kind = "push_bombing_approved" if approve else "push_bombing_ridden_out"
    run = Run(kind, provider, victim.login, [T_MFA, T_VALID] if approve else [T_MFA])
    idp = world.idp(provider)
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    when = attack_time(world, victim)
    count = rng.randint(*rates.bombing_pushes)
    low, high = rates.bombing_gap_s
    base = rng.uniform(low, high)
    gap = (base, base + rng.uniform(5, high))  # this campaign's own rhythm inside the seed's range
    app = rng.choice(apps_for(victim, provider))
    for index in range(count):
        last = approve and index == count - 1
        outcome = Outcome.APPROVED if last else _refusal(world, victim, provider, index)
        run.add(
            idp.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(3, 25)
            ),
            src,
        )
        when += jitter(rng, *gap)
    run.access = approve
    return run


def low_and_slow(world: World, victim: User, provider: Provider) -> Run:
    """Fatigue: a prompt every 20-90 minutes through a night, or two or three a day over several days
    at working hours (where a missed prompt looks like any other)."""
    rng = world.rng
    run = Run("low_and_slow", provider, victim.login, [T_MFA])
    idp = world.idp(provider)
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    approve = rng.random() < world.attacks.give_in
    app = rng.choice(apps_for(victim, provider))
    spread = world.days - world.first_attack_day >= 4 and rng.random() < 0.4
    moments: list[datetime] = []
    if spread:
        first = attack_day(world, margin_days=3)
        for day in range(first, first + rng.randint(2, 4)):
            for _ in range(rng.randint(1, 3)):
                moments.append(local(day, rng.uniform(8.0, 18.0), victim))
    else:
        day = attack_day(world, margin_days=1)
        when = max(local(day, rng.uniform(-1.5, 1.0), victim), world.scored_start + jitter(rng, 600, 3600))
        for _ in range(rng.randint(4, 12)):
            moments.append(when)
            when += jitter(rng, 20 * 60, 90 * 60)
    moments = sorted(m for m in moments if world.scored_start <= m < world.end)
    for index, when in enumerate(moments):
        last = approve and index == len(moments) - 1
        outcome = Outcome.APPROVED if last else (Outcome.TIMEOUT if rng.random() < 0.8 else Outcome.DENIED)
        run.add(
            idp.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(5, 40)
            ),
            src,
        )
    if approve:
        run.techniques.append(T_VALID)
    run.access = approve
    return run


def approval_after_denials(world: World, victim: User, provider: Provider) -> Run:
    """One to four prompts denied over minutes or hours (no burst), then one approved."""
    rng = world.rng
    run = Run("approval_after_denials", provider, victim.login, [T_MFA, T_VALID])
    idp = world.idp(provider)
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    when = attack_time(world, victim, night=False)
    app = rng.choice(apps_for(victim, provider))
    spacing = rng.choice(((5 * 60, 20 * 60), (20 * 60, 100 * 60), (60 * 60, 180 * 60)))
    for _ in range(rng.randint(1, 4)):
        answer = rng.uniform(3, 15)
        run.add(
            idp.attempt(
                victim, when, src, Outcome.DENIED, app=app, phone=phone, attacker=True, answer_s=answer
            ),
            src,
        )
        when += jitter(rng, *spacing)
    answer = rng.uniform(3, 15)
    run.add(
        idp.attempt(
            victim, when, src, Outcome.APPROVED, app=app, phone=phone, attacker=True, answer_s=answer
        ),
        src,
    )
    run.access = True
    return run


def fraud_report(world: World, victim: User, provider: Provider) -> Run:
    """One to three prompts; the victim denies the last and reports it as fraud."""
    rng = world.rng
    run = Run("fraud_report", provider, victim.login, [T_MFA])
    idp = world.idp(provider)
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    when = attack_time(world, victim)
    app = rng.choice(apps_for(victim, provider))
    count = rng.randint(1, 3)
    for index in range(count):
        outcome = Outcome.FRAUD if index == count - 1 else Outcome.TIMEOUT
        run.add(
            idp.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(4, 20)
            ),
            src,
        )
        when += jitter(rng, 30, 120)
    return run


def mismatch(world: World, victim: User) -> Run:
    """Duo: the login comes from the attacker (access_device) while the phone that approves is at home."""
    rng = world.rng
    provider = Provider.DUO
    run = Run("requester_responder_mismatch", provider, victim.login, [T_MFA, T_VALID])
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    when = attack_time(world, victim, night=False)
    app = rng.choice(apps_for(victim, provider))
    count = rng.randint(1, 2)
    for index in range(count):
        outcome = Outcome.APPROVED if index == count - 1 else Outcome.DENIED
        run.add(
            world.duo.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(3, 12)
            ),
            src,
        )
        when += jitter(rng, 600, 3600)
    run.access = True
    return run
