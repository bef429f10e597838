"""A local fake IdP on 127.0.0.1 (a real HTTP server in a thread) for the enforcement tests.

It keeps group memberships and user statuses, so a test can check the effect and not only the request,
and answers as the vendors document: Okta group membership (PUT/DELETE, 204, SSWS token); Graph
``members/$ref`` (204; 400 "One or more added object references already exist" for a member already
there; 404 removing one that is not) and confirmCompromised (204), bearer token; Duo Admin API user groups
and status (200 ``stat: OK``), every request's signature checked with duo-client's own ``sign``.
Queued ``faults`` answer the next requests first (429, 5xx, 401...)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.http_fakes import Reply, duo_signed, send_reply

OKTA_TOKEN = "okta-enforce-token"
GRAPH_TOKEN = "graph-enforce-token"
DUO_IKEY, DUO_SKEY = "DIENFORCE00000000000", "duo-enforce-skey"
LOGIN = "victim@corp.example"
USER_IDS = {"okta": "00uVICTIM", "entra": "0b6c1e52-oid-victim", "duo": "DUVICTIM"}
ALREADY = (
    "One or more added object references already exist for the following modified properties: 'members'."
)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class FakeIdp:
    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.user_id = USER_IDS[vendor]
        self.members: dict[str, set[str]] = {}
        self.status = "active"
        self.compromised: list[str] = []
        self.faults: list[Reply] = []
        self.seen: list[Seen] = []
        # called with each request before it is answered (the closed-loop tests kill a worker there)
        self.on_request: Callable[[Seen], None] | None = None
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)), dict(self.headers), body)
                with fake._lock:
                    fake.seen.append(seen)
                    reply = fake.faults.pop(0) if fake.faults else fake.handle(seen)
                if fake.on_request is not None:
                    fake.on_request(seen)
                send_reply(self, reply)

            do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815 (http.server names)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def env(self) -> dict[str, str]:
        if self.vendor == "okta":
            return {"PUSHGUARD_OKTA_ORG_URL": self.url, "PUSHGUARD_OKTA_API_TOKEN": OKTA_TOKEN}
        if self.vendor == "entra":
            return {
                "PUSHGUARD_ENTRA_GRAPH_URL": self.url + "/v1.0",
                "PUSHGUARD_ENTRA_ACCESS_TOKEN": GRAPH_TOKEN,
            }
        return {
            "PUSHGUARD_DUO_API_HOST": self.url,
            "PUSHGUARD_DUO_IKEY": DUO_IKEY,
            "PUSHGUARD_DUO_SKEY": DUO_SKEY,
        }

    def calls(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def handle(self, seen: Seen) -> Reply:
        return {"okta": self._okta, "entra": self._entra, "duo": self._duo}[self.vendor](seen)

    # -- Okta ---------------------------------------------------------------------------------------

    def _okta(self, seen: Seen) -> Reply:
        if seen.headers.get("Authorization") != f"SSWS {OKTA_TOKEN}":
            return Reply(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
        if seen.method == "GET" and unquote(seen.path) == f"/api/v1/users/{LOGIN}":
            return Reply(200, {"id": self.user_id, "status": "ACTIVE"})
        if seen.method == "GET" and seen.path == f"/api/v1/users/{self.user_id}/groups":
            held = [{"id": g, "type": "OKTA_GROUP"} for g, m in self.members.items() if self.user_id in m]
            return Reply(200, held)
        member = re.fullmatch(r"/api/v1/groups/([^/]+)/users/([^/]+)", seen.path)
        if member and member.group(2) == self.user_id:
            group = self.members.setdefault(member.group(1), set())
            if seen.method == "PUT":
                group.add(self.user_id)
                return Reply(204)
            if seen.method == "DELETE":
                group.discard(self.user_id)
                return Reply(204)
        return Reply(
            404, {"errorCode": "E0000007", "errorSummary": f"Not found: Resource not found: {seen.path}"}
        )

    # -- Graph --------------------------------------------------------------------------------------

    def _entra(self, seen: Seen) -> Reply:
        if seen.headers.get("Authorization") != f"Bearer {GRAPH_TOKEN}":
            return Reply(
                401, {"error": {"code": "InvalidAuthenticationToken", "message": "Token is invalid"}}
            )
        if seen.method == "GET" and unquote(seen.path) == f"/v1.0/users/{LOGIN}":
            return Reply(200, {"id": self.user_id})
        if seen.method == "POST" and seen.path == "/v1.0/identityProtection/riskyUsers/confirmCompromised":
            self.compromised += seen.json()["userIds"]
            return Reply(204)
        if seen.method == "POST" and seen.path == f"/v1.0/users/{self.user_id}/checkMemberGroups":
            asked = seen.json()["groupIds"]
            return Reply(200, {"value": [g for g in asked if self.user_id in self.members.get(g, set())]})
        add = re.fullmatch(r"/v1.0/groups/([^/]+)/members/\$ref", seen.path)
        if add and seen.method == "POST":
            user = seen.json()["@odata.id"].rsplit("/", 1)[1]
            group = self.members.setdefault(add.group(1), set())
            if user in group:
                return Reply(400, {"error": {"code": "Request_BadRequest", "message": ALREADY}})
            group.add(user)
            return Reply(204)
        remove = re.fullmatch(r"/v1.0/groups/([^/]+)/members/([^/]+)/\$ref", seen.path)
        if remove and seen.method == "DELETE":
            group = self.members.setdefault(remove.group(1), set())
            if remove.group(2) not in group:
                message = (
                    f"Resource '{remove.group(2)}' does not exist or one of its queried "
                    "reference-property objects are not present."
                )
                return Reply(404, {"error": {"code": "Request_ResourceNotFound", "message": message}})
            group.discard(remove.group(2))
            return Reply(204)
        return Reply(404, {"error": {"code": "Request_ResourceNotFound", "message": seen.path}})

    # -- Duo ----------------------------------------------------------------------------------------

    def _duo_signed(self, seen: Seen) -> bool:
        return duo_signed(
            DUO_IKEY, DUO_SKEY, method=seen.method, host=urlsplit(self.url).netloc, path=seen.path,
            params=seen.query, body=seen.body.decode(), headers=seen.headers,
        )  # fmt: skip

    def _duo(self, seen: Seen) -> Reply:
        if not self._duo_signed(seen):
            return Reply(
                401, {"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}
            )
        base = f"/admin/v1/users/{self.user_id}"
        ok = Reply(200, {"stat": "OK", "response": ""})
        if seen.method == "GET" and seen.path == "/admin/v1/users" and seen.query.get("username") == LOGIN:
            return Reply(200, {"stat": "OK", "response": [{"user_id": self.user_id, "username": LOGIN}]})
        if seen.path == base and seen.method == "GET":
            return Reply(200, {"stat": "OK", "response": {"user_id": self.user_id, "status": self.status}})
        if seen.path == base and seen.method == "POST":
            self.status = seen.json()["status"]
            return Reply(200, {"stat": "OK", "response": {"status": self.status}})
        if seen.path == f"{base}/groups" and seen.method == "GET":
            held = [{"group_id": g, "name": g} for g, m in self.members.items() if self.user_id in m]
            return Reply(200, {"stat": "OK", "response": held})
        if seen.path == f"{base}/groups" and seen.method == "POST":
            self.members.setdefault(seen.json()["group_id"], set()).add(self.user_id)
            return ok
        remove = re.fullmatch(rf"{base}/groups/([^/]+)", seen.path)
        if remove and seen.method == "DELETE":
            self.members.setdefault(remove.group(1), set()).discard(self.user_id)
            return ok
        return Reply(404, {"code": 40401, "message": "Resource not found", "stat": "FAIL"})
