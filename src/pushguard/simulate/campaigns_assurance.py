"""Accounts a password alone opens, and the intrusion that used one (Midnight Blizzard, 2023-24).

Written on Entra after everything else, from their own random stream (``random.Random`` of
``(seed, "assurance")``), on accounts of their own: every record the rest of the simulation writes for a
seed stays byte-identical.

- Legacy test accounts with no MFA: a few browser sign-ins with the password alone (benign, never MFA);
  all but one are the victims of the chain below, one campaign each.
- A shared mailbox read over IMAP4 and a scanner sending over Authenticated SMTP from the office: benign
  legacy-protocol look-alikes, listed as approved exceptions (``Labels.assurance_exceptions``).
- The campaign ``spray_single_factor_chain``: one address sprays the tenant's Entra accounts (the
  failures are its context), the password of one legacy test account works (at once, or on the second
  pass), and within hours the same address consents to an OAuth application and adds credentials to a
  service principal (T1110.003, T1078, T1098.001, T1528)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from pushguard.model import Provider
from pushguard.simulate.campaigns import T_MANIP, T_SPRAY, T_VALID, Run, attacker_source
from pushguard.simulate.common import jitter, new_uuid
from pushguard.simulate.tenant import User, helpdesk_net, home_net
from pushguard.simulate.world import World, local

KIND = "spray_single_factor_chain"
T_TOKEN = "T1528"  # Steal Application Access Token (OAuth consent)
LEGACY_BEHAVIOUR = "legacy_protocol_exception"
NO_MFA_BEHAVIOUR = "password_only_test_account"


def _account(template: User, rng: random.Random, login: str, display: str) -> User:
    domain = template.login.partition("@")[2]
    return replace(
        template,
        login=f"{login}@{domain}",
        display=display,
        idps=(Provider.ENTRA,),
        entra_id=new_uuid(rng),
        okta_id="",
        duo_key="",
        apps=("Office 365 Exchange Online",),
        admin=False,
        service=False,
        groups=(),
        extra={},
        joined_day=0,
    )


def _sub_world(seed: int, world: World) -> World:
    """The same tenant, logs and episode list, with writers drawing from the assurance stream."""
    return world.drawing_from(random.Random(f"{seed}:assurance"))


def simulate_assurance(seed: int, world: World) -> tuple[list[Run], list[str]]:
    """Write the accounts' life and the chain; returns (campaigns, approved exception logins)."""
    on = world.tenant.on(Provider.ENTRA)
    if len(on) < 5:
        return [], []
    sub = _sub_world(seed, world)
    rng = sub.rng
    template = rng.choice(on)
    chains = max(2, world.attacks.per_kind)  # as many as every other kind: enough to measure
    tests = [_account(template, rng, f"test-legacy{i}", f"Legacy test {i}") for i in range(1, chains + 2)]
    mailbox = _account(template, rng, "shared-mailbox", "Shared mailbox")
    scanner = _account(template, rng, "scanner-smtp", "Office scanner")
    exceptions = [mailbox.login, scanner.login]
    office = helpdesk_net(rng, template)
    for day in range(world.days):
        for account, client, per_day in ((mailbox, "IMAP4", 6), (scanner, "Authenticated SMTP", 3)):
            for _ in range(rng.randint(1, per_day)):
                when = local(day, rng.uniform(7, 19), template)
                sub.entra.password_alone(
                    account, when, office, app="Office 365 Exchange Online", attacker=False, client_app=client
                )
        for test in tests:
            if rng.random() < 0.15:  # dormant: a sign-in now and then, by whoever runs the tests
                when = local(day, rng.uniform(9, 17), template)
                sub.entra.password_alone(test, when, home_net(template), app="Azure Portal", attacker=False)
    start, end = local(0, 7, template), local(world.days - 1, 19, template)
    for account, behaviour in ((mailbox, LEGACY_BEHAVIOUR), (scanner, LEGACY_BEHAVIOUR)):
        sub.episode(account, behaviour, max(start, world.scored_start), end, Provider.ENTRA)
    for test in tests:
        sub.episode(test, NO_MFA_BEHAVIOUR, max(start, world.scored_start), end, Provider.ENTRA)
    return [_chain(sub, on, victim) for victim in tests[:chains]], exceptions


def _chain(sub: World, on: list[User], victim: User) -> Run:
    rng = sub.rng
    run = Run(KIND, Provider.ENTRA, victim.login, [T_SPRAY, T_VALID])
    src = attacker_source(sub, victim, run)
    when = local(rng.randint(sub.first_attack_day, sub.days - 1), rng.uniform(0, 24), victim, 0)
    when = min(max(when, sub.scored_start + jitter(rng, 600, 3600)), sub.end - timedelta(hours=8))
    success = when
    targets = rng.sample(on, min(len(on), rng.randint(15, 40)))
    first_try = rng.random() < 0.5  # the first password works, or the second pass's
    context = Run(KIND, Provider.ENTRA, "", [])
    for attempt in range(1 if first_try else 2):
        moment = when + timedelta(minutes=75 * attempt)
        order = [*targets, victim]
        rng.shuffle(order)
        for user in order:
            moment += jitter(rng, 5, 90)
            app = rng.choice(user.apps)
            if user is victim:
                if attempt == (0 if first_try else 1):
                    run.add(
                        sub.entra.password_alone(user, moment, src, app="Azure Portal", attacker=True), src
                    )
                    success = moment
                else:
                    run.add(sub.entra.password_failure(user, moment, src, app=app, attacker=True), src)
            else:
                context.add(sub.entra.password_failure(user, moment, src, app=app, attacker=True))
    moment = success + jitter(rng, 600, 4 * 3600)
    run.add(sub.entra.privileged(victim, moment, src, action=1), src)  # Consent to application
    run.add(sub.entra.privileged(victim, moment + jitter(rng, 60, 1800), src, action=0), src)
    run.techniques += [T_MANIP, T_TOKEN]
    run.access = True
    run.targets = sorted(u.login for u in [*targets, victim])
    run.context = list(context.written.ids)
    return run
