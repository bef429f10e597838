"""Labeled attacks on push MFA: the prompt-driven kinds (bombing, fatigue, denials then approval, fraud
report, requester far from the responder). The account-driven kinds are in ``campaigns_account``.

Every campaign comes from an attacker who holds the victim's password, on attacker infrastructure
(hosting, VPN providers, a foreign mobile network); the victim's phone stays at the victim's home."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome, Written
from pushguard.simulate.benign import distance_km
from pushguard.simulate.common import jitter
from pushguard.simulate.places import ATTACKER_NETWORKS, PLACES, Net
from pushguard.simulate.tenant import User, apps_for, home_net, net
from pushguard.simulate.world import World, local

T_MFA = "T1621"  # Multi-Factor Authentication Request Generation
T_VALID = "T1078"  # Valid Accounts
T_CLOUD = "T1078.004"  # Valid Accounts: Cloud Accounts
T_DEVICE = "T1098.005"  # Account Manipulation: Device Registration
T_MANIP = "T1098.001"  # Account Manipulation: Additional Cloud Credentials
T_SPRAY = "T1110.003"  # Brute Force: Password Spraying
T_IMPERSONATE = "T1656"  # Impersonation (of the user, to the helpdesk)


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

    def add(self, written: Written, src: Net | None = None) -> Written:
        self.written.extend(written)
        if src is not None and src.ip not in self.ips:
            self.ips.append(src.ip)
        return written


def attacker_net(world: World, victim: User | None = None, far_km: float = 0.0) -> Net:
    """An address on attacker infrastructure, away from the victim's country (and ``far_km`` away)."""
    rng = world.rng
    choices = [
        (place, network)
        for place, network in ATTACKER_NETWORKS
        if victim is None
        or (PLACES[place].cc != victim.home.cc and distance_km(victim.home, PLACES[place]) >= far_km)
    ]
    place, network = rng.choice(choices)
    return net(rng, place, network)


def victim_phone(world: World, victim: User) -> Net:
    return home_net(victim) if world.rng.random() < 0.7 else net(world.rng, victim.home.key, victim.mobile)


def attack_time(world: World, victim: User, night: bool | None = None) -> datetime:
    rng = world.rng
    day = rng.randint(1, world.days - 1)
    if night is None:
        night = rng.random() < 0.6
    hour = rng.uniform(22.0, 25.5) if night else rng.uniform(6.5, 8.5)
    when = local(day, hour, victim)
    return min(when, world.end - jitter(rng, 4 * 3600, 5 * 3600))


def _refusal(world: World, victim: User, provider: Provider, index: int) -> Outcome:
    rng = world.rng
    if provider is Provider.DUO and index >= 6 and rng.random() < 0.25:
        return Outcome.BLOCKED  # Duo's own rate limit
    roll = rng.random()
    if victim.number_match and provider is Provider.OKTA and roll < 0.15:
        return Outcome.WRONG_NUMBER
    return Outcome.DENIED if roll < 0.45 else Outcome.TIMEOUT


def bombing(world: World, victim: User, provider: Provider, approve: bool) -> Run:
    """A burst of prompts a few tens of seconds apart; the victim gives in, or rides it out."""
    rng = world.rng
    kind = "push_bombing_approved" if approve else "push_bombing_ridden_out"
    run = Run(kind, provider, victim.login, [T_MFA, T_VALID] if approve else [T_MFA])
    idp = world.idp(provider)
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
    when = attack_time(world, victim)
    count = rng.randint(6, 15) if approve else rng.randint(5, 12)
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
        when += jitter(rng, 20, 90)
    run.access = approve
    return run


def low_and_slow(world: World, victim: User, provider: Provider) -> Run:
    """Fatigue over a night: a prompt every half hour or so while the victim sleeps."""
    rng = world.rng
    run = Run("low_and_slow", provider, victim.login, [T_MFA])
    idp = world.idp(provider)
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
    day = rng.randint(1, world.days - 1)
    when = local(day, rng.uniform(-1.5, 0.5), victim)  # from ~23:00 the evening before
    approve = rng.random() < 0.5
    count = rng.randint(6, 10)
    app = rng.choice(apps_for(victim, provider))
    for index in range(count):
        last = approve and index == count - 1
        outcome = Outcome.APPROVED if last else (Outcome.TIMEOUT if rng.random() < 0.8 else Outcome.DENIED)
        run.add(
            idp.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(5, 40)
            ),
            src,
        )
        when += jitter(rng, 25 * 60, 70 * 60)
    if approve:
        run.techniques.append(T_VALID)
    run.access = approve
    return run


def approval_after_denials(world: World, victim: User, provider: Provider) -> Run:
    """A few prompts denied over hours (no burst), then one approved, all from abroad."""
    rng = world.rng
    run = Run("approval_after_denials", provider, victim.login, [T_MFA, T_VALID])
    idp = world.idp(provider)
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
    when = attack_time(world, victim, night=False)
    app = rng.choice(apps_for(victim, provider))
    for _ in range(rng.randint(2, 3)):
        run.add(
            idp.attempt(
                victim,
                when,
                src,
                Outcome.DENIED,
                app=app,
                phone=phone,
                attacker=True,
                answer_s=rng.uniform(3, 15),
            ),
            src,
        )
        when += jitter(rng, 30 * 60, 100 * 60)
    run.add(
        idp.attempt(
            victim,
            when,
            src,
            Outcome.APPROVED,
            app=app,
            phone=phone,
            attacker=True,
            answer_s=rng.uniform(3, 15),
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
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
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
    """Duo: the login comes from abroad (access_device) while the phone that approves is at home."""
    rng = world.rng
    provider = Provider.DUO
    run = Run("requester_responder_mismatch", provider, victim.login, [T_MFA, T_VALID])
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
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
