"""People with an account on two IdPs (Okta or Entra ID for SSO, Duo in front of the VPN and legacy apps)
and attacks split across the two: each IdP sees fewer prompts than any per-IdP threshold, the person sees
all of them.

Most of these people have a short Duo username (``jsmith``) beside their address; their Duo records carry
the address in ``email`` (as Duo writes it when the directory sync fills it), so the accounts can be
linked from the vendors' own fields, without an alias file.

Everything here is drawn from a random stream of its own, derived from (seed, "split_idp"), and written
after the rest of the tenant: the records of the other people and campaigns stay byte-identical to a
simulation without them."""

from __future__ import annotations

import random

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.benign import simulate_benign
from pushguard.simulate.campaigns import T_MFA, T_VALID, Run, attack_time, attacker_source, victim_phone
from pushguard.simulate.common import jitter
from pushguard.simulate.tenant import User, apps_for, new_person
from pushguard.simulate.world import World

SPLIT_KIND = "split_idp_fatigue"
SHORT_NAME_SHARE = 0.7  # of these people, how many have a Duo username that is not their address
PEOPLE_PER_USERS = 40  # one such person per this many people of the tenant (at least 2 per campaign)


def stream(seed: int) -> random.Random:
    """The random stream of the split-IdP people and campaigns, apart from the seed's own."""
    return random.Random(f"{seed}|split_idp")


def _short_name(user: User, taken: set[str]) -> str:
    first, last = user.login.split("@", 1)[0].split(".", 1) if "." in user.login else (user.login, "")
    base = (first[:1] + "".join(c for c in last if c.isalpha())).lower() or first
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def split_people(world: World, count: int) -> list[User]:
    """``count`` people on an SSO IdP and Duo, drawn from ``world.rng`` (the split stream)."""
    rng = world.rng
    tenant = world.tenant
    taken = {u.login for u in (*tenant.users, *tenant.services)}
    short_taken = {u.login.split("@", 1)[0] for u in tenant.users}
    people = []
    for index in range(count):
        sso = Provider.OKTA if rng.random() < 0.5 else Provider.ENTRA
        user = new_person(rng, len(taken) + index, taken, world.rates, (sso, Provider.DUO))
        if rng.random() < SHORT_NAME_SHARE:
            user.duo_name = _short_name(user, short_taken)
        people.append(user)
    return people


def split_fatigue(world: World, victim: User) -> Run:
    """Prompts alternating between the victim's SSO IdP and Duo: a burst of two on each within minutes,
    or three or four on each through a night; each IdP alone stays under its threshold."""
    rng = world.rng
    sso = victim.idps[0]
    run = Run(SPLIT_KIND, sso, victim.login, [T_MFA])
    src, phone = attacker_source(world, victim, run), victim_phone(world, victim)
    burst = rng.random() < 0.5
    per_idp = 2 if burst else rng.randint(3, 4)
    gap = (40.0, 240.0) if burst else (20 * 60.0, 60 * 60.0)
    when = attack_time(world, victim, night=None if burst else True)
    approve = rng.random() < world.attacks.give_in
    order = [sso, Provider.DUO] if rng.random() < 0.5 else [Provider.DUO, sso]
    prompts = [order[i % 2] for i in range(2 * per_idp)]
    for index, provider in enumerate(prompts):
        last = approve and index == len(prompts) - 1
        outcome = Outcome.APPROVED if last else (Outcome.TIMEOUT if rng.random() < 0.6 else Outcome.DENIED)
        app = rng.choice(apps_for(victim, provider))
        run.add(
            world.idp(provider).attempt(
                victim, when, src, outcome, app=app, phone=phone, attacker=True, answer_s=rng.uniform(4, 30)
            ),
            src,
        )
        when += jitter(rng, *gap)
    if approve:
        run.techniques.append(T_VALID)
    run.access = approve
    return run


def add_split_idp(world: World, seed: int) -> tuple[list[User], list[Run]]:
    """The split-IdP people, their ordinary life and the campaigns against them, written into the same
    logs as ``world`` from the split stream. Returns (people, campaigns)."""
    split = world.drawing_from(stream(seed))
    campaigns = world.attacks.per_kind
    people = split_people(split, max(2 * campaigns, len(world.tenant.users) // PEOPLE_PER_USERS))
    short = [u for u in people if u.duo_name]
    others = [u for u in people if not u.duo_name]
    # most victims have a short Duo name (the case an exact-name join misses), some do not
    victims = split.rng.sample(short, min(len(short), campaigns - campaigns // 3))
    victims += split.rng.sample(others, min(len(others), campaigns - len(victims)))
    runs = [split_fatigue(split, victim) for victim in victims]
    simulate_benign(split, people, with_services=False)
    return people, runs
