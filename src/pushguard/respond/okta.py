"""Okta Management API responses: clear sessions and OAuth tokens, remove the attacker's factor, suspend.

Authorization is an API token (``SSWS``); the org URL and token come from the environment."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pushguard.respond.actions import Action, ActionResult, CannotTargetError, Outcome, Target, VendorAccount
from pushguard.respond.vendor import Responder, enrollments_for, parse_time, pick_by_creation
from pushguard.vendorapi.http import VendorHttp


class OktaResponder(Responder):
    vendor = "okta"

    def __init__(self, http: VendorHttp) -> None:
        super().__init__(http)
        self._handlers = {
            Action.REVOKE_SESSIONS: self.clear_sessions,
            Action.REMOVE_ATTACKER_FACTOR: self.remove_factor,
            Action.SUSPEND_USER: self.suspend,
        }

    def resolve_user(self, account: VendorAccount) -> str:
        # GET /api/v1/users/{login} accepts the login in place of the id.
        response = self.call("find_user", {200}, login=quote(account.login, safe="@"))
        user_id = response.json().get("id")
        if not isinstance(user_id, str):
            raise CannotTargetError(f"Okta returned no id for {account.login}")
        return user_id

    def clear_sessions(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        self.call("revoke_sessions", {204}, user=user_id)
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"cleared every Okta session of {account.login} and revoked its OAuth/OIDC tokens",
            undo="not reversible: the user signs in again",
        )

    def remove_factor(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        factor = self._attacker_factor(user_id, target)
        factor_id = str(factor["id"])
        kind = f"{factor.get('factorType', '?')}/{factor.get('provider', '?')}"
        self.call("remove_attacker_factor", {204}, user=user_id, factor=factor_id)
        profile = factor.get("profile") if isinstance(factor.get("profile"), dict) else {}
        device = (profile or {}).get("name") or (profile or {}).get("phoneNumber") or ""
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"removed factor {factor_id} ({kind}{', ' + device if device else ''}) "
            f"enrolled {factor.get('created', '?')}; the user's other factors are untouched",
            undo=f"cannot be restored: if it was the user's, they re-enroll {kind} "
            f"(POST /api/v1/users/{user_id}/factors)",
        )

    def _attacker_factor(self, user_id: str, target: Target) -> dict[str, Any]:
        named = [e.factor_id for e in enrollments_for(target, "okta") if e.factor_id]
        if len(set(named)) > 1:
            raise CannotTargetError(f"the logs name {len(set(named))} enrolled factors: remove them by hand")
        if named:
            response = self.call("factor", {200, 404}, user=user_id, factor=named[0])
            if response.status_code == 404:
                raise CannotTargetError(f"factor {named[0]} is no longer enrolled (already removed)")
            factor: dict[str, Any] = response.json()
            return factor
        listed = self.call("factors", {200}, user=user_id).json()
        factors = [f for f in listed if isinstance(f, dict) and "id" in f]
        return pick_by_creation(factors, lambda f: parse_time(str(f.get("created", ""))), target, "okta")

    def suspend(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        user = self.call("user", {200}, user=user_id).json()
        status = user.get("status")
        if status == "SUSPENDED":
            return ActionResult(outcome=Outcome.SKIPPED, detail=f"{account.login} is already suspended")
        if status != "ACTIVE":
            raise CannotTargetError(f"Okta suspends ACTIVE users only; {account.login} is {status}")
        self.call("suspend_user", {200}, user=user_id)
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"suspended {account.login} (was {status}): no sign-in until unsuspended",
            undo=f"POST /api/v1/users/{user_id}/lifecycle/unsuspend",
        )
