"""One sign-in as a person does it: maybe a mistyped password, the prompt (missed several times when the
phone is out of reach, denied once or twice by a fat finger, the wrong number picked), the approval from
the usual laptop and network, then other apps on the same session. Every look-alike is written down as a
benign episode."""

from __future__ import annotations

from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import Outcome
from pushguard.simulate.common import jitter
from pushguard.simulate.places import Net
from pushguard.simulate.tenant import User, apps_for, home_net, net
from pushguard.simulate.world import World

# An approval's own records come up to this long after the answer (Okta: the answer, then the session
# and the app's single sign-on a few seconds later).
APPROVAL_RECORDS_S = 7.0


def phone_net(world: World, user: User, src: Net, roaming: bool | None) -> Net:
    """Where the phone answers from. ``roaming``: None at home; abroad, True when the phone stays on the
    home carrier (it geolocates at home), False when it is on the hotel Wi-Fi with the laptop."""
    rng = world.rng
    if roaming is not None:
        return net(rng, user.home.key, user.mobile) if roaming else src
    kind = src.network.kind
    if kind in ("isp", "office") and rng.random() < 0.6:
        return src  # on the same Wi-Fi as the laptop
    if kind in ("gateway", "vpn") and rng.random() < 0.6:
        return home_net(user)  # the laptop's tunnel does not carry the phone: home Wi-Fi
    return net(rng, user.home.key, user.mobile)


def prompt(
    world: World, provider: Provider, user: User, when: datetime, src: Net, app: str, phone: Net
) -> datetime:
    """One legitimate prompt, with the seed's share of misses, fat fingers and wrong numbers before the
    approval; returns when the person is done."""
    rng, rates = world.rng, world.rates
    idp = world.idp(provider)
    start = when
    behaviour: str | None = None
    roll = rng.random()
    if roll < rates.missed_prompt:  # phone in a bag, on silent, in another room
        behaviour = "missed_prompts"
        for _ in range(rng.randint(1, rates.missed_max)):
            idp.attempt(user, when, src, Outcome.TIMEOUT, app=app, phone=phone)
            when += jitter(rng, *rates.missed_gap_s)
    elif roll < rates.missed_prompt + rates.double_denial:  # quick taps on the wrong button
        behaviour = "double_denial"
        for _ in range(rng.randint(1, 2)):
            idp.attempt(user, when, src, Outcome.DENIED, app=app, phone=phone, answer_s=rng.uniform(1, 4))
            when += jitter(rng, 5, 20)
    elif roll < rates.missed_prompt + rates.double_denial + rates.wrong_number and user.number_match:
        behaviour = "wrong_number"
        idp.attempt(user, when, src, Outcome.WRONG_NUMBER, app=app, phone=phone, answer_s=rng.uniform(3, 9))
        when += jitter(rng, 10, 40)
    answer = rng.uniform(3, 20)
    idp.attempt(user, when, src, Outcome.APPROVED, app=app, phone=phone, answer_s=answer)
    done = when + timedelta(seconds=answer + APPROVAL_RECORDS_S)
    if behaviour is not None:
        world.episode(user, behaviour, start, done, provider)
    return done + jitter(rng, 20, 40)


def session(
    world: World,
    provider: Provider,
    user: User,
    when: datetime,
    src: Net,
    roaming: bool | None,
    apps: int,
) -> datetime:
    """A sign-in with its prompts, then ``apps - 1`` more apps on the same session; returns the end."""
    rng, rates = world.rng, world.rates
    idp = world.idp(provider)
    apps_here = apps_for(user, provider)
    app = rng.choice(apps_here)
    typo: datetime | None = None
    if rng.random() < rates.password_typo and provider is not Provider.DUO:
        typo = when
        idp.password_failure(user, when, src, app=app, attacker=False)
        when += jitter(rng, 8, 40)
    if provider is Provider.ENTRA and rng.random() < 0.3:
        world.entra.interrupt(user, when, src, app=app)
        when += jitter(rng, 1, 5)
    phone = phone_net(world, user, src, roaming)
    when = prompt(world, provider, user, when, src, app, phone)
    if typo is not None:
        world.episode(user, "password_typo", typo, when, provider)
    for _ in range(apps - 1):
        when += jitter(rng, 20, 300)
        other = rng.choice(apps_here)
        if rng.random() < 0.35:  # this app's policy asks again
            when = prompt(world, provider, user, when, src, other, phone)
        else:
            idp.quiet(user, when, src, app=other)
    return when
