"""Enforcement intents: one change an IdP must make so that its next prompt follows a decision.

The planner (``pushguard.decide.enforce``) makes them; the executor (``pushguard.respond.enforcer``)
carries them out. They live here, in the lowest layer, because decide and respond may not import each
other."""

from __future__ import annotations

import enum

import msgspec

from pushguard.model.decision import DecisionAction
from pushguard.model.event import Provider


class Control(enum.StrEnum):
    ADD_TO_GROUP = "add_to_group"
    REMOVE_FROM_GROUP = "remove_from_group"
    CONFIRM_COMPROMISED = "confirm_compromised"  # Entra ID Protection; undone by dismissing the risk
    SET_USER_STATUS = "set_user_status"  # Duo: disabled, and back to active on expiry


class ControlIntent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    key: str  # idempotency key: same decision, vendor, user and control → same key
    provider: Provider
    control: Control
    identity: str
    login: str
    user_id: str | None = None
    group_id: str | None = None
    status: str | None = None  # set_user_status: the status to set
    action: DecisionAction  # the decided action this carries out (for removals: the one being lifted)
    expires_at: str | None = None  # RFC 3339: when ``expired`` undoes it; None: no automatic undo
    undo: Control | None = None  # the control that reverses this one
    reason: str
    risk: int
    policy_version: str
    decided_at: str
    api: str  # the vendor request an executor makes, with {group}/{user} placeholders filled
    dry_run: bool  # always written: the executor must never guess
    # The closed loop (an intent planned from a finding as it is found): the finding, and the IdP event
    # that raised it (event time, and when pushguard received it), for the time-to-control measure.
    finding: str | None = None
    event_at: str | None = None
    received_at: str | None = None

    @property
    def slot(self) -> tuple[Provider, str, Control, str | None, str | None]:
        """What the intent holds at the vendor: one membership (or status) of one account. A newer
        intent for the same slot replaces an older one."""
        return (self.provider, self.login, self.control, self.group_id, self.status)
