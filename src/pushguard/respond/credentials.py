"""Vendor credentials, from environment variables only (never from files, logs or reports).

| vendor | variables |
|---|---|
| Okta  | PUSHGUARD_OKTA_ORG_URL, PUSHGUARD_OKTA_API_TOKEN |
| Entra | PUSHGUARD_ENTRA_TENANT_ID, PUSHGUARD_ENTRA_CLIENT_ID, PUSHGUARD_ENTRA_CLIENT_SECRET (client
          credentials through MSAL), or PUSHGUARD_ENTRA_ACCESS_TOKEN; PUSHGUARD_ENTRA_GRAPH_URL overrides
          the Graph base URL (national clouds) |
| Duo   | PUSHGUARD_DUO_API_HOST (api-xxxx.duosecurity.com, or a full URL), PUSHGUARD_DUO_IKEY,
          PUSHGUARD_DUO_SKEY |
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import httpx

from pushguard.model import ConfigError
from pushguard.respond.duo import DuoResponder, duo_auth
from pushguard.respond.entra import GRAPH_URL, EntraResponder, bearer_auth
from pushguard.respond.http import VendorHttp
from pushguard.respond.okta import OktaResponder, okta_auth
from pushguard.respond.vendor import Responder

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class Secret:
    """A credential that prints as *** (repr, str, f-strings), so it cannot leak into a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def configured_vendors(env: Mapping[str, str] | None = None) -> dict[str, bool]:
    env = os.environ if env is None else env
    return {
        "okta": bool(_get(env, "PUSHGUARD_OKTA_ORG_URL") and _get(env, "PUSHGUARD_OKTA_API_TOKEN")),
        "entra": bool(
            _get(env, "PUSHGUARD_ENTRA_ACCESS_TOKEN")
            or all(_get(env, f"PUSHGUARD_ENTRA_{k}") for k in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET"))
        ),
        "duo": bool(all(_get(env, f"PUSHGUARD_DUO_{k}") for k in ("API_HOST", "IKEY", "SKEY"))),
    }


def _msal_token(tenant: str, client_id: str, secret: Secret) -> Callable[[], str]:
    import msal  # type: ignore[import-untyped]  # only an execute run against Entra needs it

    app = msal.ConfidentialClientApplication(
        client_id, authority=f"https://login.microsoftonline.com/{tenant}", client_credential=secret.reveal()
    )

    def token() -> str:
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])  # MSAL caches until near expiry
        if not isinstance(result, dict) or "access_token" not in result:
            error = result.get("error_description", "unknown error") if isinstance(result, dict) else "none"
            raise ConfigError(f"entra: could not get a Graph token: {str(error).splitlines()[0]}")
        return str(result["access_token"])

    return token


def build_responder(
    vendor: str, env: Mapping[str, str] | None = None, client: httpx.Client | None = None
) -> Responder:
    """The responder of one vendor, configured from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    if not configured_vendors(env).get(vendor):
        raise ConfigError(f"{vendor}: no credentials in the environment (see pushguard.respond.credentials)")
    if vendor == "okta":
        token = Secret(_get(env, "PUSHGUARD_OKTA_API_TOKEN") or "")
        url = _get(env, "PUSHGUARD_OKTA_ORG_URL") or ""
        return OktaResponder(VendorHttp("okta", url, okta_auth(token.reveal()), client=client))
    if vendor == "entra":
        given = _get(env, "PUSHGUARD_ENTRA_ACCESS_TOKEN")
        if given:
            fixed = Secret(given)
            token_fn: Callable[[], str] = fixed.reveal
        else:
            token_fn = _msal_token(
                _get(env, "PUSHGUARD_ENTRA_TENANT_ID") or "",
                _get(env, "PUSHGUARD_ENTRA_CLIENT_ID") or "",
                Secret(_get(env, "PUSHGUARD_ENTRA_CLIENT_SECRET") or ""),
            )
        url = _get(env, "PUSHGUARD_ENTRA_GRAPH_URL") or GRAPH_URL
        return EntraResponder(VendorHttp("entra", url, bearer_auth(token_fn), client=client))
    if vendor == "duo":
        host = _get(env, "PUSHGUARD_DUO_API_HOST") or ""
        url = host if "://" in host else f"https://{host}"
        skey = Secret(_get(env, "PUSHGUARD_DUO_SKEY") or "")
        auth = duo_auth(url, _get(env, "PUSHGUARD_DUO_IKEY") or "", skey.reveal())
        return DuoResponder(VendorHttp("duo", url, auth, client=client))
    raise ConfigError(f"unknown vendor {vendor!r} (okta, entra or duo)")
