"""Vendor credentials, from environment variables only (never from files, logs or reports).

| vendor | variables |
|---|---|
| Okta  | PUSHGUARD_OKTA_ORG_URL, PUSHGUARD_OKTA_API_TOKEN |
| Entra | PUSHGUARD_ENTRA_TENANT_ID, PUSHGUARD_ENTRA_CLIENT_ID, PUSHGUARD_ENTRA_CLIENT_SECRET (client
          credentials through MSAL), or PUSHGUARD_ENTRA_ACCESS_TOKEN; PUSHGUARD_ENTRA_GRAPH_URL overrides
          the Graph base URL (national clouds, tests) |
| Duo   | PUSHGUARD_DUO_API_HOST (api-xxxx.duosecurity.com, or a full URL), PUSHGUARD_DUO_IKEY,
          PUSHGUARD_DUO_SKEY |
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

import httpx

from pushguard.model import ConfigError
from pushguard.vendorapi.auth import bearer_auth, duo_auth, okta_auth
from pushguard.vendorapi.http import MAX_ATTEMPTS, MAX_WAIT_S, AuthHook, VendorHttp

GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
VENDORS = ("okta", "entra", "duo")
_ENTRA_APP = ("PUSHGUARD_ENTRA_TENANT_ID", "PUSHGUARD_ENTRA_CLIENT_ID", "PUSHGUARD_ENTRA_CLIENT_SECRET")
_REQUIRED = {
    "okta": ("PUSHGUARD_OKTA_ORG_URL", "PUSHGUARD_OKTA_API_TOKEN"),
    "duo": ("PUSHGUARD_DUO_API_HOST", "PUSHGUARD_DUO_IKEY", "PUSHGUARD_DUO_SKEY"),
}


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


def env_value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def missing_variables(vendor: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The environment variables still needed to call this vendor (empty: configured)."""
    env = os.environ if env is None else env
    if vendor == "entra":
        if env_value(env, "PUSHGUARD_ENTRA_ACCESS_TOKEN"):
            return []
        return [name for name in _ENTRA_APP if not env_value(env, name)]
    if vendor not in _REQUIRED:
        raise ConfigError(f"unknown vendor {vendor!r} (okta, entra or duo)")
    return [name for name in _REQUIRED[vendor] if not env_value(env, name)]


def configured_vendors(env: Mapping[str, str] | None = None) -> dict[str, bool]:
    return {vendor: not missing_variables(vendor, env) for vendor in VENDORS}


def msal_token(tenant: str, client_id: str, secret: Secret) -> Callable[[], str]:
    """A Graph token getter: MSAL client credentials, cached by MSAL until near expiry."""
    import msal  # type: ignore[import-untyped]  # only a run against Entra needs it

    app = msal.ConfidentialClientApplication(
        client_id, authority=f"https://login.microsoftonline.com/{tenant}", client_credential=secret.reveal()
    )

    def token() -> str:
        result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        if not isinstance(result, dict) or "access_token" not in result:
            error = result.get("error_description", "unknown error") if isinstance(result, dict) else "none"
            raise ConfigError(f"entra: could not get a Graph token: {str(error).splitlines()[0]}")
        return str(result["access_token"])

    return token


def graph_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env_value(env, "PUSHGUARD_ENTRA_GRAPH_URL") or GRAPH_URL).rstrip("/")


def vendor_http(
    vendor: str,
    env: Mapping[str, str] | None = None,
    *,
    client: httpx.Client | None = None,
    base_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
    max_wait_s: float = MAX_WAIT_S,
    timeout_s: float = 15.0,
    record_requests: bool = True,
) -> VendorHttp:
    """The HTTP client of one vendor, configured from ``env`` (default: the process environment).
    ``base_url`` replaces the vendor's (Entra: another Graph version)."""
    env = os.environ if env is None else env
    missing = missing_variables(vendor, env)
    if missing:
        raise ConfigError(f"{vendor}: no credentials in the environment: set {', '.join(missing)}")
    url, auth = _endpoint(vendor, env)
    return VendorHttp(
        vendor,
        base_url or url,
        auth,
        client=client,
        sleep=sleep,
        max_attempts=max_attempts,
        max_wait_s=max_wait_s,
        timeout_s=timeout_s,
        record_requests=record_requests,
    )


def _endpoint(vendor: str, env: Mapping[str, str]) -> tuple[str, AuthHook]:
    if vendor == "okta":
        token = Secret(env_value(env, "PUSHGUARD_OKTA_API_TOKEN") or "")
        return env_value(env, "PUSHGUARD_OKTA_ORG_URL") or "", okta_auth(token.reveal())
    if vendor == "entra":
        given = env_value(env, "PUSHGUARD_ENTRA_ACCESS_TOKEN")
        if given:
            token_fn: Callable[[], str] = Secret(given).reveal
        else:
            token_fn = msal_token(
                env_value(env, "PUSHGUARD_ENTRA_TENANT_ID") or "",
                env_value(env, "PUSHGUARD_ENTRA_CLIENT_ID") or "",
                Secret(env_value(env, "PUSHGUARD_ENTRA_CLIENT_SECRET") or ""),
            )
        return graph_url(env), bearer_auth(token_fn)
    host = env_value(env, "PUSHGUARD_DUO_API_HOST") or ""
    url = host if "://" in host else f"https://{host}"
    skey = Secret(env_value(env, "PUSHGUARD_DUO_SKEY") or "")
    return url, duo_auth(url, env_value(env, "PUSHGUARD_DUO_IKEY") or "", skey.reveal())
