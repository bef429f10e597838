"""``pushguard enforce`` end to end on a decision log as ``serve`` writes it, against a fake Okta over
HTTP: dry run, execute, a repeat that sends nothing, expiry, the audit chain, and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.decide import evaluate, load_policy
from pushguard.model import DecisionRequest, IdentityProfile, Operation, Provider
from tests.enforce_fakes import LOGIN, FakeIdp
from tests.events import T0
from tests.http_fakes import Reply

runner = CliRunner()
PUT = "PUT /api/v1/groups/00gSTEPUP/users/00uVICTIM"
DELETE = "DELETE /api/v1/groups/00gSTEPUP/users/00uVICTIM"


@pytest.fixture
def okta() -> Iterator[FakeIdp]:
    fake = FakeIdp("okta")
    yield fake
    fake.close()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    request = DecisionRequest(operation=Operation.PUSH, identity=LOGIN, time=T0, provider=Provider.OKTA)
    decision = evaluate(
        request, IdentityProfile(identity=LOGIN), load_policy(None), overrides={"prompts_last_10m": 8}
    )
    log = tmp_path / "decisions.jsonl"
    line = msgspec.json.encode({"request": request, "decision": decision})
    log.write_bytes(line + b"\n" + b'{"request": "not one"}\n')
    config = tmp_path / "enforcement.yaml"
    config.write_text("okta:\n  groups:\n    step_up: 00gSTEPUP\n")
    return {"log": log, "config": config, "state": tmp_path / "state.json", "audit": tmp_path / "audit.jsonl"}


def enforce(files: dict[str, Path], okta: FakeIdp, *args: str, log: bool = True) -> tuple[int, str]:
    paths = [str(files["log"])] if log else []
    options = ["--config", str(files["config"]), "--state", str(files["state"])]
    options += ["--audit-log", str(files["audit"])]
    if "--now" not in args:  # the decision's own minute: by the wall clock its step-up expired long ago
        options += ["--now", (T0 + timedelta(minutes=1)).isoformat()]
    result = runner.invoke(app, ["enforce", *paths, *options, *args], env=okta.env())
    return result.exit_code, result.output


def test_dry_run_then_execute_then_repeat_then_expire(files: dict[str, Path], okta: FakeIdp) -> None:
    code, out = enforce(files, okta)
    assert code == 0, out
    assert "planned" in out and okta.seen == []
    (planned,) = [json.loads(line) for line in files["audit"].read_text().splitlines()]
    assert planned["detail"].startswith("dry run: would send PUT /api/v1/groups/00gSTEPUP/users/victim@")
    assert "decisions.jsonl:2: not a decision record" in out
    assert not files["state"].exists()

    code, out = enforce(files, okta, "--execute")
    assert code == 0, out
    assert "performed" in out and okta.calls()[-1] == PUT
    assert okta.members["00gSTEPUP"] == {"00uVICTIM"}
    assert "1 memberships to expire" in out

    code, out = enforce(files, okta, "--execute")
    assert code == 0 and "not planned" in out and "nothing to do" in out  # the membership is held
    assert okta.calls().count(PUT) == 1

    early = (T0 + timedelta(hours=23)).isoformat()
    code, out = enforce(files, okta, "--expire", "--now", early, "--execute", log=False)
    assert code == 0 and "nothing to do" in out and DELETE not in okta.calls()

    later = (T0 + timedelta(days=1, minutes=1)).isoformat()
    code, out = enforce(files, okta, "--expire", "--now", later, "--execute", log=False)
    assert code == 0, out
    assert okta.calls()[-1] == DELETE and okta.members["00gSTEPUP"] == set()
    assert "0 memberships to expire" in out

    verified = runner.invoke(app, ["audit-verify", str(files["audit"])])
    assert verified.exit_code == 0 and "chain intact" in verified.output
    outcomes = [json.loads(line)["outcome"] for line in files["audit"].read_text().splitlines()]
    assert outcomes == ["planned", "performed", "performed"]  # dry run, the step-up, its removal


def test_a_failed_change_exits_1_and_usage_errors_exit_2(
    files: dict[str, Path], okta: FakeIdp, tmp_path: Path
) -> None:
    okta.faults = [Reply(403, {"errorCode": "E0000006", "errorSummary": "You do not have permission"})]
    code, out = enforce(files, okta, "--execute")
    assert code == 1 and "1 failed" in out
    (failed,) = [json.loads(line) for line in files["audit"].read_text().splitlines()]
    assert failed["http_status"] == 403 and "lack a permission" in failed["detail"]

    result = runner.invoke(app, ["enforce", "--config", str(files["config"])])
    assert result.exit_code == 2 and "give decision logs to enforce, or --expire" in result.output

    files["config"].write_text("okta:\n  groups:\n    allow: 00g\n")
    code, out = enforce(files, okta)
    assert code == 2 and "enforcement.yaml: okta.groups: 'allow' needs no control" in out

    files["config"].write_text("okta:\n  groups:\n    step_up: 00gSTEPUP\n")
    files["state"].write_text("{not json")
    code, out = enforce(files, okta, "--execute")
    assert code == 2 and "state.json: not an enforcement state" in out

    code, out = enforce(files, okta, "--expire", "--now", "2026-03-04T09:00:00", log=False)
    assert code == 2 and "--now: give a time zone" in out
