"""Auth hooks for ``VendorHttp``: Okta API token, Graph bearer token, Duo request signatures.

Duo's Admin API wants every request signed (HMAC-SHA512, signature version 5, through duo-client's own
``sign``): the signature covers the method, host, path, the canonical query parameters and the body, so
the hook gets all of them."""

from __future__ import annotations

import email.utils
import hashlib
import json
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from duo_client.client import normalize_params, sign

from pushguard.vendorapi.http import AuthHook


def okta_auth(token: str) -> AuthHook:
    def headers(method: str, path: str, params: Mapping[str, str], body: bytes) -> dict[str, str]:
        return {"Authorization": f"SSWS {token}"}

    return headers


def bearer_auth(token: Callable[[], str]) -> AuthHook:
    """``token`` is asked on every request, so a cached token that nears expiry is renewed (MSAL)."""

    def headers(method: str, path: str, params: Mapping[str, str], body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {token()}"}

    return headers


def duo_auth(base_url: str, ikey: str, skey: str) -> AuthHook:
    host = urlsplit(base_url).netloc.lower()

    def headers(method: str, path: str, params: Mapping[str, str], body: bytes) -> dict[str, str]:
        date = email.utils.formatdate()
        authorization = sign(
            ikey,
            skey,
            method,
            host,
            path,
            date,
            5,
            normalize_params(dict(params)),
            body=body.decode(),
            digestmod=hashlib.sha512,
            additional_headers={},
        )
        return {"Authorization": authorization, "Date": date}

    return headers


def duo_body(params: Mapping[str, str]) -> bytes:
    """Signature v5 sends POST parameters as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":")).encode()
