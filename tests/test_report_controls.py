"""The report shows what the closed loop did per incident: which control, for whom, and how long after
the IdP event it was in place, read from the (chain-checked) enforcement audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.detect import META_BY_ID
from pushguard.report.controls import control_rows, controls_by_finding, time_to_control
from pushguard.report.html import render_html
from pushguard.report.jsonl import write_findings
from pushguard.respond.audit import AuditLog, read_chain
from tests.test_closed_loop import finding


def closed_loop_entry(**overrides: Any) -> dict[str, Any]:
    """What ``Enforcer`` writes for an intent the closed loop planned (respond/enforcer.py ``_entry``)."""
    entry: dict[str, Any] = {
        "kind": "enforce",
        "mode": "execute",
        "key": "k1",
        "identity": "victim@corp.example",
        "vendor": "okta",
        "login": "victim@corp.example",
        "control": "add_to_group",
        "group_id": "00g-stepup",
        "action": "step_up",
        "outcome": "performed",
        "finding": "f-bomb-1",
        "event_at": "2026-03-02T09:01:20.000Z",
        "received_at": "2026-03-02T09:01:31.000Z",
        "applied_at": "2026-03-02T09:01:33.500Z",
        "time_to_control_s": 13.5,
        "since_received_s": 2.5,
    }
    entry.update(overrides)
    return entry


def test_controls_are_grouped_by_finding_and_undo_entries_are_left_out() -> None:
    entries = [
        closed_loop_entry(),
        closed_loop_entry(key="k2", control="remove_from_group", lifts="step_up", time_to_control_s=None),
        {"kind": "respond", "finding": "f-bomb-1"},  # a playbook action, not the closed loop's
        closed_loop_entry(key="k3", finding="f-other", mode="dry_run", outcome="planned"),
    ]
    by_finding = controls_by_finding(entries)
    assert sorted(by_finding) == ["f-bomb-1", "f-other"] and len(by_finding["f-bomb-1"]) == 1
    rows = control_rows(["f-bomb-1", "f-other"], by_finding)
    assert [(r["what"], r["dry_run"], r["seconds"]) for r in rows] == [
        ("added to the step_up group", False, 13.5),
        ("added to the step_up group", True, 13.5),
    ]
    assert time_to_control(rows) == {"count": 1, "median_s": 13.5, "max_s": 13.5}  # dry runs are no control


def test_the_report_shows_each_incident_s_controls_and_the_time_to_control() -> None:
    rows = controls_by_finding([closed_loop_entry()])
    document = render_html([finding()], [], META_BY_ID, controls=rows)
    assert "Controls the closed loop put in place" in document
    assert "added to the step_up group" in document and "14 s after the IdP event" in document
    assert "median from the IdP event to a control in place" in document
    plain = render_html([finding()], [], META_BY_ID)
    assert "Controls the closed loop put in place" not in plain and "to a control in place" not in plain


def test_report_reads_the_audit_log_and_refuses_an_edited_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUSHGUARD_AUDIT_KEY", raising=False)
    audit = tmp_path / "audit.jsonl"
    AuditLog(audit).append(closed_loop_entry())
    assert len(list(read_chain(audit))) == 1
    findings = tmp_path / "findings.jsonl"
    write_findings(findings, [finding()])
    html = tmp_path / "r.html"
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(findings), "--html", str(html), "--audit-log", str(audit)])
    assert result.exit_code == 0, result.output
    assert "14 s after the IdP event" in html.read_text(encoding="utf-8")
    audit.write_text(audit.read_text(encoding="utf-8").replace("13.5", "1.5"), encoding="utf-8")
    result = runner.invoke(app, ["report", str(findings), "--html", str(html), "--audit-log", str(audit)])
    assert result.exit_code == 2 and "hash mismatch" in result.output
