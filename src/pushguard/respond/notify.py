"""Notifications: a signed JSON webhook per incident, and CEF over syslog (UDP or TCP) per action.

Webhook: POST of the JSON body with ``X-Pushguard-Timestamp`` (epoch seconds) and
``X-Pushguard-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``; a receiver checks it
with ``verify_signature`` and refuses old timestamps (replays). The secret comes from the environment
variable the playbook names.

Syslog: RFC 5424 header, facility authpriv, the message an ArcSight CEF:0 line; TCP frames are
newline-terminated."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from pushguard import __version__
from pushguard.model import ConfigError
from pushguard.respond.playbook import SyslogConfig, WebhookConfig
from pushguard.vendorapi.http import VendorApiError, VendorHttp

SIGNATURE_HEADER = "X-Pushguard-Signature"
TIMESTAMP_HEADER = "X-Pushguard-Timestamp"
REPLAY_WINDOW_S = 300
CEF_SEVERITY = {"info": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
SYSLOG_SEVERITY = {"info": 6, "low": 5, "medium": 4, "high": 3, "critical": 2}
AUTHPRIV = 10


class NotifyFailedError(Exception):
    pass


def sign_body(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes, timestamp: str, body: bytes, signature: str, now: float | None = None
) -> bool:
    """What a receiver does: constant-time compare, and a timestamp inside the replay window."""
    if not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(sign_body(secret, int(timestamp), body), signature)


class Webhook:
    def __init__(
        self,
        config: WebhookConfig,
        env: Mapping[str, str],
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        secret = env.get(config.secret_env, "")
        if not secret:
            raise ConfigError(
                f"webhook: the environment variable {config.secret_env} (its secret) is not set"
            )
        key = secret.encode()

        def headers(method: str, path: str, params: Any, body: bytes) -> dict[str, str]:
            stamp = int(clock())
            return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign_body(key, stamp, body)}

        self.url = config.url
        self._http = VendorHttp("webhook", config.url, headers, client=client, sleep=sleep)

    def send(self, payload: Mapping[str, Any]) -> int:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        try:
            response = self._http.call("POST", "", body=body, content_type="application/json")
        except VendorApiError as exc:
            raise NotifyFailedError(str(exc)) from None
        return response.status_code

    def close(self) -> None:
        self._http.close()


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace("=", "\\=")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def cef_line(
    signature_id: str, name: str, severity: str, extensions: Mapping[str, str | int], when: datetime
) -> str:
    head = "|".join(
        _cef_header(part)
        for part in (
            "CEF:0",
            "pushguard",
            "pushguard",
            __version__,
            signature_id,
            name,
            str(CEF_SEVERITY.get(severity, 5)),
        )
    )
    fields = {"rt": int(when.timestamp() * 1000), **extensions}
    ext = " ".join(f"{key}={_cef_value(str(value))}" for key, value in fields.items())
    return f"{head}|{ext}"


def syslog_frame(cef: str, severity: str, when: datetime, hostname: str) -> bytes:
    pri = AUTHPRIV * 8 + SYSLOG_SEVERITY.get(severity, 4)
    stamp = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"<{pri}>1 {stamp} {hostname or '-'} pushguard - - - {cef}".encode()


class Syslog:
    def __init__(self, config: SyslogConfig, timeout_s: float = 5.0) -> None:
        self.config = config
        self._timeout = timeout_s
        self._hostname = socket.gethostname()

    def send(self, cef: str, severity: str, when: datetime) -> None:
        frame = syslog_frame(cef, severity, when, self._hostname)
        address = (self.config.host, self.config.port)
        try:
            if self.config.protocol == "tcp":
                with socket.create_connection(address, timeout=self._timeout) as conn:
                    conn.sendall(frame + b"\n")
            else:
                family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as sock:
                    sock.sendto(frame, address)
        except OSError as exc:
            raise NotifyFailedError(
                f"syslog {self.config.protocol}://{self.config.host}:{self.config.port}: {exc}"
            ) from None
