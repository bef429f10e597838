"""The audit chain anchored (issue 19, item 11): an HMAC key nobody else can hash with, and the head sent
with every notification, so a cut tail, an emptied file or a line hashed again are all caught. And the
dry run of the example playbook (item 12): planned calls whose JSON bodies hold braces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.model import Finding, FindingStatus, Severity
from pushguard.respond.actions import Action, VendorAccount
from pushguard.respond.audit import (
    GENESIS,
    KEY_ENV,
    AuditKeyError,
    AuditLog,
    ChainError,
    Head,
    chain_hash,
    verify,
    verify_head,
)
from pushguard.respond.notify import Webhook
from pushguard.respond.planner import PlannedAction
from pushguard.respond.playbook import WebhookConfig
from pushguard.respond.runner import PLANNED_CALLS, Runner, dry_run_result

KEY = b"an-audit-key-of-32-characters-xx"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
runner = CliRunner()


def written(path: Path, count: int, key: bytes | None = KEY) -> Head:
    log = AuditLog(path, clock=lambda: "2026-03-02T12:00:00Z", key=key)
    for n in range(count):
        log.append({"kind": "action", "n": n, "outcome": "performed"})
    return log.head


def rehashed(lines: list[str], edit: int, drop_mac: bool) -> list[str]:
    """What someone with write access but no key does: edit a line and hash the chain again with the
    public function."""
    out: list[str] = []
    prev = GENESIS
    for number, line in enumerate(lines, start=1):
        entry: dict[str, Any] = json.loads(line)
        if number == edit:
            entry["outcome"] = "planned"
        if drop_mac:
            entry.pop("mac", None)
        entry["prev"] = prev
        entry["hash"] = prev = chain_hash(prev, entry)
        out.append(json.dumps(entry))
    return out


def test_a_keyed_chain_verifies_with_its_key_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    head = written(path, 4)
    assert verify_head(path, KEY) == head and head.seq == 4
    assert all(json.loads(line)["mac"] == "hmac-sha256" for line in path.read_text().splitlines())
    with pytest.raises(AuditKeyError, match=KEY_ENV):
        verify(path)
    with pytest.raises(ChainError, match="hash mismatch"):
        verify(path, b"another-key-of-at-least-16")
    with pytest.raises(AuditKeyError):
        AuditLog(path)  # nobody appends unkeyed lines to a keyed log


@pytest.mark.parametrize("drop_mac", [False, True])
def test_a_line_hashed_again_with_the_public_function_is_caught_by_the_key(
    tmp_path: Path, drop_mac: bool
) -> None:
    path = tmp_path / "audit.jsonl"
    written(path, 5)
    path.write_text("\n".join(rehashed(path.read_text().splitlines(), 3, drop_mac)) + "\n")
    with pytest.raises(ChainError, match=":1: " + ("not keyed" if drop_mac else "hash mismatch")):
        verify(path, KEY)


def test_an_unkeyed_chain_hashed_again_is_caught_by_the_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    head = written(path, 5, key=None)
    path.write_text("\n".join(rehashed(path.read_text().splitlines(), 3, drop_mac=True)) + "\n")
    assert verify(path) == 5  # the chain alone cannot tell
    with pytest.raises(ChainError, match=r":5: not the line the head"):
        verify_head(path, None, head)


def test_a_cut_tail_and_an_emptied_log_are_caught_by_the_head(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    head = written(path, 5)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n")
    assert verify(path, KEY) == 3
    with pytest.raises(ChainError, match=r"ends at line 3, before the head 5:"):
        verify_head(path, KEY, head)
    path.write_text("")
    with pytest.raises(ChainError, match=r"ends at line 0"):
        verify_head(path, KEY, head)
    path.write_text("\n".join(lines) + "\n")
    assert verify_head(path, KEY, Head(3, json.loads(lines[2])["hash"])) == head  # an older head holds


def test_audit_verify_reports_the_head_and_checks_the_one_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    path = tmp_path / "audit.jsonl"
    head = written(path, 3)
    ok = runner.invoke(app, ["audit-verify", str(path), "--head", str(head)])
    assert ok.exit_code == 0, ok.output
    assert f"head {head}" in ok.output and "HMAC-keyed" in ok.output
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    cut = runner.invoke(app, ["audit-verify", str(path), "--head", str(head)])
    assert cut.exit_code == 1 and "TAMPERED" in cut.output and "cut or emptied" in cut.output
    bad = runner.invoke(app, ["audit-verify", str(path), "--head", "three"])
    assert bad.exit_code == 2 and "SEQ:HASH" in bad.output
    monkeypatch.delenv(KEY_ENV)
    unkeyed = runner.invoke(app, ["audit-verify", str(path)])
    assert unkeyed.exit_code == 2 and KEY_ENV in unkeyed.output


def test_every_notification_carries_the_head(tmp_path: Path) -> None:
    bodies: list[dict[str, Any]] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200)

    webhook = Webhook(
        WebhookConfig(url="https://soar.test/hook", secret_env="HOOK_SECRET"),
        {"HOOK_SECRET": "s3cret"},
        client=httpx.Client(transport=httpx.MockTransport(receiver)),
    )
    audit = AuditLog(tmp_path / "audit.jsonl", key=KEY)
    entry = audit.append(
        {
            "kind": "action",
            "identity": "alice@corp.example",
            "severity": "high",
            "findings": ["f1"],
            "vendor": "okta",
            "login": "alice@corp.example",
            "action": "clear_sessions",
            "outcome": "performed",
            "detail": "done",
            "undo": None,
        }
    )
    Runner(audit, execute=False, webhook=webhook, clock=lambda: NOW)._notify("inc-1", [entry])
    assert bodies[0]["audit_head"] == {"seq": 1, "hash": entry["hash"]}
    assert verify_head(tmp_path / "audit.jsonl", KEY, Head(1, entry["hash"])).seq == 2  # + the notify line


# -- item 12: a dry run of the example playbook on every vendor ------------------------------------------


@pytest.mark.parametrize(("vendor", "action"), list(PLANNED_CALLS))
def test_every_planned_call_is_shown_with_its_body(vendor: str, action: Action) -> None:
    user = "00u{0}x{user}"  # braces in an id are text, never a format field
    planned = PlannedAction(
        incident="inc",
        identity="alice@corp.example",
        action=action,
        account=VendorAccount(provider=vendor, login="alice@corp.example", user_id=user),
        rule="r",
        findings=("f1",),
        severity="critical",
        confidence=0.99,
    )
    result = dry_run_result(planned)
    assert result.detail.startswith("dry run: would call ")
    assert PLANNED_CALLS[(vendor, action)].replace("{user}", user) in result.detail


def test_the_example_playbook_plans_a_critical_entra_takeover(tmp_path: Path) -> None:
    findings = tmp_path / "findings.jsonl"
    findings.write_bytes(msgspec.json.encode(example_finding()) + b"\n")
    audit = tmp_path / "audit.jsonl"
    playbook = Path(__file__).resolve().parents[1] / "examples" / "playbook.yaml"
    result = runner.invoke(
        app, ["respond", str(findings), "--playbook", str(playbook), "--audit-log", str(audit)]
    )
    assert result.exit_code == 0, result.output
    details = [json.loads(line)["detail"] for line in audit.read_text().splitlines()]
    assert any('{"accountEnabled": false}' in detail for detail in details), details


def example_finding() -> Finding:
    return Finding(
        id="f-takeover",
        revision=1,
        status=FindingStatus.OPEN,
        incident="inc-alice",
        detector="approval_after_denials",
        title="push approved after 6 denials",
        severity=Severity.CRITICAL,
        confidence=0.97,
        user="alice@corp.example",
        provider="entra",
        first_seen="2026-03-02T09:00:00Z",
        last_seen="2026-03-02T09:20:00Z",
        detected_at="2026-03-02T09:20:00Z",
        techniques=["T1621"],
        frameworks={},
        evidence=["e1"],
        source_ips=["203.0.113.9"],
        reasons=["6 denials then an approval"],
        actions=[],
    )
