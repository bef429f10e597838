"""The HTML report (self-contained, offline, well under 1.5 MB) and OCSF Detection Findings; the demo's
report is also opened in Debian's headless chromium at 1400 and 420 px (CI installs it: there the test
must run, PUSHGUARD_REQUIRE_CHROMIUM=1): no sideways scrolling, no console error, the summary first."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.detect import META_BY_ID
from pushguard.model import Finding, FindingStatus, Severity
from pushguard.report.html import PolicyRuleInfo, render_html
from pushguard.report.ocsf_findings import finding_to_ocsf
from tests.browser import CHROMIUM, open_page

MAX_REPORT_BYTES = 1_500_000


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


def test_summary_then_incidents_with_timelines_and_reasons(report: tuple[Path, str]) -> None:
    _, text = report
    assert (
        text.index("<h2>Summary</h2>")
        < text.index("<h2>Incidents</h2>")
        < text.index("<h2>Charts</h2>")
        < text.index("<h2>Findings</h2>")
    )
    assert 'class="incident sev-' in text and "Timeline (" in text
    first = text.index('<section class="incident')
    assert "sev-critical" in text[first : first + 100]  # the worst incident first
    assert "push sent" in text and "push approved" in text
    assert '<meta name="viewport"' in text


def test_the_report_works_offline_and_is_small(report: tuple[Path, str]) -> None:
    _, text = report
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=\"https?:", text)
    assert "plotly" not in text.lower()
    assert text.count('<figure class="chart"') == 3 and text.count("<svg ") == 3  # charts are inline SVG
    assert len(text.encode()) < MAX_REPORT_BYTES


def test_every_time_is_local_with_utc_on_hover(report: tuple[Path, str]) -> None:
    _, text = report
    tags = re.findall(r"<time[^>]*>", text)
    assert len(tags) > 100
    pattern = re.compile(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" title="[^"]+ UTC">')
    assert all(pattern.fullmatch(tag) for tag in tags)
    # no raw ISO moment outside a <time> (mixed precision, broken mid-token)
    visible = re.sub(r"<time[^>]*>[^<]*</time>|<[^>]+>", " ", text)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", visible)


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
    rows = [
        (score, identity.replace("<wbr>", ""))
        for score, identity in re.findall(r'<td data-label="risk">(\d+).*?<b>(.*?)</b>', section, re.S)
    ]
    assert rows, "one row per enrollment or removal"
    scores = [int(score) for score, _ in rows]
    assert scores == sorted(scores, reverse=True)
    assert rows[0][1] in abused  # the riskiest enrollment belongs to a labeled campaign
    assert '<span class="pill critical">flagged</span>' in section


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
    text = html.read_text()
    assert "<h2>Summary</h2>" in text and "<h2>Incidents</h2>" in text
    # what needs the logs is said once; no empty timelines or charts
    assert 'id="needs-logs"' in text and "timelines, charts and the enrollment review need the logs" in text
    assert "Timeline (" not in text and "<h2>Charts</h2>" not in text and "<svg" not in text
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


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def test_the_demo_report_leads_with_what_a_security_lead_acts_on(demo_report: Path) -> None:
    text = demo_report.read_text()
    assert len(text.encode()) < MAX_REPORT_BYTES
    summary = text[text.index("<h2>Summary</h2>") : text.index("<h2>Incidents</h2>")]
    assert "people with a medium-or-worse finding" in summary
    assert "approved an attacker's push or sign-in" in summary
    assert "New authenticators that look like the attacker" in summary
    assert "What to do now" in summary and "Revoke the token or credential" in text  # the incident's steps
    labels = json.loads((demo_report.parent / "logs" / "labels.json").read_text())
    enrolled = [c["identity"] for c in labels["campaigns"] if c["kind"] == "enrollment_abuse"]
    assert enrolled and all(identity.replace("@", "<wbr>@") in summary for identity in enrolled)
    assert "privileged action: system.api_token.create" in text  # the timeline names the action
    assert "Accounts targeted (" in text and "Timeline (0 events" not in text


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("PUSHGUARD_REQUIRE_CHROMIUM"),
    reason="Debian's chromium is not installed",
)
@pytest.mark.parametrize("width", [1400, 420])
def test_the_demo_report_fits_the_screen_in_a_real_browser(
    demo_report: Path, width: int, tmp_path: Path
) -> None:
    assert CHROMIUM is not None, "PUSHGUARD_REQUIRE_CHROMIUM is set but chromium is not installed"
    # PUSHGUARD_SCREENSHOTS: a directory to keep the screenshots in (to look at them), else a temp dir
    shots = Path(os.environ.get("PUSHGUARD_SCREENSHOTS") or tmp_path)
    shot = shots / f"report-{width}.png"
    page = open_page(demo_report, width, shot)
    assert page["viewport"] == width
    assert page["scrollWidth"] <= width, page["wide"]  # never scrolls sideways
    assert page["wide"] == []  # nothing sticks out of the column either
    assert page["errors"] == []
    assert page["summary"] and page["svgCharts"] == 3
    assert list(page["sections"])[:3] == ["Summary", "Incidents", "Charts"]
    assert shot.stat().st_size > 20_000


def test_prompts_per_hour_counts_answers_of_vendors_that_never_log_the_send() -> None:
    from pushguard.model import EventKind, Provider
    from pushguard.report.charts import charts
    from tests.events import ev

    events = [
        ev(EventKind.PUSH_SENT, 0),  # Okta logs the send ...
        ev(EventKind.PUSH_DENIED, 30),  # ... and the answer: one prompt, not two
        ev(EventKind.PUSH_DENIED, 60, provider=Provider.DUO),  # Duo logs only the answer: one prompt
        ev(EventKind.PUSH_APPROVED, 90, provider=Provider.ENTRA),  # Entra too
    ]
    chart = charts(events)["prompts_per_hour"]
    assert chart["values"] == {"prompts": [3]}
    assert chart["x_title"] == "hour (UTC)" and chart["y_title"] == "prompts"
