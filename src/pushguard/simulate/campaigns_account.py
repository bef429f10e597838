"""Labeled attacks on the account around push MFA: enrollment abuse, helpdesk reset → enroll →
access, impossible travel, a service account that gets a push, and a privileged action after a risky
approval. (Sprays are in ``campaigns_spray``.)"""

from __future__ import annotations

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.campaigns import (
    T_CLOUD,
    T_DEVICE,
    T_IMPERSONATE,
    T_MANIP,
    T_MFA,
    T_VALID,
    Run,
    attack_day,
    attack_time,
    attacker_net,
    attacker_source,
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
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
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
    """Helpdesk social engineering: the attacker, posing as the victim, has the helpdesk delete the
    victim's authenticator (Okta: the Okta Verify factor deactivated, or every factor reset; Entra:
    "Admin deleted security info"; Duo: the phones cleared), sometimes with a password reset and/or a
    temporary credential (Entra: Temporary Access Pass; Okta: a temporary password; Duo: a bypass code),
    signs in, enrolls their own phone and gets in."""
    rng = world.rng
    run = Run("reset_enroll_access", provider, victim.login, [T_IMPERSONATE, T_DEVICE, T_VALID])
    idp = world.idp(provider)
    admin = world.tenant.helpdesk[provider]
    desk = helpdesk_net(rng, admin)
    src = attacker_source(world, victim, run)
    when = max(
        local(attack_day(world), rng.uniform(9.5, 16.5), admin), world.scored_start + jitter(rng, 600, 3600)
    )
    if provider is Provider.OKTA and rng.random() < 0.3:
        run.add(idp.remove_factors(victim, when, admin, desk))
    else:
        run.add(idp.delete_authenticator(victim, when, admin, desk))
    temporary = rng.random() < world.attacks.temporary_credential
    # Okta's temporary password is itself a password reset; Duo holds no password (writes nothing).
    if rng.random() < 0.4 and not (provider is Provider.OKTA and temporary):
        when += jitter(rng, 10, 300)
        run.add(idp.password_reset(victim, when, admin, desk))
    if temporary:
        when += jitter(rng, 30, 400)
        run.add(idp.issue_bypass(victim, when, admin, desk))
    when += jitter(rng, 120, 1800)
    app = apps_for(victim, provider)[0]
    if temporary:
        run.add(idp.use_bypass(victim, when, src, app=app, attacker=True), src)
    else:
        run.add(idp.signin_to_enroll(victim, when, src, app=app, attacker=True), src)
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


def impossible_travel(world: World, victim: User, provider: Provider) -> Run:
    """The victim works from home; an hour or two later the same account signs in from another
    continent (one prompt, approved by reflex)."""
    rng = world.rng
    run = Run("impossible_travel", provider, victim.login, [T_VALID])
    idp = world.idp(provider)
    day = attack_day(world)
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
    day = attack_day(world)
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
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    when = attack_time(world, victim)
    count = rng.randint(1, 4)
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
