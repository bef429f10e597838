"""Shared by the API tests: a service over a temporary state, one key per scope, Okta records of a push
bombing (the simulator's Okta System Log shapes, as in tests/fixtures), a decide request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from fastapi.testclient import TestClient

from pushguard.api import KeyStore, Scope, Service, ServiceConfig, create_app
from pushguard.simulate import okta_records as okta
from tests.events import T0

HOOK_SECRET = "hook-secret-value-0123"

VICTIM = "victim@corp.example"
ATTACKER = "203.0.113.66"


class Env:
    def __init__(
        self,
        client: TestClient,
        tokens: dict[str, str],
        keys: KeyStore,
        config: ServiceConfig,
        service: Service,
    ) -> None:
        self.client, self.tokens, self.keys, self.config = client, tokens, keys, config
        self.service = service

    def headers(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}


@contextmanager
def running(tmp_path: Path, **settings: Any) -> Iterator[Env]:
    """The app over HTTP (lifespan run: the hook worker starts and stops), with ``settings`` over the
    test defaults."""
    base = ServiceConfig(
        state=str(tmp_path / "state.sqlite"),
        keys_file=str(tmp_path / "keys.json"),
        decision_log=str(tmp_path / "decisions.jsonl"),
        okta_hook_secret=HOOK_SECRET,
        max_body_bytes=64 * 1024,
        advance_every_s=0,
        reorder_window_s=0,  # a batch is applied at once (in time order); tests of the window set it
    )
    config = msgspec.structs.replace(base, **settings)
    keys = KeyStore(config.keys_file)
    tokens = {scope.value: keys.create(f"test-{scope.value}", [scope])[1] for scope in Scope}
    service = Service(config)
    with TestClient(create_app(config, service, keys), raise_server_exceptions=False) as client:
        yield Env(client, tokens, keys, config, service)
    service.close()


def week_at_home() -> list[dict[str, Any]]:
    """Okta records of a week of the victim's own pushes, approved from home each morning."""
    records = []
    for day in range(1, 8):
        moment = T0 - timedelta(days=day)
        records.append(okta.push_sent(moment, VICTIM, "88.160.137.23", "paris", seed=f"h{day}"))
        records.append(
            okta.push_answer(
                moment + timedelta(seconds=6), VICTIM, "88.160.137.23", "paris", True, seed=f"ok{day}"
            )
        )
    return records


def bombing_records() -> list[dict[str, Any]]:
    records = week_at_home()
    for n in range(8):
        moment = T0 + timedelta(seconds=40 * n)
        records.append(okta.push_sent(moment, VICTIM, ATTACKER, "lagos", seed=f"b{n}"))
    return records


DECIDE = {
    "operation": "push",
    "identity": VICTIM,
    "time": "2026-03-02T09:10:00Z",
    "ip": ATTACKER,
    "factor": "okta_verify_push",
}
