"""The logs each vendor offers to ``pushguard collect``, built from the environment's credentials."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from pushguard.collect.collector import VendorLog
from pushguard.collect.duo import MIN_LAG_S, DuoAdminLog, DuoAuthLog
from pushguard.collect.graph import GraphLog
from pushguard.collect.okta import OktaSystemLog
from pushguard.model import ConfigError
from pushguard.vendorapi.credentials import graph_url, vendor_http
from pushguard.vendorapi.http import VendorHttp

LOGS = {"okta": ("system",), "entra": ("signins", "audits"), "duo": ("auth", "admin")}
DEFAULT_LAG_S = {"entra": 300.0, "duo": MIN_LAG_S}
GRAPH_VERSIONS = ("v1.0", "beta")
# A collector waits out what the vendor asks (a Graph Retry-After can exceed respond's 30 s cap).
COLLECT_ATTEMPTS = 6
COLLECT_MAX_WAIT_S = 300.0
COLLECT_TIMEOUT_S = 60.0  # a page of up to 1000 log records; respond's 15 s suits single-object calls


@dataclass(frozen=True)
class LogOptions:
    page_size: int = 500
    lag_s: float | None = None  # None: the vendor's default (DEFAULT_LAG_S)
    graph_version: str = "v1.0"  # beta carries authenticationDetails (push outcomes) on sign-ins


def graph_base(url: str, version: str) -> str:
    """The Graph base URL for ``version``, whichever version the configured URL names."""
    root = url.rstrip("/")
    for known in GRAPH_VERSIONS:
        if root.endswith("/" + known):
            root = root[: -len(known) - 1]
    return f"{root}/{version}"


def build_logs(
    vendor: str,
    names: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    options: LogOptions | None = None,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> tuple[list[VendorLog], VendorHttp]:
    """The vendor's logs (all of them unless ``names`` picks some) and the client they share."""
    env = os.environ if env is None else env
    options = options or LogOptions()
    if vendor not in LOGS:
        raise ConfigError(f"unknown vendor {vendor!r} (okta, entra or duo)")
    chosen = list(names or LOGS[vendor])
    unknown = [n for n in chosen if n not in LOGS[vendor]]
    if unknown:
        raise ConfigError(f"{vendor} has no log {', '.join(unknown)} (it has {', '.join(LOGS[vendor])})")
    if options.graph_version not in GRAPH_VERSIONS:
        raise ConfigError(f"Graph version {options.graph_version!r}: use v1.0 or beta")
    lag = options.lag_s if options.lag_s is not None else DEFAULT_LAG_S.get(vendor, 0.0)
    if vendor == "duo" and lag < MIN_LAG_S:
        raise ConfigError(f"duo: the lag must be at least {MIN_LAG_S:.0f} s (Duo's logs arrive late)")
    base = graph_base(graph_url(env), options.graph_version) if vendor == "entra" else None
    http = vendor_http(
        vendor,
        env,
        client=client,
        base_url=base,
        sleep=sleep,
        max_attempts=COLLECT_ATTEMPTS,
        max_wait_s=COLLECT_MAX_WAIT_S,
        timeout_s=COLLECT_TIMEOUT_S,
        record_requests=False,
    )
    logs: list[VendorLog] = []
    for name in chosen:
        if vendor == "okta":
            logs.append(OktaSystemLog(http, limit=options.page_size, sleep=sleep, clock=clock))
        elif vendor == "entra":
            logs.append(GraphLog(http, name, top=options.page_size, lag_s=lag, clock=clock))
        elif name == "auth":
            logs.append(DuoAuthLog(http, limit=options.page_size, lag_s=lag, clock=clock))
        else:
            logs.append(DuoAdminLog(http, lag_s=lag, clock=clock))
    return logs, http
