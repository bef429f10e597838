"""Duo Admin API logs: authentication (v2) and administrator (v1), over signed requests.

Authentication log v2 (``/admin/v2/logs/authentication``): ``mintime`` / ``maxtime`` in milliseconds, both
inclusive, ``sort=ts:asc``, ``limit``, and ``metadata.next_offset`` (a timestamp and a txid) to page. Each
round reads one window ``[mintime, maxtime]``; ``maxtime`` trails the clock by ``lag_s`` (Duo asks for at
least two minutes: its logs arrive late) and the next window starts at ``maxtime + 1``. The cursor is the
window's start and, while it is being paged, its end and the pending ``next_offset``.

Administrator log v1 (``/admin/v1/logs/administrator``): ``mintime`` in seconds, inclusive, up to 1000
records a call, oldest first, no record id. The cursor is the newest second taken and the digests of the
records taken at that second, so asking again from that second repeats nothing. Records newer than the
lag are left for a later round (the cursor never passes them).

Rate limits answer 429; ``VendorHttp`` retries with backoff."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from pushguard.collect.collector import Page, Record, decode_page, records_of
from pushguard.vendorapi.http import VendorApiError, VendorHttp

AUTH_PATH = "/admin/v2/logs/authentication"
ADMIN_PATH = "/admin/v1/logs/administrator"
MAX_LIMIT = 1000
ADMIN_PAGE = 1000  # the administrator log's fixed page
MIN_LAG_S = 120.0


class AuthCursor(msgspec.Struct, kw_only=True, omit_defaults=True):
    mintime: int  # ms: the next window starts here
    maxtime: int | None = None  # ms: the window being paged
    next_offset: str | None = None


class AuthMetadata(msgspec.Struct):
    next_offset: list[str] | None = None


class AuthBody(msgspec.Struct):
    authlogs: list[msgspec.Raw]
    metadata: AuthMetadata = msgspec.field(default_factory=AuthMetadata)


class AuthAnswer(msgspec.Struct):
    stat: str
    response: AuthBody | None = None
    message: str | None = None


class AdminCursor(msgspec.Struct, kw_only=True):
    mintime: int  # seconds
    taken: list[str] = msgspec.field(default_factory=list)  # digests of the records taken at mintime


class AdminAnswer(msgspec.Struct):
    stat: str
    response: list[msgspec.Raw] | None = None
    message: str | None = None


def _check(stat: str, message: str | None, label: str) -> None:
    if stat != "OK":
        raise VendorApiError(f"duo: {label}: stat {stat}: {message or 'no message'}")


def record_digest(record: Record) -> str:
    """Identity of an administrator record (they carry no id): its content, keys sorted."""
    canonical = msgspec.json.encode(record.value, order="sorted")
    return hashlib.blake2b(canonical, digest_size=12).hexdigest()


class DuoAuthLog:
    name = "duo.auth"

    def __init__(
        self,
        http: VendorHttp,
        *,
        limit: int = MAX_LIMIT,
        lag_s: float = MIN_LAG_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.limit = min(max(limit, 1), MAX_LIMIT)
        self.lag_s = max(lag_s, MIN_LAG_S)
        self._clock = clock

    def start(self, since: datetime) -> Any:
        return msgspec.to_builtins(AuthCursor(mintime=int(since.timestamp() * 1000)))

    def fetch(self, cursor: Any) -> Page:
        state = msgspec.convert(cursor, AuthCursor)
        params = {"mintime": str(state.mintime), "limit": str(self.limit), "sort": "ts:asc"}
        if state.next_offset and state.maxtime is not None:
            maxtime = state.maxtime
            params["next_offset"] = state.next_offset
        else:
            maxtime = int((self._clock() - self.lag_s) * 1000)
            if maxtime < state.mintime:
                return Page([], cursor, caught_up=True)
        params["maxtime"] = str(maxtime)
        label = f"GET {AUTH_PATH}"
        response = self.http.call("GET", AUTH_PATH, params=params, ok=frozenset({200}))
        answer = decode_page("duo", label, response.content, AuthAnswer)
        _check(answer.stat, answer.message, label)
        body = answer.response or AuthBody(authlogs=[])
        records = records_of("duo", label, body.authlogs)
        offset = body.metadata.next_offset
        if records and offset:
            pending = AuthCursor(mintime=state.mintime, maxtime=maxtime, next_offset=",".join(offset))
            return Page(records, msgspec.to_builtins(pending), caught_up=False)
        return Page(records, msgspec.to_builtins(AuthCursor(mintime=maxtime + 1)), caught_up=True)


class DuoAdminLog:
    name = "duo.admin"

    def __init__(
        self,
        http: VendorHttp,
        *,
        lag_s: float = MIN_LAG_S,
        clock: Callable[[], float] = time.time,
        page: int = ADMIN_PAGE,
    ) -> None:
        self.http = http
        self.lag_s = max(lag_s, MIN_LAG_S)
        self._clock = clock
        self.page = page  # what Duo answers at most; a full page means there may be more

    def start(self, since: datetime) -> Any:
        return msgspec.to_builtins(AdminCursor(mintime=int(since.timestamp())))

    def fetch(self, cursor: Any) -> Page:
        state = msgspec.convert(cursor, AdminCursor)
        label = f"GET {ADMIN_PATH}"
        params = {"mintime": str(state.mintime)}
        response = self.http.call("GET", ADMIN_PATH, params=params, ok=frozenset({200}))
        answer = decode_page("duo", label, response.content, AdminAnswer)
        _check(answer.stat, answer.message, label)
        raws = answer.response or []
        settled = self._clock() - self.lag_s
        taken = set(state.taken)
        mintime, new, repeated, too_recent = state.mintime, [], 0, False
        for record in records_of("duo", label, raws):
            stamp = record.value.get("timestamp")
            if not isinstance(stamp, int):
                raise VendorApiError(f"duo: {label}: an administrator record without an integer timestamp")
            if stamp > settled:
                too_recent = True  # oldest first: the rest is too recent as well
                break
            digest = record_digest(record)
            if stamp == state.mintime and digest in state.taken:
                repeated += 1
                continue
            if stamp > mintime:
                mintime, taken = stamp, set()
            taken.add(digest)
            new.append(record)
        full = len(raws) >= self.page
        if full and repeated == len(raws):
            raise VendorApiError(
                f"duo: {label}: over {self.page} administrator records in the second {state.mintime}: "
                "the log cannot be paged past it"
            )
        after = AdminCursor(mintime=mintime, taken=sorted(taken))
        return Page(new, msgspec.to_builtins(after), caught_up=too_recent or not full)
