"""Playbook, planning (break-glass, rate limits), dry run, audit chain, notifications and the CLI."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import typer
from typer.testing import CliRunner

from pushguard.cli import respond as respond_cli
from pushguard.model import ConfigError, Finding, FindingStatus, Severity
from pushguard.respond.actions import Action, Target, VendorAccount
from pushguard.respond.audit import AuditLog, ChainError, verify
from pushguard.respond.notify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Syslog,
    Webhook,
    cef_line,
    verify_signature,
)
from pushguard.respond.planner import plan
from pushguard.respond.playbook import SyslogConfig, WebhookConfig, load_playbook, parse_playbook
from pushguard.respond.runner import Runner
from pushguard.respond.targets import build_targets
from tests.http_fakes import Reply
from tests.test_respond import FakeApi

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "playbook.yaml"


def finding(user: str = "alice@corp.example", **kw: Any) -> Finding:
    base: dict[str, Any] = {
        "id": f"f-{user}-{kw.get('detector', 'approval_after_denials')}",
        "revision": 1,
        "status": FindingStatus.OPEN,
        "incident": f"inc-{user}",
        "detector": "approval_after_denials",
        "title": "push approved after 6 denials",
        "severity": Severity.HIGH,
        "confidence": 0.9,
        "user": user,
        "provider": "okta",
        "first_seen": "2026-03-02T09:00:00Z",
        "last_seen": "2026-03-02T09:20:00Z",
        "detected_at": "2026-03-02T09:20:00Z",
        "techniques": ["T1621"],
        "frameworks": {},
        "evidence": ["e1"],
        "source_ips": ["203.0.113.9"],
        "reasons": ["6 denials then an approval"],
        "actions": [],
    }
    base.update(kw)
    return Finding(**base)


BOOK = {
    "rules": [
        {
            "name": "approved under attack",
            "detectors": ["approval_after_denials"],
            "min_severity": "high",
            "min_confidence": 0.8,
            "actions": ["revoke_sessions", "remove_attacker_factor"],
        }
    ],
    "limits": {"max_actions_per_hour": 3, "max_actions_per_identity_per_day": 2},
    "break_glass": ["breakglass-*@corp.example"],
}


def test_example_playbook_loads() -> None:
    book = load_playbook(
        EXAMPLE,
        known_detectors={
            "approval_after_denials",
            "requester_responder_mismatch",
            "privileged_after_risky_approval",
            "enrollment_abuse",
            "reset_enroll_chain",
        },
    )
    assert len(book.rules) == 3 and book.webhook is not None and book.syslog is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rules": [{"name": "x", "actions": ["nuke_tenant"]}]}, "actions must be among"),
        ({"rules": [{"name": "x", "actions": ["suspend_user"], "min_confidence": 2}]}, "min_confidence"),
        ({"rules": [{"name": "x", "actions": ["suspend_user"], "detectors": ["nope"]}]}, "unknown detector"),
        ({"rules": [{"name": "x", "actions": ["suspend_user"], "min_severity": "extreme"}]}, "min_severity"),
        ({"surprise": 1, "rules": []}, "unknown section"),
        ({"rules": [], "notify": {"syslog": {"host": "h", "protocol": "smtp"}}}, "udp or tcp"),
    ],
)
def test_playbook_errors_name_the_problem(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_playbook(change, "book.yaml", known_detectors={"approval_after_denials"})


def test_plan_applies_thresholds_break_glass_and_limits() -> None:
    book = parse_playbook(BOOK, "b")
    findings = [
        finding(),
        finding("bob@corp.example", confidence=0.5),  # below confidence
        finding("carol@corp.example", severity=Severity.MEDIUM),  # below severity
        finding("breakglass-1@corp.example"),
        finding("dave@corp.example"),
    ]
    targets = build_targets(findings)
    planned = plan(findings, targets, book, [], NOW)
    by_user = {(p.identity, p.action): p.skip for p in planned}
    assert {u for u, _ in by_user} == {"alice@corp.example", "breakglass-1@corp.example", "dave@corp.example"}
    # factor removal is ordered before session revocation
    assert [p.action for p in planned[:2]] == [Action.REMOVE_ATTACKER_FACTOR, Action.REVOKE_SESSIONS]
    assert by_user[("breakglass-1@corp.example", Action.REVOKE_SESSIONS)] is not None
    assert "break-glass" in str(by_user[("breakglass-1@corp.example", Action.REVOKE_SESSIONS)])
    allowed = [p for p in planned if p.skip is None]
    assert len(allowed) == 3  # max 3 an hour: dave's second action is rate limited
    assert "rate limit" in str(by_user[("dave@corp.example", Action.REVOKE_SESSIONS)])


def test_rate_limits_and_repeats_count_the_audit_history() -> None:
    book = parse_playbook(BOOK, "b")
    findings = [finding()]
    history = [
        {
            "kind": "action",
            "outcome": "performed",
            "at": "2026-03-02T11:30:00Z",
            "incident": "inc-alice@corp.example",
            "action": "revoke_sessions",
            "vendor": "okta",
            "login": "alice@corp.example",
            "identity": "alice@corp.example",
        },
    ]
    planned = plan(findings, build_targets(findings), book, history, NOW)
    skips = {p.action: p.skip for p in planned}
    assert "already performed" in str(skips[Action.REVOKE_SESSIONS])
    assert skips[Action.REMOVE_ATTACKER_FACTOR] is None
    # a day-old history does not count for the hourly limit but does for the per-identity one
    old = [dict(history[0], at="2026-03-02T10:00:00Z", incident="older")] * 2
    planned = plan(findings, build_targets(findings), book, old, NOW)
    assert all("per identity" in str(p.skip) for p in planned)


def test_dry_run_makes_no_request_and_audits_the_plan(tmp_path: Path) -> None:
    api = FakeApi()
    try:
        book = parse_playbook(BOOK, "b")
        findings = [finding()]
        targets = build_targets(findings)
        audit = AuditLog(tmp_path / "audit.jsonl")

        def no_vendor(vendor: str) -> Any:
            raise AssertionError("a dry run must not build a vendor client")

        runner = Runner(audit, execute=False, responders=no_vendor, clock=lambda: NOW)
        entries = runner.run(plan(findings, targets, book, [], NOW), targets)
        assert [e["outcome"] for e in entries] == ["planned", "planned"]
        assert (
            "DELETE /api/v1/users/<id of alice@corp.example>/sessions?oauthTokens=true"
            in entries[1]["detail"]
        )
        assert api.seen == []
        assert verify(tmp_path / "audit.jsonl") == 2
    finally:
        api.close()


def test_execute_against_fake_okta_audits_results_with_undo(tmp_path: Path) -> None:
    api = FakeApi()
    try:
        api.route("DELETE", "/api/v1/users/00uA/sessions", Reply(204))
        api.route("GET", "/api/v1/users/00uA/factors", Reply(500, {"errorSummary": "boom"}))
        book = parse_playbook(BOOK, "b")
        findings = [finding()]
        account = VendorAccount(provider="okta", login="alice@corp.example", user_id="00uA")
        targets = {
            "inc-alice@corp.example": Target(
                identity="alice@corp.example",
                incident="inc-alice@corp.example",
                accounts=(account,),
                window=("2026-03-02T09:00:00Z", "2026-03-02T09:20:00Z"),
            )
        }
        from pushguard.respond.credentials import build_responder

        env = {"PUSHGUARD_OKTA_ORG_URL": api.url, "PUSHGUARD_OKTA_API_TOKEN": "tok"}

        def factory(vendor: str) -> Any:
            responder = build_responder(vendor, env)
            responder.http._sleep = lambda _s: None
            return responder

        audit = AuditLog(tmp_path / "audit.jsonl")
        runner = Runner(audit, execute=True, responders=factory, clock=lambda: NOW)
        entries = runner.run(plan(findings, targets, book, [], NOW), targets)
        runner.close()
        outcome = {e["action"]: e for e in entries}
        assert outcome["remove_attacker_factor"]["outcome"] == "failed"
        assert outcome["remove_attacker_factor"]["status"] == 500
        assert outcome["revoke_sessions"]["outcome"] == "performed"
        assert "not reversible" in outcome["revoke_sessions"]["undo"]
        assert "tok" not in (tmp_path / "audit.jsonl").read_text().replace("token", "")
        # the next run does not repeat what was performed
        again = plan(findings, targets, book, AuditLog(tmp_path / "audit.jsonl").entries, NOW)
        assert {p.action: p.skip is not None for p in again} == {
            Action.REMOVE_ATTACKER_FACTOR: False,
            Action.REVOKE_SESSIONS: True,
        }
    finally:
        api.close()


def test_audit_chain_detects_edits_removals_and_refuses_to_append(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, clock=lambda: "2026-03-02T12:00:00Z")
    for n in range(4):
        log.append({"kind": "action", "n": n, "outcome": "planned"})
    assert verify(path) == 4
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["outcome"] = "performed"
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    with pytest.raises(ChainError, match=r":2: hash mismatch"):
        verify(path)
    path.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    with pytest.raises(ChainError, match=r":2: out of sequence"):
        AuditLog(path)
    path.write_text("\n".join(lines) + "\n")
    AuditLog(path).append({"kind": "action", "n": 4})  # a second writer continues the same chain
    assert verify(path) == 5


def test_webhook_is_signed_and_verifiable() -> None:
    received: list[httpx.Request] = []

    def hook(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    env = {"HOOK_SECRET": "s3cret"}
    webhook = Webhook(
        WebhookConfig(url="https://soar.test/hook", secret_env="HOOK_SECRET"),
        env,
        client=httpx.Client(transport=httpx.MockTransport(hook)),
        clock=lambda: 1_772_000_000.0,
    )
    assert webhook.send({"incident": "i1", "actions": []}) == 200
    request = received[0]
    assert request.headers[TIMESTAMP_HEADER] == "1772000000"
    assert verify_signature(
        b"s3cret",
        request.headers[TIMESTAMP_HEADER],
        request.content,
        request.headers[SIGNATURE_HEADER],
        now=1_772_000_010.0,
    )
    assert not verify_signature(
        b"s3cret",
        request.headers[TIMESTAMP_HEADER],
        request.content + b" ",
        request.headers[SIGNATURE_HEADER],
        now=1_772_000_010.0,
    )
    assert not verify_signature(
        b"s3cret",
        request.headers[TIMESTAMP_HEADER],
        request.content,
        request.headers[SIGNATURE_HEADER],
        now=1_772_009_999.0,
    )  # replayed later
    with pytest.raises(ConfigError, match="MISSING"):
        Webhook(WebhookConfig(url="https://x", secret_env="MISSING"), {})


def test_cef_escapes_and_syslog_udp_tcp_delivery() -> None:
    line = cef_line("respond.x", "a|b", "high", {"msg": "k=v\nnext", "suser": "a\\b"}, NOW)
    assert line.startswith("CEF:0|pushguard|pushguard|") and "|a\\|b|8|" in line
    assert "msg=k\\=v\\nnext" in line and "suser=a\\\\b" in line

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(5)
    Syslog(SyslogConfig(host="127.0.0.1", port=udp.getsockname()[1], protocol="udp")).send(line, "high", NOW)
    datagram = udp.recv(65535).decode()
    udp.close()
    assert datagram.startswith("<83>1 2026-03-02T12:00:00.000Z ") and datagram.endswith(line)

    server = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            got.append(conn.recv(65535))

    thread = threading.Thread(target=accept)
    thread.start()
    Syslog(SyslogConfig(host="127.0.0.1", port=server.getsockname()[1], protocol="tcp")).send(
        line, "high", NOW
    )
    thread.join(5)
    server.close()
    assert got and got[0].endswith(line.encode() + b"\n")


def test_cli_dry_run_then_tampered_log_is_reported(tmp_path: Path) -> None:
    app = typer.Typer()
    respond_cli.register(app)
    findings_path = tmp_path / "findings.jsonl"
    findings_path.write_bytes(
        msgspec.json.encode(finding())
        + b"\n"
        + b'{"id": "broken"}\n'
        + msgspec.json.encode(finding("bob@corp.example"))
        + b"\n"
    )
    book = tmp_path / "book.yaml"
    book.write_text(json.dumps(BOOK))
    audit = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(
        app, ["respond", str(findings_path), "--playbook", str(book), "--audit-log", str(audit)]
    )
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "1 malformed" in result.output
    assert "findings.jsonl:2: not a finding" in result.output
    entries = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [e["outcome"] for e in entries] == ["planned"] * 3 + ["skipped"]  # 3 an hour
    assert "rate limit" in entries[3]["detail"]
    ok = CliRunner().invoke(app, ["audit-verify", str(audit)])
    assert ok.exit_code == 0 and "chain intact" in ok.output
    audit.write_text(audit.read_text().replace("planned", "performed", 1))
    bad = CliRunner().invoke(app, ["audit-verify", str(audit)])
    assert bad.exit_code == 1 and "TAMPERED" in bad.output


def test_targets_from_logs_carry_vendor_ids_and_the_enrolled_factor(tmp_path: Path) -> None:
    from pushguard.model import EventKind, Factor, Provider
    from tests.events import ev

    enrolled = msgspec.structs.replace(
        ev(EventKind.FACTOR_ENROLLED, 600, factor=Factor.OKTA_VERIFY_PUSH), factor_id="opfEVIL"
    )
    before = ev(EventKind.FACTOR_ENROLLED, -86_400 * 30)  # long before the incident: not the attacker's
    entra = ev(EventKind.PUSH_DENIED, 60, provider=Provider.ENTRA)
    f = finding(
        evidence=[enrolled.event_id], first_seen="2026-03-02T09:00:00Z", last_seen="2026-03-02T09:20:00Z"
    )
    targets = build_targets([f, finding("ip:203.0.113.9")], [before, enrolled, entra])
    assert list(targets) == ["inc-alice@corp.example"]  # a source IP is not an account
    target = targets["inc-alice@corp.example"]
    assert [(a.provider, a.user_id) for a in target.accounts] == [("entra", "00ualice"), ("okta", "00ualice")]
    assert [(e.factor_id, e.factor) for e in target.enrolled] == [("opfEVIL", "okta_verify_push")]

    book = parse_playbook(BOOK, "b")
    planned = plan([f], targets, book, [], NOW)
    runner = Runner(AuditLog(tmp_path / "audit.jsonl"), execute=False, clock=lambda: NOW)
    entries = runner.run(planned, targets)
    factor_rows = [e for e in entries if e["action"] == "remove_attacker_factor" and e["vendor"] == "okta"]
    assert "opfEVIL" in factor_rows[0]["detail"]
