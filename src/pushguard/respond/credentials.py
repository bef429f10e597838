"""The responder of each vendor, on the shared vendor API client (``pushguard.vendorapi``).

Credentials come from environment variables only; ``pushguard.vendorapi.credentials`` lists them."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from pushguard.model import ConfigError
from pushguard.respond.duo import DuoResponder
from pushguard.respond.entra import EntraResponder
from pushguard.respond.okta import OktaResponder
from pushguard.respond.vendor import Responder
from pushguard.vendorapi.credentials import VENDORS, vendor_http
from pushguard.vendorapi.http import MAX_ATTEMPTS

_RESPONDERS: dict[str, type[Responder]] = {
    "okta": OktaResponder,
    "entra": EntraResponder,
    "duo": DuoResponder,
}


def build_responder(
    vendor: str,
    env: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
    *,
    max_attempts: int = MAX_ATTEMPTS,
) -> Responder:
    """The responder of one vendor, configured from ``env`` (default: the process environment).
    ``max_attempts=1``: no retry inside the call (the closed loop's outbox retries on its own clock)."""
    if vendor not in VENDORS:
        raise ConfigError(f"unknown vendor {vendor!r} (okta, entra or duo)")
    env = os.environ if env is None else env
    return _RESPONDERS[vendor](vendor_http(vendor, env, client=client, max_attempts=max_attempts))
