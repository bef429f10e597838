"""Okta System Log (``GET /api/v1/logs``), polled the way Okta documents for polling.

The first request gives ``since`` (no ``until``) and ``sortOrder=ASCENDING``; every answer carries a
``Link: <...>; rel="next"`` URL with the ``after`` cursor, also when the page is empty, and ``since`` of
a polling request filters on when Okta stored the event, so an event stored late is still found. The
cursor is that next URL: an empty page means caught up, and the same URL is asked again next round.

Rate limits: ``X-Rate-Limit-Remaining`` / ``X-Rate-Limit-Reset`` (epoch seconds) come with every answer;
when the remaining calls run down to ``reserve`` the log waits for the reset instead of meeting a 429
(the window is shared with every other client of the org). A 429 itself is retried by ``VendorHttp``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import msgspec

from pushguard.collect.collector import Page, decode_page, records_of
from pushguard.vendorapi.http import VendorApiError, VendorHttp, okta_reset_wait

LOGS_PATH = "/api/v1/logs"
MAX_LIMIT = 1000


class OktaCursor(msgspec.Struct, kw_only=True, omit_defaults=True):
    since: str  # ISO time of the first request
    next_url: str | None = None  # the last next link Okta gave


def okta_time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OktaSystemLog:
    name = "okta.system"

    def __init__(
        self,
        http: VendorHttp,
        *,
        limit: int = MAX_LIMIT,
        reserve: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait_s: float = 120.0,
    ) -> None:
        self.http = http
        self.limit = min(max(limit, 1), MAX_LIMIT)
        self.reserve = reserve
        self._sleep = sleep
        self._clock = clock
        self._max_wait_s = max_wait_s

    def start(self, since: datetime) -> Any:
        return msgspec.to_builtins(OktaCursor(since=okta_time(since)))

    def fetch(self, cursor: Any) -> Page:
        state = msgspec.convert(cursor, OktaCursor)
        if state.next_url:
            label = "GET " + LOGS_PATH + " (next)"
            response = self.http.follow(state.next_url)
        else:
            label = "GET " + LOGS_PATH
            params = {"since": state.since, "sortOrder": "ASCENDING", "limit": str(self.limit)}
            response = self.http.call("GET", LOGS_PATH, params=params, ok=frozenset({200}))
        records = records_of("okta", label, decode_page("okta", label, response.content, list[msgspec.Raw]))
        next_url = _next_link(response)
        if next_url is None:
            if records:
                raise VendorApiError(f"okta: {label}: a page of events without a next link: cannot go on")
            next_url = state.next_url  # nothing new and nowhere to go: ask the same again
        self._respect_rate_limit(response)
        state = OktaCursor(since=state.since, next_url=next_url)
        return Page(records, msgspec.to_builtins(state), caught_up=not records)

    def _respect_rate_limit(self, response: httpx.Response) -> None:
        remaining = response.headers.get("x-rate-limit-remaining", "")
        if remaining.isdigit() and int(remaining) <= self.reserve:
            wait = okta_reset_wait(response, self._clock(), self._max_wait_s)
            if wait is not None:
                self._sleep(wait)


def _next_link(response: httpx.Response) -> str | None:
    url = response.links.get("next", {}).get("url")
    return str(url) if url else None
