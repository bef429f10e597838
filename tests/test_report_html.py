"""The HTML report (self-contained, offline) and OCSF Detection Findings; the report is also rendered
in a real headless browser when Debian's chromium is installed (the charts must draw)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.detect import META_BY_ID
from pushguard.model import Finding, FindingStatus, Severity
from pushguard.report.html import PolicyRuleInfo, render_html
from pushguard.report.ocsf_findings import finding_to_ocsf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report") / "tenant"
    result = CliRunner().invoke(
        app, ["simulate", "--out", str(root), "--users", "60", "--days", "3", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def report(tenant: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("html")
    runner = CliRunner()
    backtest = out / "backtest.json"
    figures = runner.invoke(app, ["policy", "backtest", str(tenant), "--format", "json"])
    assert figures.exit_code == 0, figures.output
    backtest.write_text(figures.output)
    html = out / "report.html"
    result = runner.invoke(app, ["report", str(tenant), "--html", str(html), "--backtest", str(backtest)])
    assert result.exit_code == 0, result.output
    return html, html.read_text()


def test_incidents_come_first_with_timelines_and_reasons(report: tuple[Path, str]) -> None:
    _, text = report
    assert text.index("<h2>Incidents</h2>") < text.index("<h2>Charts</h2>") < text.index("<h2>Findings</h2>")
    assert 'class="incident"' in text and "Timeline (" in text
    first = text.index('class="incident"')
    assert "critical" in text[first : first + 400]  # the worst incident first
    assert "push sent" in text and "push approved" in text


def test_the_report_works_offline(report: tuple[Path, str]) -> None:
    _, text = report
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=\"https?:", text)
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js is inlined


def test_backtest_and_framework_sections(report: tuple[Path, str]) -> None:
    _, text = report
    assert "<h2>Policy backtest</h2>" in text and "default-2026.12" in text and "campaigns stopped" in text
    assert "before the first approval" in text
    assert "Rules of default-2026.12: cost and catch" in text and "Cheapest rules for 90%" in text
    assert "<h2>Frameworks</h2>" in text
    assert "PR.AA-03" in text and "NHI10" in text and "5.2.2 rate limiting" in text
    assert "number-match-every-push (number_match)" in text  # the policy rule cited as evidence


def test_enrollment_review_section_ranks_the_labeled_abuse_first(
    report: tuple[Path, str], tenant: Path
) -> None:
    _, text = report
    section = text[text.index("<h2>Enrollment review</h2>") : text.index("<h2>Policy backtest</h2>")]
    labels = json.loads((tenant / "labels.json").read_text())
    abused = {
        c["identity"] for c in labels["campaigns"] if c["kind"] in ("enrollment_abuse", "reset_enroll_access")
    }
    rows = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]+)</td>", section)
    assert rows, "one row per enrollment or removal"
    scores = [int(score) for score, _ in rows]
    assert scores == sorted(scores, reverse=True)
    assert rows[0][1] in abused  # the riskiest enrollment belongs to a labeled campaign


def test_no_findings_renders_an_empty_report() -> None:
    text = render_html(
        [],
        [],
        META_BY_ID,
        policy_rules=[PolicyRuleInfo(name="r", code="number_matching", action="number_match")],
    )
    assert "No findings" in text and "<h2>Frameworks</h2>" in text


def test_findings_file_input_and_ocsf(tenant: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    findings = tmp_path / "findings.jsonl"
    assert runner.invoke(app, ["analyze", str(tenant), "--out", str(findings), "-q"]).exit_code == 0
    html = tmp_path / "from-findings.html"
    assert runner.invoke(app, ["report", str(findings), "--html", str(html)]).exit_code == 0
    assert "<h2>Incidents</h2>" in html.read_text()
    ocsf = tmp_path / "ocsf.jsonl"
    assert runner.invoke(app, ["report", str(findings), "--ocsf", str(ocsf)]).exit_code == 0
    records = [json.loads(line) for line in ocsf.read_text().splitlines()]
    assert records and all(r["class_uid"] == 2004 and r["category_uid"] == 2 for r in records)
    assert runner.invoke(app, ["report", str(findings)]).exit_code == 2  # neither --html nor --ocsf


def test_ocsf_detection_finding_fields() -> None:
    finding = Finding(
        id="abc",
        revision=3,
        status=FindingStatus.OPEN,
        incident="inc",
        detector="push_bombing",
        title="Push bombing",
        severity=Severity.CRITICAL,
        confidence=0.95,
        user="ip:203.0.113.5",
        provider="okta",
        first_seen="2026-03-02T09:00:00Z",
        last_seen="2026-03-02T09:10:00Z",
        detected_at="2026-03-02T09:10:00Z",
        techniques=["T1621", "T1078"],
        frameworks={"nist_csf_2": ["PR.AA-03"]},
        evidence=["e1", "e2"],
        source_ips=["203.0.113.5"],
        reasons=["9 prompts"],
        actions=["revoke sessions"],
    )
    record = finding_to_ocsf(finding)
    assert record["type_uid"] == 200402 and record["activity_name"] == "Update"
    assert record["severity_id"] == 5 and record["confidence_score"] == 95
    assert record["finding_info"]["attacks"][0]["technique"]["uid"] == "T1621"
    assert record["finding_info"]["related_events"] == [{"uid": "e1"}, {"uid": "e2"}]
    assert record["resources"] == [{"type": "IP Address", "uid": "203.0.113.5"}]
    assert record["time"] == 1772442600000


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_renders_in_a_headless_browser(report: tuple[Path, str], tmp_path: Path) -> None:
    html, _ = report
    assert CHROMIUM is not None
    common = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000"]
    dom = subprocess.run([*common, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-500:]
    assert dom.stdout.count('class="main-svg"') >= 3  # each of the three charts drew its SVG
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, "--window-size=1280,2000", f"--screenshot={shot}", html.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 20_000


def test_prompts_per_hour_counts_answers_of_vendors_that_never_log_the_send() -> None:
    from pushguard.model import EventKind, Provider
    from pushguard.report.html import _charts
    from tests.events import ev

    events = [
        ev(EventKind.PUSH_SENT, 0),  # Okta logs the send ...
        ev(EventKind.PUSH_DENIED, 30),  # ... and the answer: one prompt, not two
        ev(EventKind.PUSH_DENIED, 60, provider=Provider.DUO),  # Duo logs only the answer: one prompt
        ev(EventKind.PUSH_APPROVED, 90, provider=Provider.ENTRA),  # Entra too
    ]
    figure = json.loads(_charts(events)["prompts_per_hour"])
    assert figure["data"][0]["y"] == [3]
