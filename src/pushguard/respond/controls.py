"""The vendor request behind each enforcement control, on the responders' HTTP clients.

Each function sends one change for one resolved user id and says how to reverse it. Facts the calls
rest on (vendor documentation):
- Okta Groups API: ``PUT /api/v1/groups/{groupId}/users/{userId}`` assigns and ``DELETE`` on the same
  path unassigns, both 204 No Content; only ``OKTA_GROUP`` groups can be changed.
- Microsoft Graph v1.0: ``POST /groups/{id}/members/$ref`` with ``{"@odata.id": ".../directoryObjects/
  {id}"}`` adds (204); a member already there gives 400 "One or more added object references already
  exist". ``DELETE /groups/{id}/members/{id}/$ref`` removes (204); a member not there gives 404.
  ``POST /identityProtection/riskyUsers/confirmCompromised`` with ``userIds`` sets the user risk high (204,
  Entra ID P2, IdentityRiskyUser.ReadWrite.All).
- Duo Admin API (duo_client ``add_user_group`` / ``delete_user_group`` / ``update_user``): ``POST
  /admin/v1/users/{user_id}/groups`` with ``group_id``, ``DELETE /admin/v1/users/{user_id}/groups/
  {group_id}``, ``POST /admin/v1/users/{user_id}`` with ``status``; each answers 200 with ``stat: OK``.

Group memberships are assumed to be pushguard's own (dedicated groups): the expiry removes them."""

from __future__ import annotations

import json
from urllib.parse import quote

from pushguard.model import Control, ControlIntent
from pushguard.respond.actions import ActionResult, Outcome, Target, VendorAccount
from pushguard.respond.duo import FORM, DuoResponder
from pushguard.respond.entra import EntraResponder
from pushguard.respond.okta import OktaResponder
from pushguard.respond.vendor import Responder
from pushguard.vendorapi.auth import duo_body
from pushguard.vendorapi.endpoints import endpoint, path
from pushguard.vendorapi.http import VendorApiError, vendor_message

ALREADY_MEMBER = "added object references already exist"  # Graph's 400 text for an existing member


def _q(text: str) -> str:
    return quote(text, safe="@")


def _account(intent: ControlIntent, user_id: str) -> VendorAccount:
    return VendorAccount(provider=intent.provider.value, login=intent.login, user_id=user_id)


def _target(intent: ControlIntent, user_id: str) -> Target:
    return Target(identity=intent.identity, incident=intent.key, accounts=(_account(intent, user_id),))


def _performed(detail: str, undo: str | None = None) -> ActionResult:
    return ActionResult(outcome=Outcome.PERFORMED, detail=detail, undo=undo)


# -- Okta ---------------------------------------------------------------------------------------


def _okta(responder: OktaResponder, intent: ControlIntent, user: str) -> ActionResult:
    add = endpoint("okta", Control.ADD_TO_GROUP)
    remove = endpoint("okta", Control.REMOVE_FROM_GROUP)
    where = path("okta", intent.control, group=_q(intent.group_id or ""), user=_q(user))
    if intent.control is Control.ADD_TO_GROUP:
        responder.call(intent.control, {204}, group=_q(intent.group_id or ""), user=_q(user))  # 204 if member
        return _performed(f"added {intent.login} to Okta group {intent.group_id}", f"{remove.method} {where}")
    responder.call(intent.control, {204}, group=_q(intent.group_id or ""), user=_q(user))
    return _performed(f"removed {intent.login} from Okta group {intent.group_id}", f"{add.method} {where}")


# -- Entra (Microsoft Graph) --------------------------------------------------------------------


def _entra(responder: EntraResponder, intent: ControlIntent, user: str) -> ActionResult:
    http = responder.http
    if intent.control is Control.CONFIRM_COMPROMISED:
        return responder.confirm_compromised(user, _account(intent, user), _target(intent, user))
    group = _q(intent.group_id or "")
    label = f"{intent.login} in Entra group {intent.group_id}"
    add = endpoint("entra", Control.ADD_TO_GROUP)
    remove = endpoint("entra", Control.REMOVE_FROM_GROUP)
    add_path = path("entra", Control.ADD_TO_GROUP, group=group)
    remove_path = path("entra", Control.REMOVE_FROM_GROUP, group=group, user=_q(user))
    if intent.control is Control.ADD_TO_GROUP:
        # The reference names the user under the same Graph endpoint (national clouds differ).
        body = json.dumps({"@odata.id": f"{http.base_url}/directoryObjects/{user}"}).encode()
        response = responder.call(
            Control.ADD_TO_GROUP, {204, 400}, body=body, content_type="application/json", group=group
        )
        undo = f"{remove.method} {remove_path}"
        if response.status_code == 400:
            why = vendor_message(response)
            if ALREADY_MEMBER not in why.lower():
                raise VendorApiError(
                    f"entra: {add.method} {add_path}: HTTP 400: {why}", 400, tuple(http.requests)
                )
            return _performed(f"{label}: already a member ({why})", undo)
        return _performed(f"added {label}", undo)
    response = responder.call(Control.REMOVE_FROM_GROUP, {204, 404}, group=group, user=_q(user))
    if response.status_code == 404:
        return _performed(f"{label}: not a member any more ({vendor_message(response)})")
    return _performed(f"removed {label}", f"{add.method} {add_path}")


# -- Duo Admin API ------------------------------------------------------------------------------


def _duo(responder: DuoResponder, intent: ControlIntent, user: str) -> ActionResult:
    quoted = _q(user)
    add = endpoint("duo", Control.ADD_TO_GROUP)
    remove = endpoint("duo", Control.REMOVE_FROM_GROUP)
    if intent.control is Control.SET_USER_STATUS:
        if intent.status == "disabled":
            # The responder's own disable: an already disabled user is left alone (and not re-enabled
            # at expiry, since nothing was applied), and the undo restores the status it had.
            return responder.disable(user, _account(intent, user), _target(intent, user))
        status = intent.status or "active"
        responder.admin_response(
            Control.SET_USER_STATUS, body=duo_body({"status": status}), content_type=FORM, user=quoted
        )
        return _performed(f"set Duo status of {intent.login} to {status}")
    group = intent.group_id or ""
    add_path = path("duo", Control.ADD_TO_GROUP, user=quoted)
    remove_path = path("duo", Control.REMOVE_FROM_GROUP, user=quoted, group=_q(group))
    if intent.control is Control.ADD_TO_GROUP:
        body = duo_body({"group_id": group})
        responder.admin_response(Control.ADD_TO_GROUP, body=body, content_type=FORM, user=quoted)
        return _performed(f"added {intent.login} to Duo group {group}", f"{remove.method} {remove_path}")
    responder.admin_response(Control.REMOVE_FROM_GROUP, user=quoted, group=_q(group))
    return _performed(
        f"removed {intent.login} from Duo group {group}", f"{add.method} {add_path} group_id={group}"
    )


_GROUP = frozenset({Control.ADD_TO_GROUP, Control.REMOVE_FROM_GROUP})


def apply_control(responder: Responder, intent: ControlIntent, user_id: str) -> ActionResult:
    """Send the intent's change for ``user_id``; VendorApiError / CannotTargetError propagate."""
    control = intent.control
    if isinstance(responder, OktaResponder) and control in _GROUP:
        return _okta(responder, intent, user_id)
    if isinstance(responder, EntraResponder) and control in _GROUP | {Control.CONFIRM_COMPROMISED}:
        return _entra(responder, intent, user_id)
    if isinstance(responder, DuoResponder) and control in _GROUP | {Control.SET_USER_STATUS}:
        return _duo(responder, intent, user_id)
    return ActionResult(outcome=Outcome.SKIPPED, detail=f"{responder.vendor} has no {control.value} control")


_OK = frozenset({200, 201, 202, 204})  # what a read answers with


def in_place(responder: Responder, intent: ControlIntent, user_id: str) -> bool | None:
    """Whether the vendor already holds the intent's group membership (read back before applying an
    intent a crash left unacknowledged); None when the control cannot be read back this way."""
    if intent.control is not Control.ADD_TO_GROUP or intent.group_id is None:
        return None
    group, user = intent.group_id, _q(user_id)
    if isinstance(responder, DuoResponder):
        groups = responder.admin_response("member_groups", user=user) or []
        return any(str(g.get("group_id")) == group for g in groups)
    if isinstance(responder, EntraResponder):
        body = json.dumps({"groupIds": [group]}).encode()
        answer = responder.call(
            "member_groups", _OK, body=body, content_type="application/json", user=user
        ).json()
        return group in answer.get("value", [])
    if isinstance(responder, OktaResponder):
        groups = responder.call("member_groups", _OK, user=user).json()
        return any(str(g.get("id")) == group for g in groups)
    return None
