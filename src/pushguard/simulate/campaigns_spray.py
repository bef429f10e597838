"""Password sprays from one address: the plain kind (every password wrong; labeled by the address), and
the kind that matters for push MFA: the password works for a few of the accounts tried, and each of
those victims gets only one to three pushes (labeled by the victim, one campaign each)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.campaigns import (
    T_MFA,
    T_SPRAY,
    T_VALID,
    Run,
    attack_day,
    attacker_source,
    victim_phone,
)
from pushguard.simulate.common import jitter
from pushguard.simulate.places import Net
from pushguard.simulate.tenant import User, apps_for
from pushguard.simulate.world import World, local


def _start(world: World, anchor: User) -> datetime:
    rng = world.rng
    start = local(attack_day(world), rng.uniform(0, 24), anchor, 0)
    start = max(start, world.scored_start + jitter(world.rng, 600, 3600))
    return min(start, world.end - timedelta(hours=4))


def _failures(
    world: World, run: Run, provider: Provider, targets: list[User], src: Net, start: datetime
) -> datetime:
    """One or two passes over the targets, a few seconds to a minute and a half between accounts."""
    rng = world.rng
    idp = world.idp(provider)
    when = start
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
    return when


def spray(world: World, provider: Provider, targets: list[User]) -> Run:
    """One address tries one or two common passwords against many accounts within the hour."""
    run = Run("password_spray", provider, "", [T_SPRAY])
    src = attacker_source(world, targets[0], run)
    run.identity = f"ip:{src.ip}"
    _failures(world, run, provider, targets, src, _start(world, targets[0]))
    run.targets = sorted(u.login for u in targets)
    run.ips = [src.ip]
    return run


def spray_then_push(world: World, provider: Provider, targets: list[User], victims: list[User]) -> list[Run]:
    """A spray over ``targets`` in which the password of each of ``victims`` works: their sign-ins
    reach MFA, and each gets one to three pushes (approved in the end at the seed's give-in share).
    One campaign per victim; the failures are its context (the spray around it: a finding on them is
    neither a detection of the victim's campaign nor a false positive)."""
    rng = world.rng
    spray_run = Run("spray_then_push", provider, "", [T_SPRAY, T_MFA])
    src = attacker_source(world, victims[0], spray_run)
    start = _start(world, victims[0])
    tried = sorted({u.login: u for u in [*targets, *victims]}.values(), key=lambda u: u.login)
    order = rng.sample(tried, len(tried))
    failing = [u for u in order if u not in victims]
    runs: list[Run] = []
    idp = world.idp(provider)
    when = _failures(world, spray_run, provider, failing, src, start)
    for victim in victims:
        run = Run(
            "spray_then_push",
            provider,
            victim.login,
            [T_SPRAY, T_MFA],
            infrastructure=spray_run.infrastructure,
        )
        when = start + jitter(rng, 30, max(60.0, (when - start).total_seconds()))
        phone = victim_phone(world, victim)
        app = rng.choice(apps_for(victim, provider))
        count = rng.randint(1, 3)
        approve = rng.random() < world.attacks.give_in
        moment = when
        for index in range(count):
            last = index == count - 1
            outcome = Outcome.APPROVED if last and approve else rng.choice((Outcome.TIMEOUT, Outcome.DENIED))
            run.add(
                idp.attempt(
                    victim,
                    moment,
                    src,
                    outcome,
                    app=app,
                    phone=phone,
                    attacker=True,
                    answer_s=rng.uniform(4, 30),
                ),
                src,
            )
            moment += jitter(rng, 45, 600)
        if approve:
            run.techniques.append(T_VALID)
        run.access = approve
        run.targets = sorted(u.login for u in tried)
        run.context = list(spray_run.written.ids)
        runs.append(run)
    return runs
