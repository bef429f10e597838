"""Schema-based fuzzing of the HTTP API (schemathesis over the app's own OpenAPI document): whatever the
generated request, no 5xx; with no key every operation but health answers 401; with an admin key the
answers stay within 2xx/4xx and bad input never reaches the engine as anything but a 4xx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from pushguard.api import KeyStore, Scope, Service, ServiceConfig, create_app

OPEN = frozenset({"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


def build(tmp: Path) -> tuple[FastAPI, str, Service]:
    config = ServiceConfig(
        state=str(tmp / "state.sqlite"),
        keys_file=str(tmp / "keys.json"),
        okta_hook_secret="hook-secret",
        max_body_bytes=256 * 1024,
    )
    keys = KeyStore(config.keys_file)
    _, token = keys.create("fuzz", [Scope.ADMIN])
    service = Service(config)
    return create_app(config, service, keys), token, service


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    app, token, service = build(tmp_path_factory.mktemp("api-fuzz"))
    yield app, token
    service.close()


def operations(app: FastAPI) -> list[schemathesis.APIOperation[Any, Any, Any, Any]]:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    found = []
    for result in loaded.get_all_operations():
        assert isinstance(result, Ok), result  # the app's own OpenAPI document must be valid
        found.append(result.ok())
    return found


def fuzz(app: FastAPI, examples: int, check: Callable[[schemathesis.Case[Any]], None]) -> int:
    """Run ``check`` on generated cases of every operation (schemathesis strategies driven by hypothesis
    directly: its pytest plugin does not run under this pytest). Returns the number of operations."""
    ops = operations(app)
    for operation in ops:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: schemathesis.Case[Any]) -> None:
            check(case)

        run()
    return len(ops)


def test_no_server_errors_with_a_key(api: tuple[FastAPI, str]) -> None:
    app, token = api

    def check(case: schemathesis.Case[Any]) -> None:
        headers = (
            {"Authorization": "hook-secret"}
            if case.path == "/v1/hooks/okta"
            else {"Authorization": f"Bearer {token}"}
        )
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])

    assert fuzz(app, 40, check) >= 10


def test_every_operation_needs_a_key(api: tuple[FastAPI, str]) -> None:
    app, _ = api

    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(headers={"Authorization": "Bearer pg_bad_key"})
        if case.path in OPEN:
            assert response.status_code < 500
        else:
            assert response.status_code in (401, 404), (case.method, case.path, response.status_code)

    fuzz(app, 10, check)
