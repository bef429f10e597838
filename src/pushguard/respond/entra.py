"""Microsoft Graph responses for Entra ID: revoke sign-in sessions, delete the attacker's authentication
method (that one method resource, never every method), disable the account, confirm compromised.

Authorization is a bearer token for Graph (client credentials through MSAL, or a token given in the
environment). Revoking sessions invalidates refresh tokens and session cookies only: access tokens
already issued stay valid until they expire."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pushguard.respond.actions import Action, ActionResult, CannotTargetError, Outcome, Target, VendorAccount
from pushguard.respond.vendor import Responder, enrollments_for, parse_time, pick_by_creation
from pushguard.vendorapi.http import VendorHttp

TOKEN_NOTE = (
    "access tokens already issued stay valid until they expire (typically 60-90 minutes; sooner only "
    "in apps that support continuous access evaluation)"
)

# @odata.type of a method → the collection its resource lives under (/users/{id}/authentication/<here>).
METHOD_COLLECTIONS = {
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod": "microsoftAuthenticatorMethods",
    "#microsoft.graph.phoneAuthenticationMethod": "phoneMethods",
    "#microsoft.graph.fido2AuthenticationMethod": "fido2Methods",
    "#microsoft.graph.softwareOathAuthenticationMethod": "softwareOathMethods",
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod": "temporaryAccessPassMethods",
    "#microsoft.graph.emailAuthenticationMethod": "emailMethods",
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod": "windowsHelloForBusinessMethods",
    "#microsoft.graph.platformCredentialAuthenticationMethod": "platformCredentialMethods",
}
# canonical Factor value → the method collection it is enrolled as
FACTOR_COLLECTIONS = {
    "ms_authenticator_push": "microsoftAuthenticatorMethods",
    "ms_authenticator_otp": "microsoftAuthenticatorMethods",
    "ms_authenticator_passwordless": "microsoftAuthenticatorMethods",
    "sms": "phoneMethods",
    "voice": "phoneMethods",
    "webauthn": "fido2Methods",
    "totp": "softwareOathMethods",
    "temporary_access_pass": "temporaryAccessPassMethods",
    "email": "emailMethods",
    "windows_hello": "windowsHelloForBusinessMethods",
}


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


class EntraResponder(Responder):
    vendor = "entra"

    def __init__(self, http: VendorHttp) -> None:
        super().__init__(http)
        self._handlers = {
            Action.REVOKE_SESSIONS: self.revoke_sessions,
            Action.REMOVE_ATTACKER_FACTOR: self.remove_method,
            Action.SUSPEND_USER: self.disable,
            Action.CONFIRM_COMPROMISED: self.confirm_compromised,
        }

    def resolve_user(self, account: VendorAccount) -> str:
        response = self.call(
            "find_user", {200}, params={"$select": "id"}, login=quote(account.login, safe="@")
        )
        user_id = response.json().get("id")
        if not isinstance(user_id, str):
            raise CannotTargetError(f"Graph returned no id for {account.login}")
        return user_id

    def revoke_sessions(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        self.call("revoke_sessions", {200, 204}, user=user_id)
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"revoked the refresh tokens and session cookies of {account.login}",
            undo="not reversible: the user signs in again",
            notes=(TOKEN_NOTE,),
        )

    def remove_method(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        listed = self.call("methods", {200}, user=user_id)
        methods = [m for m in listed.json().get("value", []) if isinstance(m, dict)]
        # The password is never a candidate; neither is a method kind the enrollment was not.
        removable = [m for m in methods if m.get("@odata.type") in METHOD_COLLECTIONS]
        kinds = {FACTOR_COLLECTIONS.get(e.factor or "") for e in enrollments_for(target, "entra")} - {None}
        if kinds:
            removable = [m for m in removable if METHOD_COLLECTIONS[m["@odata.type"]] in kinds]
        named = {e.factor_id for e in enrollments_for(target, "entra") if e.factor_id}
        by_id = [m for m in removable if m.get("id") in named]
        if len(by_id) == 1:
            method = by_id[0]
        else:
            method = pick_by_creation(
                removable, lambda m: parse_time(str(m.get("createdDateTime") or "")), target, "entra"
            )
        collection = METHOD_COLLECTIONS[method["@odata.type"]]
        method_id = str(method["id"])
        self.call("remove_attacker_factor", {204}, user=user_id, collection=collection, factor=method_id)
        label = method.get("displayName") or method.get("phoneNumber") or method.get("deviceTag") or ""
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"deleted {collection} {method_id}{' (' + str(label) + ')' if label else ''} created "
            f"{method.get('createdDateTime', '?')}; the user's other methods are untouched",
            undo="cannot be restored: if it was the user's, they register it again (My Security Info)",
        )

    def disable(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        user = self.call("user", {200}, params={"$select": "id,accountEnabled"}, user=user_id).json()
        if user.get("accountEnabled") is False:
            return ActionResult(outcome=Outcome.SKIPPED, detail=f"{account.login} is already disabled")
        self.call(
            "suspend_user",
            {204},
            body=_json({"accountEnabled": False}),
            content_type="application/json",
            user=user_id,
        )
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"disabled the account {account.login} (accountEnabled false): no new sign-ins",
            undo=f'PATCH /users/{user_id} {{"accountEnabled": true}}',
            notes=(TOKEN_NOTE,),
        )

    def confirm_compromised(self, user_id: str, account: VendorAccount, target: Target) -> ActionResult:
        self.call(
            "confirm_compromised", {204}, body=_json({"userIds": [user_id]}), content_type="application/json"
        )
        return ActionResult(
            outcome=Outcome.PERFORMED,
            detail=f"confirmed {account.login} compromised in ID Protection (user risk set to high)",
            undo=f'POST /identityProtection/riskyUsers/dismiss {{"userIds": ["{user_id}"]}}',
            notes=("risk-based Conditional Access policies now apply to the user (needs Entra ID P2)",),
        )
