"""The simulation's shared context: the random source, the tenant, the rates this seed drew, the logs, one
writer per IdP, and the benign episodes written so far."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import IdP
from pushguard.simulate.common import EPOCH, Logs
from pushguard.simulate.rates import AttackRates, BenignRates, draw_attacks, draw_benign
from pushguard.simulate.records_duo import DuoWriter
from pushguard.simulate.records_entra import EntraWriter
from pushguard.simulate.records_okta import OktaWriter
from pushguard.simulate.tenant import Tenant, User


@dataclass(frozen=True, slots=True)
class Episode:
    identity: str
    behaviour: str
    start: datetime
    end: datetime
    provider: str = ""


@dataclass(slots=True)
class World:
    rng: random.Random
    tenant: Tenant
    days: int  # every simulated day, history included
    history_days: int = 0  # the first days: ordinary life only
    benign_rates: BenignRates | None = None  # drawn from ``rng`` when not given
    attack_rates: AttackRates | None = None
    logs: Logs = field(default_factory=Logs)
    episodes: list[Episode] = field(default_factory=list)
    okta: OktaWriter = field(init=False)
    entra: EntraWriter = field(init=False)
    duo: DuoWriter = field(init=False)

    def __post_init__(self) -> None:
        self.okta = OktaWriter(self.rng, self.logs, self.tenant)
        self.entra = EntraWriter(self.rng, self.logs, self.tenant)
        self.duo = DuoWriter(self.rng, self.logs, self.tenant)
        if self.benign_rates is None:
            self.benign_rates = draw_benign(self.rng)
        if self.attack_rates is None:
            self.attack_rates = draw_attacks(self.rng, len(self.tenant.users))

    @property
    def rates(self) -> BenignRates:
        assert self.benign_rates is not None  # set in __post_init__
        return self.benign_rates

    @property
    def attacks(self) -> AttackRates:
        assert self.attack_rates is not None  # set in __post_init__
        return self.attack_rates

    def drawing_from(self, rng: random.Random) -> World:
        """The same tenant, logs, rates and episode list, with writers drawing from ``rng``: a stream of
        its own, so what it adds leaves every record the main stream writes as it was."""
        return World(
            rng=rng,
            tenant=self.tenant,
            days=self.days,
            history_days=self.history_days,
            benign_rates=self.rates,
            attack_rates=self.attacks,
            logs=self.logs,
            episodes=self.episodes,
        )

    def idp(self, provider: Provider) -> IdP:
        if provider is Provider.OKTA:
            return self.okta
        if provider is Provider.ENTRA:
            return self.entra
        return self.duo

    @property
    def end(self) -> datetime:
        return EPOCH + timedelta(days=self.days)

    @property
    def scored_start(self) -> datetime:
        return EPOCH + timedelta(days=self.history_days)

    @property
    def first_attack_day(self) -> int:
        """Attacks happen in the scored period; without history, day 0 is the detectors' warm-up."""
        return max(1, self.history_days)

    def episode(
        self,
        user: User | str,
        behaviour: str,
        start: datetime,
        end: datetime,
        provider: Provider | None = None,
    ) -> None:
        identity = user if isinstance(user, str) else user.login
        # Whole seconds, outward: Graph and Duo write record times to the second.
        low = min(start, end).replace(microsecond=0)
        high = max(start, end)
        if high.microsecond:
            high = high.replace(microsecond=0) + timedelta(seconds=1)
        self.episodes.append(Episode(identity, behaviour, low, high, provider.value if provider else ""))


def local(day: int, hour: float, user: User, offset_h: float | None = None) -> datetime:
    """``hour`` o'clock (local, fractional) on simulated ``day`` for the user, as UTC."""
    offset = user.tz if offset_h is None else offset_h
    return EPOCH + timedelta(days=day, hours=hour - offset)
