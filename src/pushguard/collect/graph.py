"""Microsoft Graph audit logs: sign-ins (``/auditLogs/signIns``) and directory audits
(``/auditLogs/directoryAudits``), in closed time windows.

Each round reads one window ``[start, end)`` with ``$filter=<time> ge start and <time> le end - 100 ns``
(Graph times have 100 ns resolution, so the windows tile time with no overlap and no hole) and pages
through it with ``@odata.nextLink``. ``end`` trails the clock by ``lag_s``: Entra writes records minutes
after they happen, and a window is never read again, so the lag must cover that delay. The cursor is the
window's start, and while a window is being paged, its end and the pending nextLink: a restart
continues the paging where it stopped. Graph lists newest first inside a window; ``analyze`` orders by
time. Throttling (429, ``Retry-After``) is retried by ``VendorHttp``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from pushguard.collect.collector import Page, decode_page, records_of
from pushguard.vendorapi.http import VendorHttp

MAX_TOP = 1000  # the documented maximum (and default) page of signIns
GRAPH_LOGS = {
    # --logs name: (path under the Graph version, the record's time property)
    "signins": ("/auditLogs/signIns", "createdDateTime"),
    "audits": ("/auditLogs/directoryAudits", "activityDateTime"),
}


class GraphCursor(msgspec.Struct, kw_only=True, omit_defaults=True):
    start: str  # the next window starts here (inclusive), whole seconds, UTC
    end: str | None = None  # the window being paged (exclusive end)
    next_link: str | None = None


class GraphPage(msgspec.Struct):
    value: list[msgspec.Raw]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def window_filter(field: str, start: datetime, end: datetime) -> str:
    last = end - timedelta(seconds=1)  # whole seconds: the last tick before end is .9999999 of this one
    return f"{field} ge {graph_time(start)} and {field} le {last.strftime('%Y-%m-%dT%H:%M:%S')}.9999999Z"


class GraphLog:
    def __init__(
        self,
        http: VendorHttp,
        kind: str,
        *,
        top: int = MAX_TOP,
        lag_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.kind = kind
        self.name = f"entra.{kind}"
        self.path, self.field = GRAPH_LOGS[kind]
        self.top = min(max(top, 1), MAX_TOP)
        self.lag_s = lag_s
        self._clock = clock

    def start(self, since: datetime) -> Any:
        return msgspec.to_builtins(GraphCursor(start=graph_time(since.replace(microsecond=0))))

    def fetch(self, cursor: Any) -> Page:
        state = msgspec.convert(cursor, GraphCursor)
        label = f"GET {self.path}"
        if state.next_link and state.end:
            end = state.end
            response = self.http.follow(state.next_link)
        else:
            start = _parse(state.start)
            until = datetime.fromtimestamp(int(self._clock() - self.lag_s), UTC)
            if until <= start:
                return Page([], cursor, caught_up=True)
            end = graph_time(until)
            params = {"$filter": window_filter(self.field, start, until), "$top": str(self.top)}
            response = self.http.call("GET", self.path, params=params, ok=frozenset({200}))
        page = decode_page("entra", label, response.content, GraphPage)
        records = records_of("entra", label, page.value)
        if page.next_link:
            after = GraphCursor(start=state.start, end=end, next_link=page.next_link)
            return Page(records, msgspec.to_builtins(after), caught_up=False)
        return Page(records, msgspec.to_builtins(GraphCursor(start=end)), caught_up=True)
