"""One table of the vendor REST calls pushguard makes: the enforcement controls (the planner shows them
on its intents, ``decide.enforce``; the executor sends them, ``respond.controls``; the closed loop reads
a membership back before applying an intent a crash left unacknowledged, ``respond.outbox``) and the
playbook's response actions (the responders send them, ``respond.okta`` / ``entra`` / ``duo``; a dry run
shows them, ``respond.runner``).

Paths are relative to each vendor's API base URL (Okta org URL, Graph ``.../v1.0``, Duo API host);
``{group}``, ``{user}``, ``{status}``, ``{login}``, ``{factor}`` and ``{collection}`` are filled per
call. Vendor documentation the calls rest on:
Okta Groups API (assign / unassign a user: PUT / DELETE ``/api/v1/groups/{groupId}/users/{userId}``;
a user's groups: GET ``/api/v1/users/{id}/groups``); Microsoft Graph v1.0 (``members/$ref`` add and
remove; ``checkMemberGroups``; ``riskyUsers/confirmCompromised``); Duo Admin API (``/admin/v1/users/
{user_id}/groups`` add, list, delete; ``/admin/v1/users/{user_id}`` status). The response actions: Okta
Users API (get by login, clear sessions with ``oauthTokens``, lifecycle suspend) and Factors API (list,
get, delete); Graph user (get, ``revokeSignInSessions``, ``accountEnabled``) and authentication methods
(list, delete from the method's collection); Duo Admin API users (by username, get, status) and phones
(list a user's, delete)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Endpoint(NamedTuple):
    method: str
    path: str  # relative to the vendor's API base URL, with placeholders filled per call
    note: str = ""  # what the body carries, shown after the path
    query: str = ""  # a fixed query string, sent as parameters and shown after the path


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
    # -- the playbook's response actions (an action's value), and the reads they make first ----------
    ("okta", "find_user"): Endpoint("GET", "/api/v1/users/{login}"),
    ("okta", "user"): Endpoint("GET", "/api/v1/users/{user}"),
    ("okta", "factors"): Endpoint("GET", "/api/v1/users/{user}/factors"),
    ("okta", "factor"): Endpoint("GET", "/api/v1/users/{user}/factors/{factor}"),
    ("okta", "revoke_sessions"): Endpoint(
        "DELETE", "/api/v1/users/{user}/sessions", query="oauthTokens=true"
    ),
    ("okta", "remove_attacker_factor"): Endpoint("DELETE", "/api/v1/users/{user}/factors/{factor}"),
    ("okta", "suspend_user"): Endpoint("POST", "/api/v1/users/{user}/lifecycle/suspend"),
    ("entra", "find_user"): Endpoint("GET", "/users/{login}"),
    ("entra", "user"): Endpoint("GET", "/users/{user}"),
    ("entra", "methods"): Endpoint("GET", "/users/{user}/authentication/methods"),
    ("entra", "revoke_sessions"): Endpoint("POST", "/users/{user}/revokeSignInSessions"),
    ("entra", "remove_attacker_factor"): Endpoint(
        "DELETE", "/users/{user}/authentication/{collection}/{factor}"
    ),
    ("entra", "suspend_user"): Endpoint("PATCH", "/users/{user}", '{{"accountEnabled": false}}'),
    ("duo", "find_user"): Endpoint("GET", "/admin/v1/users", "username={login}"),
    ("duo", "user"): Endpoint("GET", "/admin/v1/users/{user}"),
    ("duo", "phones"): Endpoint("GET", "/admin/v1/users/{user}/phones"),
    ("duo", "suspend_user"): Endpoint("POST", "/admin/v1/users/{user}", '{{"status": "disabled"}}'),
    ("duo", "remove_attacker_factor"): Endpoint("DELETE", "/admin/v1/phones/{factor}"),
}

_BLANK = {"group": "", "user": "", "status": "", "login": "", "factor": "", "collection": ""}


def endpoint(vendor: str, call: str) -> Endpoint:
    """The vendor's call (a control's value, or ``member_groups``); KeyError when it has none."""
    return ENDPOINTS[(vendor, call)]


def exists(vendor: str, call: str) -> bool:
    return (vendor, call) in ENDPOINTS


def path(vendor: str, call: str, **fill: str) -> str:
    """The call's path with ``fill`` (already URL-quoted by the caller) in its placeholders."""
    return ENDPOINTS[(vendor, call)].path.format(**{**_BLANK, **fill})


def query(vendor: str, call: str) -> dict[str, str]:
    """The call's fixed query parameters ({} when none)."""
    text = ENDPOINTS[(vendor, call)].query
    return dict(part.split("=", 1) for part in text.split("&")) if text else {}


def shown(vendor: str, call: str, *, prefixed: bool = True, **fill: str) -> str:
    """The request as an intent, a dry run and the audit log show it: "METHOD /path?query (body)"; ""
    when the vendor has no such call. ``prefixed=False``: without Graph's version prefix."""
    found = ENDPOINTS.get((vendor, call))
    if found is None:
        return ""
    values = {**_BLANK, **fill}
    prefix = SHOWN_PREFIX.get(vendor, "") if prefixed else ""
    text = f"{found.method} {prefix}{found.path.format(**values)}"
    if found.query:
        text += f"?{found.query}"
    return f"{text} ({found.note.format(**values)})" if found.note else text
