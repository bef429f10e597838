"""The FastAPI app: routes, key checks, error shapes. See middleware.py (body limit, request log, last-resort
500), hooks.py (Okta event hooks), service.py (what the routes call).

Bodies are decoded with msgspec into the project's own types (the OpenAPI document carries their JSON
schemas), so the engine never sees unvalidated input. Every error is ``{"error": ..., "detail": ...}``
with a 4xx status; an unexpected failure is a 500 naming the request id to look up in the log, never a
trace. Work that blocks (the store, the detectors) runs in the thread pool, never on the event loop."""

# no `from __future__ import annotations`: the query limits below read `config` when the route is
# defined, which a string annotation cannot (FastAPI would resolve it later, in module globals)
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import msgspec
import redis
from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Route

from pushguard.api.config import ServiceConfig
from pushguard.api.hooks import HookWorker
from pushguard.api.keys import KeyStore, StoredKey, allows
from pushguard.api.keys import Scope as KeyScope
from pushguard.api.metrics import Metrics
from pushguard.api.middleware import ApiError, BodyLimit, RequestLog
from pushguard.api.openapi import MAX_CHALLENGE, add_docs
from pushguard.api.schemas import (
    EventsBody,
    EventsReply,
    FindingsPage,
    OktaDelivery,
    PolicyInfo,
    request_body,
    response_of,
)
from pushguard.api.service import FindingQuery, Service
from pushguard.decide import PolicyError
from pushguard.flow import TOO_DEEP
from pushguard.model import DecisionRequest, Severity
from pushguard.model.decision import RFC3339_PATTERN as RFC3339
from pushguard.model.decision import RequestTime

_json = msgspec.json.Encoder()


def _reply(value: Any, status: int = 200) -> Response:
    return Response(_json.encode(value), status_code=status, media_type="application/json")


def _error(status: int, error: str, detail: str) -> Response:
    return _reply({"error": error, "detail": detail}, status)


async def _decode(request: Request, kind: type[Any]) -> Any:
    raw = await request.body()
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "send application/json")
    try:
        return msgspec.json.decode(raw, type=kind)
    except RecursionError:  # deeper than the decoder goes; records are held to MAX_DEPTH one by one
        raise ApiError(400, "invalid_json", TOO_DEEP) from None
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid_body", str(exc)) from None
    except (msgspec.DecodeError, UnicodeError) as exc:
        raise ApiError(400, "invalid_json", str(exc)) from None
    except ValueError as exc:  # a type's own check (e.g. a time without a zone)
        raise ApiError(422, "invalid_body", str(exc)) from None


class _TimeText(msgspec.Struct):
    """A decide body's ``time`` as text: held to the pattern its schema states before it is decoded."""

    time: Annotated[str, msgspec.Meta(pattern=RFC3339)] | None = None


TIME_RULE = "time: an RFC 3339 time with its time zone (e.g. 2026-03-02T09:00:00Z), years 1000 to 9998"


def rfc3339_time(text: str, field: str) -> datetime:
    """An RFC 3339 time with its zone, or a 422 naming ``field``."""
    try:
        moment = msgspec.convert(text, RequestTime)
    except msgspec.ValidationError:
        raise ApiError(422, "invalid_request", f"{field}: not an RFC 3339 time with its zone") from None
    return moment


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the routes matching ``path`` answer (HEAD with GET)."""
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, Route) and route.path_regex.match(path) and route.methods:
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def create_app(
    config: ServiceConfig, service: Service | None = None, keys: KeyStore | None = None
) -> FastAPI:
    """The service's app. ``service`` and ``keys`` are built from ``config`` unless given (tests); a
    service built here is closed at shutdown."""
    owned = service is None
    service = service or Service(config)
    keys = keys or KeyStore(config.keys_file)
    metrics = Metrics()
    if service.closed_loop is not None:  # each closed-loop intent: outcome, time to control
        service.closed_loop.observers.append(
            lambda e: metrics.controlled(
                e.intent.provider.value, e.outcome or "", e.time_to_control_s, e.since_received_s
            )
        )
    hooks = HookWorker(service, metrics, config.spool_dir(), config.advance_every_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hooks.start()
        try:
            yield
        finally:
            await run_in_threadpool(hooks.stop)
            if owned:
                service.close()

    app = FastAPI(
        title="pushguard",
        version="1",
        description="Push-MFA policy decisions and findings across Okta, Entra ID and Duo. Every route "
        "but /healthz, /readyz and this description needs an API key: `Authorization: Bearer pg_...` "
        "(or `X-API-Key`); the Okta event hook needs its shared secret instead. Every refusal is "
        '`{"error": ..., "detail": ...}`.',
        lifespan=lifespan,
        docs_url=None,  # served by add_docs, from the package's own copies of the assets
        redoc_url=None,
        openapi_url="/openapi.json" if config.docs else None,
    )
    app.state.service, app.state.keys, app.state.metrics, app.state.hooks = service, keys, metrics, hooks
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, timeout_s=config.read_timeout_s)
    app.add_middleware(RequestLog, metrics=metrics)  # added last: outermost

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

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        answer = _error(exc.status, exc.error, exc.detail)
        if exc.status == 408:  # the rest of the body may still come: not on this connection
            answer.headers["connection"] = "close"
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()
        ]
        return _error(422, "invalid_request", "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        names = {404: "not_found", 405: "method_not_allowed"}
        answer = _error(exc.status_code, names.get(exc.status_code, "http_error"), str(exc.detail))
        if exc.status_code == 405:  # RFC 9110: say which methods the path has (all its routes')
            answer.headers["allow"] = ", ".join(allowed_methods(app, request.scope["path"]))
        return answer

    if config.docs:
        add_docs(app, config.okta_hook_header)

    @app.get("/healthz", tags=["health"], summary="The process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The state store answers")
    def readyz() -> Response:
        ok = service.ready()
        return _reply({"status": "ready" if ok else "store unreachable"}, 200 if ok else 503)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics (read scope)")
    def metrics_endpoint(request: Request) -> Response:
        require(request, KeyScope.READ)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/v1/decide",
        tags=["decide"],
        summary="Decide on a push or an enrollment about to happen (decide scope)",
        openapi_extra=request_body(DecisionRequest) | response_of("Decision"),
    )
    async def decide_endpoint(request: Request) -> Response:
        require(request, KeyScope.DECIDE)
        service.deciding += 1  # ingestion gives way meanwhile (see service.py)
        try:
            try:  # the time as its schema states it, before anything else
                await _decode(request, _TimeText)
            except ApiError as exc:
                if exc.status == 422 and "$.time" in exc.detail:
                    raise ApiError(422, "invalid_body", TIME_RULE) from None
                raise
            decision_request: DecisionRequest = await _decode(request, DecisionRequest)
            decision = service.decide(decision_request)  # on the loop: ~30 µs, less than a thread hop
        finally:
            service.deciding -= 1
        metrics.decisions.labels(decision.decision.value).inc()
        if decision.fallback:
            metrics.fallbacks.inc()
        return _reply(decision)

    @app.post(
        "/v1/events",
        tags=["ingest"],
        summary="Ingest a batch of raw vendor records (ingest scope)",
        openapi_extra=request_body(EventsBody) | response_of("EventsReply"),
    )
    async def events_endpoint(request: Request) -> Response:
        require(request, KeyScope.INGEST)
        body: EventsBody = await _decode(request, EventsBody)
        try:
            result = await run_in_threadpool(service.ingest, body.records, body.source_provider, "api")
        except redis.RedisError as exc:  # only with Redis: the batch was not queued, the caller retries
            raise ApiError(503, "store_unavailable", f"Redis: {type(exc).__name__}") from None
        metrics.ingested("api", result.records, result.rejected, result.findings)
        return _reply(
            EventsReply(
                records=result.records,
                events=result.events,
                rejected=result.rejected,
                errors=result.errors,
                findings=result.findings,
                queued=result.queued,
                duplicates=result.duplicates,
                late=result.late,
                held=result.held,
            )
        )

    def hook_auth(request: Request) -> None:
        secret = config.okta_hook_secret
        if not secret:
            raise ApiError(404, "not_found", "the Okta event hook is not configured")
        sent = request.headers.get(config.okta_hook_header, "")
        if not hmac.compare_digest(sent.encode(), secret.encode()):
            raise ApiError(401, "unauthenticated", f"wrong or missing {config.okta_hook_header} header")

    @app.get("/v1/hooks/okta", tags=["ingest"], summary="Okta's one-time event-hook verification")
    def okta_verify(request: Request) -> dict[str, str]:
        hook_auth(request)
        challenge = request.headers.get("x-okta-verification-challenge", "")
        if not challenge:
            raise ApiError(400, "missing_challenge", "X-Okta-Verification-Challenge header is required")
        if len(challenge) > MAX_CHALLENGE:
            raise ApiError(400, "invalid_challenge", f"a challenge is at most {MAX_CHALLENGE} characters")
        return {"verification": challenge}

    @app.post(
        "/v1/hooks/okta",
        tags=["ingest"],
        summary="Okta event-hook delivery: spooled, answered 204, processed behind the answer",
        status_code=204,
        openapi_extra=request_body(OktaDelivery),
    )
    async def okta_deliver(request: Request) -> Response:
        hook_auth(request)
        # the shape its schema states (data.events a list, types of every field): what the worker reads
        await _decode(request, OktaDelivery)
        raw = await request.body()
        await run_in_threadpool(hooks.submit, raw)
        return Response(status_code=204)

    @app.get(
        "/v1/findings",
        tags=["read"],
        summary="Findings, newest first, filtered and paged (read scope)",
        openapi_extra=response_of("FindingsPage"),
    )
    async def findings_endpoint(
        request: Request,
        user: Annotated[str | None, Query(max_length=512)] = None,
        detector: Annotated[str | None, Query(max_length=128)] = None,
        severity: Annotated[Severity | None, Query(description="at least this severe")] = None,
        since: Annotated[
            str | None,
            Query(
                description="detected at or after: an RFC 3339 time with its zone",
                pattern=RFC3339,
                json_schema_extra={"format": "date-time"},
            ),
        ] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=config.page_size_max)] = min(100, config.page_size_max),
    ) -> Response:
        require(request, KeyScope.READ)
        query = FindingQuery(
            user=None if user is None else service.canonical(user),
            detector=detector,
            severity=severity,
            since=None if since is None else rfc3339_time(since, "since"),
            offset=offset,
            limit=limit,
        )
        page, total = await run_in_threadpool(service.findings, query)
        after = offset + len(page)
        return _reply(
            FindingsPage(
                findings=page,
                total=total,
                offset=offset,
                limit=limit,
                next_offset=after if after < total else None,
            )
        )

    @app.get(
        "/v1/identities/{identity}",
        tags=["read"],
        summary="One identity's profile summary and risk (read scope)",
        openapi_extra=response_of("IdentitySummary"),
    )
    async def identity_endpoint(request: Request, identity: str) -> Response:
        require(request, KeyScope.READ)
        return _reply(await run_in_threadpool(service.identity, service.canonical(identity)))

    @app.get(
        "/v1/policies",
        tags=["decide"],
        summary="The active policy (read scope)",
        openapi_extra=response_of("PolicyInfo"),
    )
    def policies_endpoint(request: Request) -> Response:
        require(request, KeyScope.READ)
        return _reply(PolicyInfo.of(service.policy, service.policy_error))

    @app.post(
        "/v1/policies/reload",
        tags=["decide"],
        summary="Reload the policy file; a bad file keeps the last good policy (admin scope)",
    )
    def reload_endpoint(request: Request) -> Response:
        require(request, KeyScope.ADMIN)
        try:
            policy = service.reload_policy()
        except PolicyError as exc:
            raise ApiError(422, "policy_rejected", f"kept version {service.policy.version}: {exc}") from None
        return _reply({"version": policy.version})

    return app
