"""End to end: a push bombing replayed through the running service's Okta event hook, each record
delivered on a simulated clock (the event's time plus the hook's delivery delay), the closed loop applying
the step-up against the fake Okta. The victim must be in the step-up group before the prompt they approve.

No real waiting: the service, its closed loop and the audit read the test's clock, which each delivery
moves to the event's time plus the delay."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pushguard.api import KeyStore, Scope, Service, ServiceConfig, create_app
from pushguard.respond.credentials import build_responder
from pushguard.respond.vendor import Responder
from pushguard.simulate import okta_records as okta
from tests.api_env import ATTACKER, HOOK_SECRET, VICTIM, week_at_home
from tests.enforce_fakes import FakeIdp
from tests.events import T0

STEP_UP = "00g-stepup-phr"
HOOK_DELAY_S = 10.0  # Okta event hooks: delivered within seconds (README, "Closed loop")
PROMPT_EVERY_S = 40.0
APPROVED_PROMPT = 6  # the worn-out victim approves the 6th prompt


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def okta_fake() -> Iterator[FakeIdp]:
    fake = FakeIdp("okta")
    yield fake
    fake.close()


def _enforcement_yaml(path: Path, *, dry_run_controls: str = "[]") -> Path:
    path.write_text(
        f"okta:\n  groups:\n    step_up: {STEP_UP}\n"
        f"findings:\n  min_severity: medium\n  dry_run_controls: {dry_run_controls}\n"
    )
    return path


def _delivery(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eventType": "com.okta.event_hook", "data": {"events": records}}


def _bombing() -> list[tuple[datetime, dict[str, Any], bool]]:
    """(event time, record, is the approval): prompts every 40 s, the 6th answered yes by the victim."""
    timeline = []
    for n in range(1, 9):
        moment = T0 + timedelta(seconds=PROMPT_EVERY_S * (n - 1))
        timeline.append((moment, okta.push_sent(moment, VICTIM, ATTACKER, "lagos", seed=f"b{n}"), False))
        if n == APPROVED_PROMPT:
            answer = moment + timedelta(seconds=8)
            record = okta.push_answer(answer, VICTIM, "88.160.137.23", "paris", True, seed=f"yes{n}")
            timeline.append((answer, record, True))
    return timeline


def _replay(
    tmp_path: Path, fake: FakeIdp, *, execute: bool = True
) -> tuple[list[dict[str, Any]], str, Clock]:
    clock = Clock(T0 - timedelta(days=8))
    config = ServiceConfig(
        state=str(tmp_path / "state.sqlite"),
        keys_file=str(tmp_path / "keys.json"),
        okta_hook_secret=HOOK_SECRET,
        advance_every_s=0,
        reorder_window_s=0,
        enforcement=str(_enforcement_yaml(tmp_path / "enforcement.yaml")),
        enforcement_execute=execute,
        enforcement_state=str(tmp_path / "enforcement.json"),
        audit_log=str(tmp_path / "audit.jsonl"),
    )

    def responders(vendor: str) -> Responder:
        return build_responder(vendor, fake.env(), max_attempts=1)

    service = Service(config, clock=clock, responders=responders)
    landed: list[dict[str, Any]] = []  # per delivered prompt: was the control in place by then?
    metrics = ""
    keys = KeyStore(config.keys_file)
    _, token = keys.create("test-read", [Scope.READ])
    with TestClient(create_app(config, service, keys)) as client:
        headers = {"Authorization": HOOK_SECRET}
        history = week_at_home()
        clock.at = T0 - timedelta(hours=1)
        assert client.post("/v1/hooks/okta", json=_delivery(history), headers=headers).status_code == 204
        client.app.state.hooks.drain()  # type: ignore[attr-defined]
        for moment, record, approval in _bombing():
            clock.at = moment + timedelta(seconds=HOOK_DELAY_S)
            # what the IdP holds when the prompt is shown: the control must already be there
            in_group = fake.user_id in fake.members.get(STEP_UP, set())
            landed.append({"at": moment, "approval": approval, "stepped_up": in_group})
            posted = client.post("/v1/hooks/okta", json=_delivery([record]), headers=headers)
            assert posted.status_code == 204
            client.app.state.hooks.drain()  # type: ignore[attr-defined]
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
    service.close()
    return landed, metrics, clock


def test_bombing_through_the_hook_steps_the_victim_up_before_the_approved_prompt(
    tmp_path: Path, okta_fake: FakeIdp
) -> None:
    landed, metrics, _ = _replay(tmp_path, okta_fake)
    approval = next(row for row in landed if row["approval"])
    assert approval["stepped_up"], f"the victim approved before the step-up landed: {landed}"
    assert not landed[0]["stepped_up"]  # nothing before the attack
    puts = [c for c in okta_fake.calls() if c.startswith("PUT ")]
    assert puts == [f"PUT /api/v1/groups/{STEP_UP}/users/{okta_fake.user_id}"]  # once, for all revisions
    # the audit carries the time from the IdP event to the control, and /metrics its histogram
    audit = [line for line in (tmp_path / "audit.jsonl").read_text().splitlines() if '"performed"' in line]
    assert len(audit) == 1 and '"time_to_control_s"' in audit[0]
    count = re.search(r'pushguard_time_to_control_seconds_count\{vendor="okta"\} (\S+)', metrics)
    assert count is not None and float(count.group(1)) == 1.0
    seconds = float(re.search(r'"time_to_control_s":\s*([0-9.]+)', audit[0]).group(1))  # type: ignore[union-attr]
    assert seconds == pytest.approx(HOOK_DELAY_S)  # the fake answers at once: only the delivery delay


def test_a_dry_run_service_changes_nothing_at_the_idp(tmp_path: Path, okta_fake: FakeIdp) -> None:
    landed, metrics, _ = _replay(tmp_path, okta_fake, execute=False)
    assert not any(row["stepped_up"] for row in landed)
    assert not [c for c in okta_fake.calls() if not c.startswith("GET ")]
    assert 'pushguard_enforcement_intents_total{outcome="planned"} 1.0' in metrics


def time_to_control(tmp_path: Path, fake: FakeIdp) -> float:
    """Seconds from the first alarm's IdP event to the step-up in place (for the percentiles report)."""
    _replay(tmp_path, fake)
    text = (tmp_path / "audit.jsonl").read_text()
    return statistics.fmean(float(v) for v in re.findall(r'"time_to_control_s":\s*([0-9.]+)', text))
