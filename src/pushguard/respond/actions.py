"""What a response can do, to whom, and what came of it.

Actions are named vendor-neutrally in playbooks (``revoke_sessions``, ``remove_attacker_factor``...) and
carried out per vendor by the clients in ``respond.okta``, ``respond.entra`` and ``respond.duo``. A
``Target`` is the incident's identity with what is known of it at each vendor (immutable ids, the
factors enrolled during the incident); the CLI fills it from the findings and, when given, the logs."""

from __future__ import annotations

import enum

import msgspec


class Action(enum.StrEnum):
    REVOKE_SESSIONS = "revoke_sessions"  # Okta: sessions + OAuth tokens; Entra: refresh tokens, cookies
    REMOVE_ATTACKER_FACTOR = "remove_attacker_factor"  # only the factor enrolled in the incident
    SUSPEND_USER = "suspend_user"  # Okta suspend; Entra accountEnabled false; Duo status disabled
    CONFIRM_COMPROMISED = "confirm_compromised"  # Entra ID Protection (sets user risk high)


class Outcome(enum.StrEnum):
    PLANNED = "planned"  # dry run: what would be done
    PERFORMED = "performed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not applicable, break-glass, rate limited, already done


# What each vendor offers; an action a vendor lacks is reported as skipped with this reason.
VENDOR_ACTIONS: dict[str, frozenset[Action]] = {
    "okta": frozenset({Action.REVOKE_SESSIONS, Action.REMOVE_ATTACKER_FACTOR, Action.SUSPEND_USER}),
    "entra": frozenset(Action),
    "duo": frozenset({Action.REMOVE_ATTACKER_FACTOR, Action.SUSPEND_USER}),
}
NOT_OFFERED = {
    ("duo", Action.REVOKE_SESSIONS): "Duo keeps no sign-in sessions to revoke (revoke them at the IdP)",
    ("duo", Action.CONFIRM_COMPROMISED): "Duo has no compromised-user signal; disable the user instead",
    ("okta", Action.CONFIRM_COMPROMISED): "Okta has no confirm-compromised call; suspend the user instead",
}


class EnrolledFactor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A factor enrolled during the incident: the one to remove, never the victim's others."""

    provider: str
    time: str  # RFC 3339 UTC, when it was enrolled
    event_id: str = ""
    factor: str | None = None  # canonical Factor value (okta_verify_push, sms, webauthn...)
    factor_id: str | None = None  # vendor id when the log gives it (Okta factor id, Duo phone number)


class VendorAccount(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    provider: str  # okta | entra | duo
    login: str
    user_id: str | None = None  # immutable id (Okta 00u..., Entra object id, Duo user id)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    identity: str
    incident: str
    accounts: tuple[VendorAccount, ...]
    enrolled: tuple[EnrolledFactor, ...] = ()
    window: tuple[str, str] = ("", "")  # first_seen, last_seen of the incident's findings


class ActionResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What one vendor call did. ``undo`` says how to reverse it (a request, or why it cannot be)."""

    outcome: Outcome
    detail: str
    requests: tuple[str, ...] = ()  # "METHOD path" of every call made, in order
    undo: str | None = None
    status: int | None = None  # the decisive HTTP status, when there was one
    notes: tuple[str, ...] = ()  # caveats a responder must know (tokens still valid until expiry...)


class CannotTargetError(Exception):
    """The action cannot be aimed safely (no such user, no unique attacker factor): nothing was done."""
