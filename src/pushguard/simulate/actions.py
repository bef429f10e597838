"""What a person (or an attacker holding their password) can do at an IdP, independent of the vendor.

Each vendor writer (``records_okta``, ``records_entra``, ``records_duo``) implements ``IdP`` and writes
the records that vendor really logs for the action, returning the vendor event ids it wrote."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pushguard.model import Provider
from pushguard.simulate.places import Net
from pushguard.simulate.tenant import User


class Outcome(enum.StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    TIMEOUT = "timeout"
    FRAUD = "fraud"  # the owner denied and reported it
    WRONG_NUMBER = "wrong_number"
    BLOCKED = "blocked"  # the IdP itself refused to send (Duo frequent_attempts)


ATTACKER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@dataclass(slots=True)
class Written:
    """Vendor event ids written by one action, and the times of the push prompts among them."""

    ids: list[str] = field(default_factory=list)
    prompts: list[datetime] = field(default_factory=list)
    approvals: list[datetime] = field(default_factory=list)  # the prompts among them that were approved

    def extend(self, other: Written) -> Written:
        self.ids.extend(other.ids)
        self.prompts.extend(other.prompts)
        self.approvals.extend(other.approvals)
        return self


class IdP(Protocol):
    provider: Provider

    def attempt(
        self,
        user: User,
        when: datetime,
        src: Net,
        outcome: Outcome,
        *,
        app: str,
        phone: Net | None,
        attacker: bool = False,
        answer_s: float = 8.0,
    ) -> Written:
        """A sign-in with a correct password that asks for a push, answered with ``outcome``."""
        ...

    def password_failure(
        self, user: User, when: datetime, src: Net, *, app: str, attacker: bool
    ) -> Written: ...

    def quiet(self, user: User, when: datetime, src: Net, *, app: str) -> Written:
        """A sign-in that needs no prompt (session or remembered device)."""
        ...

    def enroll(self, user: User, when: datetime, src: Net, *, phone_name: str, attacker: bool) -> Written: ...

    def remove_factors(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        """An admin removes every factor of the user (Okta reset_all, Entra/Duo: the authenticator)."""
        ...

    def delete_authenticator(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        """An admin deletes the user's push authenticator (Okta: deactivates the Okta Verify factor)."""
        ...

    def password_reset(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        """An admin resets the user's password (nothing at Duo: the application holds the password)."""
        ...

    def signin_to_enroll(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        """A password sign-in of a user without a factor, sent to register one."""
        ...

    def issue_bypass(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        """Temporary Access Pass (Entra), bypass code (Duo), temporary password (Okta)."""
        ...

    def use_bypass(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written: ...

    def privileged(self, user: User, when: datetime, src: Net, *, action: int) -> Written: ...

    def service(self, user: User, when: datetime, src: Net) -> Written:
        """A non-interactive sign-in by a service account."""
        ...
