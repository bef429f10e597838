"""The simulation's shared context: the random source, the tenant, the logs and one writer per IdP."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pushguard.model import Provider
from pushguard.simulate.actions import IdP
from pushguard.simulate.common import EPOCH, Logs
from pushguard.simulate.records_duo import DuoWriter
from pushguard.simulate.records_entra import EntraWriter
from pushguard.simulate.records_okta import OktaWriter
from pushguard.simulate.tenant import Tenant, User


@dataclass(slots=True)
class World:
    rng: random.Random
    tenant: Tenant
    days: int
    logs: Logs = field(default_factory=Logs)
    okta: OktaWriter = field(init=False)
    entra: EntraWriter = field(init=False)
    duo: DuoWriter = field(init=False)

    def __post_init__(self) -> None:
        self.okta = OktaWriter(self.rng, self.logs, self.tenant)
        self.entra = EntraWriter(self.rng, self.logs, self.tenant)
        self.duo = DuoWriter(self.rng, self.logs, self.tenant)

    def idp(self, provider: Provider) -> IdP:
        if provider is Provider.OKTA:
            return self.okta
        if provider is Provider.ENTRA:
            return self.entra
        return self.duo

    @property
    def end(self) -> datetime:
        return EPOCH + timedelta(days=self.days)


def local(day: int, hour: float, user: User, offset_h: float | None = None) -> datetime:
    """``hour`` o'clock (local, fractional) on simulated ``day`` for the user, as UTC."""
    offset = user.tz if offset_h is None else offset_h
    return EPOCH + timedelta(days=day, hours=hour - offset)
