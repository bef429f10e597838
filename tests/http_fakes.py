"""Shared by the fake vendor servers of the tests: a canned reply, writing it, checking a Duo signature."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from duo_client.client import normalize_params, sign


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def send_reply(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """The reply as JSON; a header value with newlines is several lines of one name (Okta's Link)."""
    payload = b"" if reply.body is None else json.dumps(reply.body).encode()
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        for one in value.split("\n"):
            handler.send_header(name, one)
    if payload:
        handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def duo_signed(
    ikey: str,
    skey: str,
    *,
    method: str,
    host: str,
    path: str,
    params: Mapping[str, Any],
    body: str,
    headers: Mapping[str, str],
) -> bool:
    """Whether the request carries Duo's v5 signature (HMAC-SHA512) of exactly these parts."""
    date = headers.get("Date", "")
    expected = sign(
        ikey, skey, method, host, path, date, 5, normalize_params(dict(params)),
        body=body, digestmod=hashlib.sha512, additional_headers={},
    )  # fmt: skip
    return bool(date) and headers.get("Authorization") == expected
