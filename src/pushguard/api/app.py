"""The FastAPI app: routes, key checks, body limits, error shapes, metrics, request logs.

Bodies are decoded with msgspec into the project's own types (the OpenAPI document carries their JSON
schemas), so the engine never sees unvalidated input. Every error is ``{"error": ..., "detail": ...}``
with a 4xx status; an unexpected failure is a 500 with an id to look up in the log, never a trace."""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pushguard.api.config import ServiceConfig
from pushguard.api.keys import KeyStore, StoredKey, allows
from pushguard.api.keys import Scope as KeyScope
from pushguard.api.service import FindingQuery, IdentitySummary, Service
from pushguard.decide import PolicyError
from pushguard.model import Decision, DecisionRequest, Finding, Provider, Severity
from pushguard.sources import BY_PROVIDER

log = logging.getLogger("pushguard.api")
_json = msgspec.json.Encoder()


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


class EventsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    records: list[Any]
    provider: Provider | None = None


class EventsReply(msgspec.Struct, kw_only=True):
    records: int
    events: int
    rejected: dict[str, int]
    errors: list[str]
    findings: list[Finding]


class FindingsPage(msgspec.Struct, kw_only=True):
    findings: list[Finding]
    total: int
    offset: int
    limit: int
    next_offset: int | None


def _schema(kind: Any) -> dict[str, Any]:
    schemas, components = msgspec.json.schema_components([kind], ref_template="#/components/schemas/{name}")
    body = dict(schemas[0])
    body.setdefault("x-components", components)  # kept inline for tools that read one operation
    return {"content": {"application/json": {"schema": _inline(body, components)}}, "required": True}


def _inline(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """Resolve $refs into the schema itself (the app's OpenAPI has no shared components section)."""
    if depth > 12:
        return {}
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return _inline(components[ref.rsplit("/", 1)[-1]], components, depth + 1)
        return {k: _inline(v, components, depth + 1) for k, v in schema.items() if k != "x-components"}
    if isinstance(schema, list):
        return [_inline(v, components, depth + 1) for v in schema]
    return schema


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes (declared or streamed) with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, "body_too_large", f"request bodies are limited to {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


async def _too_large(send: Send, limit: int) -> None:
    body = _json.encode({"error": "body_too_large", "detail": f"request bodies are limited to {limit} bytes"})
    await send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pushguard_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "pushguard_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.decisions = Counter(
            "pushguard_decisions", "decisions by action", ["action"], registry=self.registry
        )
        self.findings = Counter(
            "pushguard_findings", "findings (revisions) by detector", ["detector"], registry=self.registry
        )
        self.rejected = Counter(
            "pushguard_records_rejected", "records not turned into events", ["reason"], registry=self.registry
        )


def create_app(
    config: ServiceConfig, service: Service | None = None, keys: KeyStore | None = None
) -> FastAPI:
    service = service or Service(config)
    keys = keys or KeyStore(config.keys_file)
    metrics = Metrics()
    app = FastAPI(
        title="pushguard",
        version="1",
        description="Push-MFA policy decisions and findings across Okta, Entra ID and Duo.",
    )
    app.state.service, app.state.keys, app.state.metrics = service, keys, metrics
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    def reply(value: Any, status: int = 200) -> Response:
        return Response(_json.encode(value), status_code=status, media_type="application/json")

    def require(request: Request, scope: KeyScope) -> StoredKey:
        header = request.headers.get("authorization", "")
        token = (
            header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("x-api-key", "")
        )
        if not token:
            raise ApiError(401, "unauthenticated", "send an API key: Authorization: Bearer pg_...")
        key = keys.verify(token)
        if key is None:
            raise ApiError(401, "unauthenticated", "unknown or revoked API key")
        if not allows(key, scope):
            raise ApiError(403, "forbidden", f"this key lacks the '{scope.value}' scope")
        request.state.key_id = key.id
        return key

    async def body_of(request: Request, kind: type[Any]) -> Any:
        raw = await request.body()
        if request.headers.get("content-type", "application/json").split(";")[0].strip() not in (
            "application/json",
            "",
        ):
            raise ApiError(415, "unsupported_media_type", "send application/json")
        try:
            return msgspec.json.decode(raw, type=kind)
        except msgspec.ValidationError as exc:
            raise ApiError(422, "invalid_body", str(exc)) from None
        except (msgspec.DecodeError, UnicodeError) as exc:
            raise ApiError(400, "invalid_json", str(exc)) from None
        except ValueError as exc:  # a type's own check (e.g. a time without a zone)
            raise ApiError(422, "invalid_body", str(exc)) from None

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        began = time.perf_counter()
        route = request.url.path
        try:
            response = await call_next(request)
        except ApiError as exc:
            response = reply({"error": exc.error, "detail": exc.detail}, exc.status)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error", extra={"incident": incident, "route": route})
            response = reply(
                {"error": "internal", "detail": f"see the service log, incident {incident}"}, 500
            )
        matched = request.scope.get("route")
        route = getattr(matched, "path", route if response.status_code != 404 else "unmatched")
        elapsed = time.perf_counter() - began
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "ms": round(elapsed * 1000, 2),
                "key": getattr(request.state, "key_id", None),
            },
        )
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return reply({"error": exc.error, "detail": exc.detail}, exc.status)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> Response:
        ok = service.ready()
        return reply({"status": "ready" if ok else "store unreachable"}, 200 if ok else 503)

    @app.get("/metrics", tags=["health"])
    def metrics_endpoint(request: Request) -> Response:
        require(request, KeyScope.READ)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/decide", tags=["decide"], openapi_extra={"requestBody": _schema(DecisionRequest)})
    async def decide_endpoint(request: Request) -> Response:
        require(request, KeyScope.DECIDE)
        decision_request: DecisionRequest = await body_of(request, DecisionRequest)
        decision: Decision = service.decide(decision_request)
        metrics.decisions.labels(decision.decision.value).inc()
        return reply(decision)

    @app.post("/v1/events", tags=["ingest"], openapi_extra={"requestBody": _schema(EventsBody)})
    async def events_endpoint(request: Request) -> Response:
        require(request, KeyScope.INGEST)
        body: EventsBody = await body_of(request, EventsBody)
        if body.provider is not None and body.provider not in BY_PROVIDER:
            known = ", ".join(p.value for p in BY_PROVIDER)
            raise ApiError(422, "invalid_body", f"provider must be one of {known} (or omitted: auto-detect)")
        return reply(ingest(body.records, body.provider, "api"))

    def ingest(records: list[Any], provider: Provider | None, source: str) -> EventsReply:
        result = service.ingest(records, provider, source)
        for reason, count in result.rejected.items():
            metrics.rejected.labels(reason if reason == "malformed" else "unmapped").inc(count)
        for finding in result.findings:
            metrics.findings.labels(finding.detector).inc()
        return EventsReply(
            records=result.records,
            events=result.events,
            rejected=result.rejected,
            errors=result.errors,
            findings=result.findings,
        )

    @app.get("/v1/hooks/okta", tags=["ingest"])
    def okta_verify(request: Request) -> dict[str, str]:
        hook_auth(request)
        challenge = request.headers.get("x-okta-verification-challenge")
        if not challenge:
            raise ApiError(400, "missing_challenge", "X-Okta-Verification-Challenge header is required")
        return {"verification": challenge}

    @app.post("/v1/hooks/okta", tags=["ingest"])
    async def okta_deliver(request: Request) -> Response:
        hook_auth(request)
        raw = await request.body()
        try:
            delivery = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeError) as exc:
            raise ApiError(400, "invalid_json", str(exc)) from None
        data = delivery.get("data") if isinstance(delivery, dict) else None
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            raise ApiError(422, "invalid_body", "an Okta event hook delivery has data.events")
        result = ingest(events, Provider.OKTA, "okta-hook")
        return reply({"records": result.records, "events": result.events, "findings": len(result.findings)})

    def hook_auth(request: Request) -> None:
        secret = config.okta_hook_secret
        if not secret:
            raise ApiError(404, "not_found", "the Okta event hook is not configured")
        sent = request.headers.get(config.okta_hook_header, "")
        if not hmac.compare_digest(sent.encode(), secret.encode()):
            raise ApiError(401, "unauthenticated", f"wrong or missing {config.okta_hook_header} header")

    @app.get("/v1/findings", tags=["read"])
    def findings_endpoint(
        request: Request,
        user: str | None = None,
        detector: str | None = None,
        severity: Severity | None = None,
        since: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Response:
        require(request, KeyScope.READ)
        if offset < 0 or not 1 <= limit <= config.page_size_max:
            raise ApiError(422, "invalid_query", f"offset >= 0 and 1 <= limit <= {config.page_size_max}")
        query = FindingQuery(
            user=user, detector=detector, severity=severity, since=since, offset=offset, limit=limit
        )
        page, total = service.findings(query)
        after = offset + len(page)
        return reply(
            FindingsPage(
                findings=page,
                total=total,
                offset=offset,
                limit=limit,
                next_offset=after if after < total else None,
            )
        )

    @app.get("/v1/identities/{identity}", tags=["read"])
    def identity_endpoint(request: Request, identity: str) -> Response:
        require(request, KeyScope.READ)
        summary: IdentitySummary = service.identity(identity.strip().lower())
        return reply(summary)

    @app.get("/v1/policies", tags=["decide"])
    def policies_endpoint(request: Request) -> Response:
        require(request, KeyScope.READ)
        policy = service.policy
        return reply(
            {
                "version": policy.version,
                "source": policy.source,
                "report_only": policy.report_only,
                "fallback": policy.fallback.value,
                "rules": [r.name for r in policy.rules],
                "last_reload_error": service.policy_error,
            }
        )

    @app.post("/v1/policies/reload", tags=["decide"])
    def reload_endpoint(request: Request) -> Response:
        require(request, KeyScope.ADMIN)
        try:
            policy = service.reload_policy()
        except PolicyError as exc:
            raise ApiError(422, "policy_rejected", f"kept version {service.policy.version}: {exc}") from None
        return reply({"version": policy.version})

    return app
