"""Labeled attacks on the account around push MFA: enrollment abuse, helpdesk reset → enroll →
access, password spray, impossible travel, a service account that gets a push, and a privileged
action after a risky approval."""

from __future__ import annotations

from datetime import timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.campaigns import (
    T_CLOUD,
    T_DEVICE,
    T_IMPERSONATE,
    T_MANIP,
    T_MFA,
    T_SPRAY,
    T_VALID,
    Run,
    attack_time,
    attacker_net,
    victim_phone,
)
from pushguard.simulate.common import jitter
from pushguard.simulate.places import PHONES
from pushguard.simulate.tenant import User, apps_for, helpdesk_net, home_net, net
from pushguard.simulate.world import World, local


def enrollment_abuse(world: World, victim: User, provider: Provider) -> Run:
    """The attacker wins a push, then enrolls an authenticator of their own and uses it."""
    rng = world.rng
    run = Run("enrollment_abuse", provider, victim.login, [T_MFA, T_VALID, T_DEVICE])
    idp = world.idp(provider)
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
    when = attack_time(world, victim)
    app = rng.choice(apps_for(victim, provider))
    count = rng.randint(1, 4)
    for index in range(count):
        outcome = Outcome.APPROVED if index == count - 1 else Outcome.TIMEOUT
        run.add(
            idp.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(4, 20)
            ),
            src,
        )
        when += jitter(rng, 30, 120)
    when += jitter(rng, 60, 600)
    run.add(idp.enroll(victim, when, src, phone_name=rng.choice(PHONES), attacker=True), src)
    when += jitter(rng, 1800, 4 * 3600)
    run.add(
        idp.attempt(
            victim, when, src, Outcome.APPROVED, app=app, phone=src, attacker=True, answer_s=rng.uniform(2, 6)
        ),
        src,
    )
    run.access = True
    return run


def reset_enroll_access(world: World, victim: User, provider: Provider) -> Run:
    """Helpdesk social engineering: the attacker, posing as the victim, has the factors reset and a
    temporary credential issued (Entra: Temporary Access Pass; Okta: reset_all and a temporary
    password; Duo: a bypass code), signs in with it, enrolls their own phone and gets in."""
    rng = world.rng
    run = Run("reset_enroll_access", provider, victim.login, [T_IMPERSONATE, T_DEVICE, T_VALID])
    idp = world.idp(provider)
    admin = world.tenant.helpdesk[provider]
    desk = helpdesk_net(rng, admin)
    src = attacker_net(world, victim)
    day = rng.randint(1, world.days - 1)
    when = local(day, rng.uniform(9.5, 16.5), admin)
    run.add(idp.remove_factors(victim, when, admin, desk))
    when += jitter(rng, 60, 400)
    run.add(idp.issue_bypass(victim, when, admin, desk))
    if provider is Provider.ENTRA and rng.random() < 0.5:
        run.add(world.entra.password_reset(victim, when + jitter(rng, 10, 90), admin, desk))
    when += jitter(rng, 120, 1200)
    run.add(idp.use_bypass(victim, when, src, app=apps_for(victim, provider)[0], attacker=True), src)
    when += jitter(rng, 30, 300)
    run.add(idp.enroll(victim, when, src, phone_name=rng.choice(PHONES), attacker=True), src)
    when += jitter(rng, 120, 1800)
    run.add(
        idp.attempt(
            victim,
            when,
            src,
            Outcome.APPROVED,
            app=rng.choice(apps_for(victim, provider)),
            phone=src,
            attacker=True,
            answer_s=rng.uniform(2, 6),
        ),
        src,
    )
    run.access = True
    return run


def spray(world: World, provider: Provider, targets: list[User]) -> Run:
    """One hosting address tries one or two common passwords against many accounts within the hour."""
    rng = world.rng
    src = attacker_net(world)
    run = Run("password_spray", provider, f"ip:{src.ip}", [T_SPRAY])
    idp = world.idp(provider)
    start = local(rng.randint(1, world.days - 1), rng.uniform(0, 24), targets[0], 0)
    start = min(start, world.end - timedelta(hours=3))
    for attempt in range(rng.randint(1, 2)):
        when = start + timedelta(minutes=75 * attempt)
        for user in targets:
            when += jitter(rng, 5, 90)
            run.add(
                idp.password_failure(
                    user, when, src, app=rng.choice(apps_for(user, provider)), attacker=True
                ),
                src,
            )
    run.targets = sorted(u.login for u in targets)
    run.ips = [src.ip]
    return run


def impossible_travel(world: World, victim: User, provider: Provider) -> Run:
    """The victim works from home; an hour or two later the same account signs in from another
    continent (one prompt, approved by reflex)."""
    rng = world.rng
    run = Run("impossible_travel", provider, victim.login, [T_VALID])
    idp = world.idp(provider)
    day = rng.randint(1, world.days - 1)
    home = home_net(victim)
    when = local(day, rng.uniform(9.0, 11.0), victim)
    idp.attempt(
        victim, when, home, Outcome.APPROVED, app=apps_for(victim, provider)[0], phone=home
    )  # the victim's own
    src = attacker_net(world, victim, far_km=3000.0)
    when += jitter(rng, 1800, 2 * 3600)
    run.add(
        idp.attempt(
            victim,
            when,
            src,
            Outcome.APPROVED,
            app=rng.choice(apps_for(victim, provider)),
            phone=victim_phone(world, victim),
            attacker=True,
            answer_s=rng.uniform(3, 15),
        ),
        src,
    )
    run.access = True
    return run


def nhi_push(world: World, service: User) -> Run:
    """A service account, which only ever signs in from its server, gets an interactive sign-in with
    a push (to the phone of the admin who set it up) from attacker infrastructure."""
    rng = world.rng
    provider = service.idps[0]
    run = Run("nhi_push", provider, service.login, [T_CLOUD, T_MFA])
    idp = world.idp(provider)
    src = attacker_net(world)
    day = rng.randint(1, world.days - 1)
    when = local(day, rng.uniform(8, 20), service, 0)
    phone = net(rng, service.home.key, service.mobile)
    count = rng.randint(1, 3)
    for index in range(count):
        outcome = Outcome.APPROVED if index == count - 1 else Outcome.TIMEOUT
        run.add(
            idp.attempt(
                service,
                when,
                src,
                outcome,
                app="Azure Portal" if provider is Provider.ENTRA else "Okta Admin Console",
                phone=phone,
                attacker=True,
                answer_s=rng.uniform(4, 20),
            ),
            src,
        )
        when += jitter(rng, 40, 200)
    run.access = True
    return run


def privileged_after_approval(world: World, victim: User, provider: Provider) -> Run:
    """An admin approves a push they did not start (after a short burst); minutes later the session
    mints credentials / grants privileges."""
    rng = world.rng
    run = Run("privileged_after_approval", provider, victim.login, [T_MFA, T_VALID, T_MANIP])
    idp = world.idp(provider)
    src, phone = attacker_net(world, victim), victim_phone(world, victim)
    when = attack_time(world, victim)
    count = rng.randint(2, 4)
    app = "Azure Portal" if provider is Provider.ENTRA else "Okta Admin Console"
    for index in range(count):
        outcome = (
            Outcome.APPROVED if index == count - 1 else (Outcome.DENIED if index == 0 else Outcome.TIMEOUT)
        )
        run.add(
            idp.attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(3, 15)
            ),
            src,
        )
        when += jitter(rng, 30, 120)
    for action in range(rng.randint(1, 2)):
        when += jitter(rng, 300, 1500)
        run.add(idp.privileged(victim, when, src, action=action), src)
    run.access = True
    return run
