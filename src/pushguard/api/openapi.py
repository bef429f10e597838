"""The API's own description: the OpenAPI document as the app really answers, and its pages offline.

FastAPI describes only the success of each route and a 422 of its own shape; the app answers every
refusal as ``{"error", "detail"}`` with the statuses below, needs a key (or the hook secret), and serves
Prometheus text on /metrics. ``document`` rewrites the generated document to say so: security schemes,
every error status an operation can answer, the hook's challenge header. /docs and /redoc load Swagger UI
and ReDoc from files shipped with the package (fastapi-offline's copies), never from a CDN.

Which routes answer without a key: /healthz and /readyz (probes), and the description of the API
(/openapi.json, /docs, /redoc), which holds nothing of the deployment (``docs: false`` removes it)."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

STATIC_URL = "/docs-static"
MAX_CHALLENGE = 1024  # the Okta hook's verification challenge (a short token)
OPEN_ROUTES = frozenset({"/healthz", "/readyz"})

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "a stable code, e.g. invalid_body, unauthenticated"},
        "detail": {"type": "string", "description": "what was wrong, for a person"},
    },
}
_WHY = {
    400: "The body is not JSON (or is nested too deep), or Content-Length is invalid",
    401: "No credentials, or unknown or revoked ones",
    403: "The key lacks this operation's scope",
    404: "Not found (the Okta event hook when it is not configured)",
    408: "The request body did not arrive within read_timeout_s",
    413: "The body is larger than max_body_bytes",
    415: "The body is not application/json",
    422: "The body or a parameter is invalid (the detail names the field)",
    503: "The state store (Redis) is unreachable: retry",
}
_ALWAYS = (400, 408, 413)  # the body limits and deadline apply to every route
_KEYED = (401, 403)
_WITH_BODY = (415, 422)
_EXTRA: dict[tuple[str, str], tuple[int, ...]] = {
    ("post", "/v1/events"): (503,),
    ("get", "/v1/hooks/okta"): (401, 404),
    ("post", "/v1/hooks/okta"): (401, 404, 415, 422),
    ("get", "/v1/findings"): (422,),
    ("get", "/v1/identities/{identity}"): (422,),
    ("post", "/v1/policies/reload"): (422,),
}
_HOOKS = frozenset({"/v1/hooks/okta"})


def _errors(statuses: tuple[int, ...]) -> dict[str, Any]:
    return {
        str(status): {"description": _WHY[status], "content": {"application/json": {"schema": ERROR_BODY}}}
        for status in sorted(set(statuses))
    }


def document(app: FastAPI, hook_header: str) -> dict[str, Any]:
    """The OpenAPI document of ``app`` as it answers (see the module docstring)."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for fastapi_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_own, None)
    components["securitySchemes"] = {
        "bearerKey": {"type": "http", "scheme": "bearer", "description": "an API key: pg_<id>_<secret>"},
        "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "oktaHookSecret": {
            "type": "apiKey",
            "in": "header",
            "name": hook_header,
            "description": "the event hook's shared secret (okta_hook_secret), as Okta sends it",
        },
    }
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own shape; the app's is {"error", "detail"}
            statuses: tuple[int, ...] = _ALWAYS
            if path in OPEN_ROUTES:
                operation["security"] = []
            elif path in _HOOKS:
                operation["security"] = [{"oktaHookSecret": []}]
            else:
                operation["security"] = [{"bearerKey": []}, {"headerKey": []}]
                statuses += _KEYED
            if "requestBody" in operation:
                statuses += _WITH_BODY
            statuses += _EXTRA.get((method, path), ())
            responses.update(_errors(statuses))
    readyz = doc["paths"]["/readyz"]["get"]["responses"]
    readyz["503"] = {
        "description": "The store is unreachable",
        "content": {"application/json": {"schema": _STATUS_BODY}},
    }
    readyz["200"]["content"] = {"application/json": {"schema": _STATUS_BODY}}
    doc["paths"]["/healthz"]["get"]["responses"]["200"]["content"] = {
        "application/json": {"schema": _STATUS_BODY}
    }
    doc["paths"]["/metrics"]["get"]["responses"]["200"] = {
        "description": "Prometheus text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    challenge = doc["paths"]["/v1/hooks/okta"]["get"]
    challenge["parameters"] = [
        {
            "name": "X-Okta-Verification-Challenge",
            "in": "header",
            "required": True,
            "description": "the value Okta sends once, to be echoed back",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CHALLENGE},
        }
    ]
    challenge["responses"]["200"]["content"] = {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["verification"],
                "properties": {"verification": {"type": "string"}},
            }
        }
    }
    return doc


_STATUS_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string"}},
}


def add_docs(app: FastAPI, hook_header: str) -> None:
    """/openapi.json (the rewritten document), /docs and /redoc with their assets from the package."""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(document(app, hook_header))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
    static = resources.files("fastapi_offline") / "static"
    app.mount(STATIC_URL, StaticFiles(directory=str(static)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )
