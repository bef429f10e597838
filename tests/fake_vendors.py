"""Local fake vendor log APIs on 127.0.0.1 (real HTTP servers in a thread) for the collector tests.

Each speaks its vendor's protocol as documented: Okta's System Log polling (``since``, ``after`` in the
``Link: rel="next"`` URL, rate-limit headers, SSWS token), Graph's audit logs (``$filter`` on the time
property with ge/le, ``$top``, ``@odata.nextLink``, newest first, bearer token) and Duo's Admin API logs
(signed requests checked with duo-client's own ``sign``, v2 ``next_offset``, v1 administrator log).
Records are the fixtures' real shapes; only their id and time fields are changed to make many of them."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from tests.conftest import FIXTURES
from tests.http_fakes import Reply, duo_signed, send_reply

BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


class FakeServer:
    """A real HTTP server; ``handle`` answers each request unless a queued fault answers first."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.requests: list[Request] = []
        self.faults: list[Reply] = []  # answered in order, one per request, before the real handler
        self.delay_s = delay_s
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request("GET", parts.path, parse_qs(parts.query, True), dict(self.headers))
                with fake._lock:
                    fake.requests.append(request)
                    reply = fake.faults.pop(0) if fake.faults else fake.handle(request)
                if fake.delay_s:
                    threading.Event().wait(fake.delay_s)
                send_reply(self, reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


def _lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def _iso_ms(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- Okta ----------------------------------------------------------------------------------------


def okta_records(count: int, start: datetime = BASE, step_s: float = 7.0) -> list[dict[str, Any]]:
    templates = _lines("okta/handmade.jsonl")
    made = []
    for n in range(count):
        record = copy.deepcopy(templates[n % len(templates)])
        record["uuid"] = f"c0ffee00-0000-4000-8000-{n:012d}"
        record["published"] = _iso_ms(start + timedelta(seconds=n * step_s))
        made.append(record)
    return made


class FakeOkta(FakeServer):
    """``GET /api/v1/logs`` polling: events in stored order, ``after`` = position, a next link always."""

    def __init__(self, records: list[dict[str, Any]], token: str = "okta-token", **kw: Any) -> None:
        super().__init__(**kw)
        self.records = records
        self.token = token
        self.remaining = 600  # X-Rate-Limit-Remaining of the answers (tests lower it)
        self.reset_at = 0

    def handle(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"SSWS {self.token}":
            return Reply(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
        if request.path != "/api/v1/logs":
            return Reply(404, {"errorCode": "E0000022", "errorSummary": "The endpoint does not exist."})
        limit = int(request.arg("limit", "100") or 100)
        after = request.arg("after")
        if after is not None:
            start = int(after)
        else:
            since = parse_time(request.arg("since") or "1970-01-01T00:00:00Z")
            start = next(
                (i for i, r in enumerate(self.records) if parse_time(r["published"]) >= since),
                len(self.records),
            )
        page = self.records[start : start + limit]
        self_link = f"<{self.url}{request.path}?{urlencode({k: v[0] for k, v in request.query.items()})}>"
        next_query = urlencode({"limit": limit, "after": start + len(page), "sortOrder": "ASCENDING"})
        links = f'{self_link}; rel="self"\n<{self.url}/api/v1/logs?{next_query}>; rel="next"'
        headers = {
            "Link": links,
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset_at),
        }
        return Reply(200, page, headers)


# -- Microsoft Graph -----------------------------------------------------------------------------


def graph_signins(count: int, start: datetime = BASE, step_s: float = 11.0) -> list[dict[str, Any]]:
    templates = json.loads((FIXTURES / "entra/signin-graph-beta-handmade.json").read_text())["value"]
    made = []
    for n in range(count):
        record = copy.deepcopy(templates[n % len(templates)])
        record["id"] = f"5161e000-0000-4000-8000-{n:012d}"
        record["createdDateTime"] = _iso(start + timedelta(seconds=n * step_s))
        made.append(record)
    return made


def graph_audits(count: int, start: datetime = BASE, step_s: float = 13.0) -> list[dict[str, Any]]:
    templates = _lines("entra/audit-graph-handmade.jsonl")
    made = []
    for n in range(count):
        record = copy.deepcopy(templates[n % len(templates)])
        record["id"] = f"Directory_{n:08d}"
        record["activityDateTime"] = (
            (start + timedelta(seconds=n * step_s)).isoformat().replace("+00:00", ".1234567Z")
        )
        made.append(record)
    return made


_FILTER = re.compile(r"^(\w+) ge (\S+) and (\w+) le (\S+)$")
GRAPH_LOGS = {"signIns": "createdDateTime", "directoryAudits": "activityDateTime"}


class FakeGraph(FakeServer):
    """``/v1.0|beta/auditLogs/{signIns,directoryAudits}``: ``$filter`` ge/le on the time, newest first."""

    def __init__(self, logs: dict[str, list[dict[str, Any]]], token: str = "graph-token", **kw: Any) -> None:
        super().__init__(**kw)
        self.logs = logs
        self.token = token
        self.filters: list[str] = []

    def handle(self, request: Request) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            message = "Access token validation failure. Invalid audience."
            return Reply(401, {"error": {"code": "InvalidAuthenticationToken", "message": message}})
        match = re.fullmatch(r"/(v1\.0|beta)/auditLogs/(signIns|directoryAudits)", request.path)
        if match is None:
            return Reply(404, {"error": {"code": "BadRequest", "message": "Resource not found"}})
        kind = match.group(2)
        prop = GRAPH_LOGS[kind]
        text = request.arg("$filter") or ""
        clause = _FILTER.match(text)
        if clause is None or clause.group(1) != prop or clause.group(3) != prop:
            return Reply(400, {"error": {"code": "BadRequest", "message": f"Invalid filter clause: {text}"}})
        if request.arg("$skiptoken") is None:
            self.filters.append(text)  # one per window asked (the next links repeat it)
        low, high = parse_time(clause.group(2)), parse_time(clause.group(4))
        chosen = [r for r in self.logs[kind] if low <= parse_time(r[prop]) <= high]
        chosen.sort(key=lambda r: (r[prop], r["id"]), reverse=True)  # most recent first
        top = int(request.arg("$top", "1000") or 1000)
        offset = int(request.arg("$skiptoken", "0") or 0)
        body: dict[str, Any] = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#auditLogs/{kind}"
        }
        body["value"] = chosen[offset : offset + top]
        if offset + top < len(chosen):
            query = urlencode({"$filter": text, "$top": top, "$skiptoken": offset + top}, quote_via=quote)
            body["@odata.nextLink"] = f"{self.url}{request.path}?{query}"
        return Reply(200, body)


# -- Duo -----------------------------------------------------------------------------------------


def duo_authlogs(count: int, start: datetime = BASE, step_s: int = 5) -> list[dict[str, Any]]:
    templates = _lines("duo/authlogs-v2-handmade.jsonl")
    made = []
    for n in range(count):
        record = copy.deepcopy(templates[n % len(templates)])
        moment = start + timedelta(seconds=(n // 2) * step_s)  # pairs share a second: ties on timestamp
        record["txid"] = f"0d0c5e1a-0000-4000-8000-{n:012d}"
        record["timestamp"] = int(moment.timestamp())
        record["isotimestamp"] = moment.isoformat(timespec="microseconds")
        made.append(record)
    return made


def duo_adminlogs(count: int, start: datetime = BASE, per_second: int = 3) -> list[dict[str, Any]]:
    templates = _lines("duo/admin-own.jsonl")[3:]  # the lines without a client-added eventtype
    made = []
    for n in range(count):
        record = copy.deepcopy(templates[n % len(templates)])
        moment = start + timedelta(seconds=n // per_second)
        record["timestamp"] = int(moment.timestamp())
        record["isotimestamp"] = moment.isoformat()
        record["object"] = f"user{n:04d}@example.org"  # unique content: admin records carry no id
        made.append(record)
    return made


class FakeDuo(FakeServer):
    """Duo Admin API logs; every request's signature is checked (v5, HMAC-SHA512) like Duo does."""

    def __init__(
        self,
        authlogs: list[dict[str, Any]],
        adminlogs: list[dict[str, Any]] | None = None,
        *,
        ikey: str = "DIXXXXXXXXXXXXXXXXXX",
        skey: str = "duo-secret-key",
        admin_page: int = 1000,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.authlogs = authlogs
        self.adminlogs = adminlogs or []
        self.ikey, self.skey = ikey, skey
        self.admin_page = admin_page
        self.signed = 0

    def _signed(self, request: Request) -> bool:
        return duo_signed(
            self.ikey, self.skey, method="GET", host=urlsplit(self.url).netloc, path=request.path,
            params=request.query, body="", headers=request.headers,
        )  # fmt: skip

    def handle(self, request: Request) -> Reply:
        if not self._signed(request):
            message = "Invalid signature in request credentials"
            return Reply(401, {"code": 40103, "message": message, "stat": "FAIL"})
        self.signed += 1
        if request.path == "/admin/v2/logs/authentication":
            return self._auth(request)
        if request.path == "/admin/v1/logs/administrator":
            mintime = int(request.arg("mintime", "0") or 0)
            chosen = [r for r in self.adminlogs if r["timestamp"] >= mintime][: self.admin_page]
            return Reply(200, {"stat": "OK", "response": chosen})
        return Reply(404, {"code": 40401, "message": "Resource not found", "stat": "FAIL"})

    def _auth(self, request: Request) -> Reply:
        mintime, maxtime = int(request.arg("mintime") or 0), int(request.arg("maxtime") or 0)
        limit = min(int(request.arg("limit", "100") or 100), 1000)
        chosen = sorted(
            (r for r in self.authlogs if mintime <= r["timestamp"] * 1000 <= maxtime),
            key=lambda r: (r["timestamp"], r["txid"]),
            reverse=request.arg("sort") == "ts:desc",
        )
        offset = request.arg("next_offset")
        start = 0
        if offset:
            ts, txid = offset.split(",")
            start = 1 + next(
                i for i, r in enumerate(chosen) if r["txid"] == txid and r["timestamp"] * 1000 == int(ts)
            )
        page = chosen[start : start + limit]
        metadata: dict[str, Any] = {"total_objects": len(chosen)}
        if start + limit < len(chosen):
            metadata["next_offset"] = [str(page[-1]["timestamp"] * 1000), page[-1]["txid"]]
        return Reply(200, {"stat": "OK", "response": {"authlogs": page, "metadata": metadata}})


def clock_at(moment: datetime) -> Callable[[], float]:
    return lambda: moment.timestamp()
