"""Duo Admin API responses: disable the user (``status``), delete the phone the attacker added.

Requests are signed as Duo's Admin API expects (``vendorapi.auth.duo_auth``). ``locked_out`` can only
be set by Duo itself, so the lock-out we can apply is ``disabled``. Duo keeps no sign-in sessions and no
confirm-compromised signal (see NOT_OFFERED)."""

from __future__ import annotations

import re
from typing import Any

from pushguard.respond.actions import Action, ActionResult, CannotTargetError, Outcome, Target, VendorAccount
from pushguard.respond.vendor import Responder, enrollments_for
from pushguard.vendorapi.auth import duo_body
from pushguard.vendorapi.http import VendorHttp

FORM = "application/json"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _same_number(a: str, b: str) -> bool:
    # One side may be national (trunk 0, no country code): a shared tail of 7+ digits is the same line.
    da, db = _digits(a).lstrip("0"), _digits(b).lstrip("0")
    if not da or not db:
        return False
    return da == db or (min(len(da), len(db)) >= 7 and (da.endswith(db) or db.endswith(da)))


class DuoResponder(Responder):
    vendor = "duo"

    def __init__(self, http: VendorHttp) -> None:
        super().__init__(http)
        self._handlers = {
            Action.SUSPEND_USER: self.disable,
            Action.REMOVE_ATTACKER_FACTOR: self.delete_phone,
        }

    def admin_response(self, name: str, **kwargs: Any) -> Any:
        """The ``response`` of an Admin API call (``vendorapi.endpoints``); CannotTargetError when Duo's
        ``stat`` is not OK."""
        payload = self.call(name, {200}, **kwargs).json()
        if payload.get("stat") != "OK":
            raise CannotTargetError(f"Duo answered {payload.get('stat')}: {payload.get('message', '')}")
        return payload.get("response")

    def resolve_user(self, account: VendorAccount) -> str:
        users = self.admin_response("find_user", params={"username": account.login})
        if not users:
            raise CannotTargetError(f"Duo has no user {account.login}")
        return str(users[0]["user_id"])

    def disable(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        user = self.admin_response("user", user=user_id)
        before = str(user.get("status", "active"))
        if before == "disabled":
            return ActionResult(outcome=Outcome.SKIPPED, detail=f"{account.login} is already disabled")
        body = duo_body({"status": "disabled"})
        self.admin_response("suspend_user", body=body, content_type=FORM, user=user_id)
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"set Duo status of {account.login} to disabled (was {before}): every Duo login fails",
            undo=f'POST /admin/v1/users/{user_id} {{"status": "{before}"}}',
        )

    def delete_phone(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        named = [e.factor_id for e in enrollments_for(target, "duo") if e.factor_id]
        if not named:
            # Duo lists no enrollment time for a phone: without the log's phone there is no safe choice.
            raise CannotTargetError("the logs name no phone enrolled in the incident (pass the logs)")
        phones = [p for p in self.admin_response("phones", user=user_id) if isinstance(p, dict)]
        matches = [
            p
            for p in phones
            if any(p.get("phone_id") == n or _same_number(str(p.get("number") or ""), n) for n in named)
        ]
        if len(matches) != 1:
            raise CannotTargetError(
                f"{len(matches)} of the user's phones match the enrolled one (need exactly 1)"
            )
        phone = matches[0]
        phone_id = str(phone["phone_id"])
        self.admin_response("remove_attacker_factor", factor=phone_id)
        number = str(phone.get("number") or "")
        platform = str(phone.get("platform") or "")
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"deleted phone {phone_id} ({number or 'no number'}, {platform or 'unknown platform'}); "
            "the user's other phones are untouched",
            undo=f're-create: POST /admin/v1/phones {{"number": "{number}", "platform": "{platform}"}}, then '
            f'POST /admin/v1/users/{user_id}/phones {{"phone_id": <new id>}} and reactivate Duo Mobile',
        )
