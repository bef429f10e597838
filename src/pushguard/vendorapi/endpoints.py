"""One table of the vendor REST calls behind each enforcement control: the planner shows them on its
intents (``decide.enforce``), the executor sends them (``respond.controls``), the closed loop reads a
membership back before applying an intent a crash left unacknowledged (``respond.outbox``).

Paths are relative to each vendor's API base URL (Okta org URL, Graph ``.../v1.0``, Duo API host);
``{group}``, ``{user}`` and ``{status}`` are filled per intent. Vendor documentation the calls rest on:
Okta Groups API (assign / unassign a user: PUT / DELETE ``/api/v1/groups/{groupId}/users/{userId}``;
a user's groups: GET ``/api/v1/users/{id}/groups``); Microsoft Graph v1.0 (``members/$ref`` add and
remove; ``checkMemberGroups``; ``riskyUsers/confirmCompromised``); Duo Admin API (``/admin/v1/users/
{user_id}/groups`` add, list, delete; ``/admin/v1/users/{user_id}`` status)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Endpoint(NamedTuple):
    method: str
    path: str  # relative to the vendor's API base URL, with {group} / {user} / {status} placeholders
    note: str = ""  # what the body carries, shown after the path


# How the planner shows a path: Graph's base URL ends in its version.
SHOWN_PREFIX: Mapping[str, str] = {"entra": "/v1.0"}

ENDPOINTS: Mapping[tuple[str, str], Endpoint] = {
    ("okta", "add_to_group"): Endpoint("PUT", "/api/v1/groups/{group}/users/{user}"),
    ("okta", "remove_from_group"): Endpoint("DELETE", "/api/v1/groups/{group}/users/{user}"),
    ("okta", "member_groups"): Endpoint("GET", "/api/v1/users/{user}/groups"),
    ("entra", "add_to_group"): Endpoint("POST", "/groups/{group}/members/$ref"),
    ("entra", "remove_from_group"): Endpoint("DELETE", "/groups/{group}/members/{user}/$ref"),
    ("entra", "member_groups"): Endpoint("POST", "/users/{user}/checkMemberGroups", "groupIds=[{group}]"),
    ("entra", "confirm_compromised"): Endpoint("POST", "/identityProtection/riskyUsers/confirmCompromised"),
    ("duo", "add_to_group"): Endpoint("POST", "/admin/v1/users/{user}/groups", "group_id={group}"),
    ("duo", "remove_from_group"): Endpoint("DELETE", "/admin/v1/users/{user}/groups/{group}"),
    ("duo", "member_groups"): Endpoint("GET", "/admin/v1/users/{user}/groups"),
    ("duo", "set_user_status"): Endpoint("POST", "/admin/v1/users/{user}", "status={status}"),
}


def endpoint(vendor: str, call: str) -> Endpoint:
    """The vendor's call (a control's value, or ``member_groups``); KeyError when it has none."""
    return ENDPOINTS[(vendor, call)]


def path(vendor: str, call: str, **fill: str) -> str:
    """The call's path with ``fill`` (already URL-quoted by the caller) in its placeholders."""
    return ENDPOINTS[(vendor, call)].path.format(**{"group": "", "user": "", "status": "", **fill})


def shown(vendor: str, call: str, *, group: str = "", user: str = "", status: str = "") -> str:
    """The request as an intent and the audit log show it: "METHOD /path (body)"; "" when none."""
    found = ENDPOINTS.get((vendor, call))
    if found is None:
        return ""
    fill = {"group": group, "user": user, "status": status}
    text = f"{found.method} {SHOWN_PREFIX.get(vendor, '')}{found.path.format(**fill)}"
    return f"{text} ({found.note.format(**fill)})" if found.note else text
