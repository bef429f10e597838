"""ASGI middleware: the body size limit and deadline, and the request log + metrics + last-resort error
answer.

Both are plain ASGI (no BaseHTTPMiddleware): no extra task per request, and a body over the limit is
refused while it streams in, not after it was buffered. A body that does not arrive within the read
timeout (a declared length never sent) is answered 408 and the connection closed; a client that goes away
mid-body is logged as 499 (it closed the request), not as a server error."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushguard.api.metrics import Metrics

log = logging.getLogger("pushguard.api")
_json = msgspec.json.Encoder()


class ApiError(Exception):
    """A refusal with its status: answered as ``{"error": ..., "detail": ...}``."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


class BodyTooLargeError(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"request bodies are limited to {limit} bytes")


async def send_json(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    payload = _json.encode(body)
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + headers})
    await send({"type": "http.response.body", "body": payload})


class BodyTimeoutError(ApiError):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, "request_timeout", f"the request body did not arrive within {timeout_s:g} s")


CLOSE = [(b"connection", b"close")]


class BodyLimit:
    """Refuse bodies over ``limit`` bytes, declared (Content-Length) or streamed (chunked), with 413, and
    bodies not received within ``timeout_s`` of the first read with 408."""

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = 30.0) -> None:
        self.app, self.limit, self.timeout_s = app, limit, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            if not declared.isdigit():
                await send_json(send, 400, {"error": "bad_request", "detail": "invalid Content-Length"}, [])
                return
            await send_json(
                send, 413, {"error": "body_too_large", "detail": BodyTooLargeError(self.limit).detail}, []
            )
            return
        seen = 0
        deadline: float | None = None

        async def counted() -> Message:
            nonlocal seen, deadline
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self.timeout_s
            try:
                async with asyncio.timeout_at(deadline):  # no task per call, unlike wait_for
                    message = await receive()
            except TimeoutError:
                raise BodyTimeoutError(self.timeout_s) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLargeError(self.limit)  # answered by RequestLog below
            return message

        await self.app(scope, counted, send)


class RequestLog:
    """Outermost: one JSON log line and the metrics for every request, an ``X-Request-Id`` on every
    answer, and for an exception nobody handled a 500 naming that id (the trace goes to the log only)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        tag = (b"x-request-id", request_id.encode())
        status = 0

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), tag]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        except ApiError as exc:  # raised while the body streamed in (BodyLimit)
            if status == 0:
                status = exc.status
                body = {"error": exc.error, "detail": exc.detail}
                await send_json(send, exc.status, body, [tag, *(CLOSE if exc.status == 408 else [])])
        except ClientDisconnect:  # the client went away before its body was read: nobody to answer
            status = status or 499
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "path": scope.get("path")})
            if status == 0:
                status = 500
                body = {"error": "internal", "detail": f"see the service log, request {request_id}"}
                await send_json(send, 500, body, [tag])
        route = getattr(scope.get("route"), "path", None) or ("unmatched" if status == 404 else "other")
        elapsed = time.perf_counter() - began
        method = scope.get("method", "")
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(route).observe(elapsed)
        state = scope.get("state") or {}
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "key": state.get("key_id"),
                "client": (scope.get("client") or ("", 0))[0],
            },
        )
