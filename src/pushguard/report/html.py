"""One self-contained HTML report a security lead reads: incidents first (each with its timeline of
prompts, denials, approvals and enrollments and the reasons), the findings with their evidence, charts
(prompts per hour, denials vs approvals per day, countries of approvals), policy backtest figures when
given, and the framework section: for each NIST CSF 2.0 outcome, SP 800-63B requirement and OWASP NHI
risk, which detectors and policy rules give evidence of it and how many findings they raised.

Works offline: plotly.js is inlined once (the file is larger, but opens anywhere), no CDN, no fonts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import msgspec
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from pushguard.detect.base import DetectorMeta
from pushguard.model import Event, EventKind, Finding, Severity
from pushguard.report.posture import PostureConfig, compute_posture

_TIMELINE_KINDS = frozenset(
    {
        EventKind.PUSH_SENT,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_TIMEOUT,
        EventKind.FRAUD_REPORTED,
        EventKind.FACTOR_ENROLLED,
        EventKind.FACTOR_REMOVED,
        EventKind.FACTORS_RESET,
        EventKind.BYPASS_ISSUED,
        EventKind.PASSWORD_RESET,
        EventKind.PRIVILEGED_ACTION,
        EventKind.SIGNIN_SUCCESS,
    }
)
_MAX_TIMELINE = 60
_ANSWERS = frozenset(
    {EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)
FRAMEWORK_NAMES = {
    "nist_csf_2": "NIST CSF 2.0",
    "sp800_63b": "NIST SP 800-63B",
    "owasp_nhi": "OWASP NHI Top 10",
}
# What the default policy's reason codes give evidence of (the report cannot import decide/: the CLI
# passes the rule names and codes in; this says what each known code enforces).
POLICY_EVIDENCE: Mapping[str, tuple[str, ...]] = {
    "number_matching": ("sp800_63b:5.1.3.1 out-of-band authenticators", "nist_csf_2:PR.AA-03"),
    "push_budget_spent": ("sp800_63b:5.2.2 rate limiting", "nist_csf_2:PR.AA-03"),
    "push_bombing": ("sp800_63b:5.2.2 rate limiting", "nist_csf_2:DE.CM-03"),
    "privileged_app": ("sp800_63b:AAL3 for privileged access", "nist_csf_2:PR.AA-05"),
    "nhi_interactive_mfa": ("owasp_nhi:NHI10", "nist_csf_2:PR.AA-01"),
    "fraud_reported": ("nist_csf_2:RS.MA-02", "sp800_63b:6.2 loss, theft, compromise"),
    "enroll_after_denials": ("sp800_63b:6.1.2.1 binding additional authenticators", "nist_csf_2:PR.AA-02"),
    "enroll_after_reset": ("sp800_63b:6.1.2.3 replacement of a lost authenticator", "nist_csf_2:PR.AA-02"),
    "enroll_new_country": ("sp800_63b:6.1.2.1 binding additional authenticators", "nist_csf_2:PR.AA-02"),
    "new_country_unmanaged": ("nist_csf_2:PR.AA-03", "sp800_63b:AAL2"),
}


class PolicyRuleInfo(msgspec.Struct, kw_only=True):
    name: str
    code: str
    action: str
    report_only: bool = False


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _incidents(findings: Sequence[Finding], events: Sequence[Event]) -> list[dict[str, Any]]:
    by_incident: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_incident[finding.incident].append(finding)
    by_identity: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.kind in _TIMELINE_KINDS:
            by_identity[event.identity].append(event)
    incidents = []
    for incident, members in by_incident.items():
        members.sort(key=lambda f: (f.detected_at, f.id))
        worst = max(members, key=lambda f: (f.severity.rank, f.confidence))
        start = min(_time(f.first_seen) for f in members)
        end = max(_time(f.last_seen) for f in members)
        evidence = {e for f in members for e in f.evidence}
        timeline = [
            e
            for e in by_identity.get(worst.user, [])
            if start.timestamp() - 3600 <= e.ts <= end.timestamp() + 3600 or e.event_id in evidence
        ]
        timeline.sort(key=lambda e: e.ts)
        entry: dict[str, Any] = {
            "id": incident,
            "user": worst.user,
            "severity": worst.severity.value,
            "rank": worst.severity.rank,
            "title": worst.title,
            "start": start.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
            "findings": members,
            "detectors": sorted({f.detector for f in members}),
            "timeline": [
                {
                    "time": e.time.isoformat().replace("+00:00", "Z"),
                    "kind": e.kind.value.replace("_", " "),
                    "ip": e.ip or "",
                    "place": ", ".join(x for x in ((e.geo.city, e.geo.country) if e.geo else ()) if x),
                    "evidence": e.event_id in evidence,
                }
                for e in timeline[:_MAX_TIMELINE]
            ],
            "timeline_more": max(0, len(timeline) - _MAX_TIMELINE),
        }
        incidents.append(entry)
    incidents.sort(key=lambda i: (-int(i["rank"]), str(i["start"])))
    return incidents


def _charts(events: Sequence[Event]) -> dict[str, str]:
    hours: Counter[str] = Counter()
    denials: Counter[str] = Counter()
    approvals: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    # Duo and Entra log only the answer to a push: for a vendor that never logs the send, an answer
    # (approved, denied, timed out, reported) stands for its prompt.
    sending = {e.provider for e in events if e.kind is EventKind.PUSH_SENT}
    for event in events:
        if event.kind is EventKind.PUSH_SENT or (event.kind in _ANSWERS and event.provider not in sending):
            hours[event.time.strftime("%Y-%m-%d %H:00")] += 1
        day = event.time.strftime("%Y-%m-%d")
        if event.kind in (EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED):
            denials[day] += 1
        elif event.kind is EventKind.PUSH_APPROVED:
            approvals[day] += 1
            countries[(event.geo.country if event.geo else None) or "unknown"] += 1
    layout = {"margin": {"l": 40, "r": 10, "t": 30, "b": 40}, "height": 280}
    figures = {
        "prompts_per_hour": go.Figure(
            go.Bar(x=sorted(hours), y=[hours[h] for h in sorted(hours)], name="prompts"),
            {**layout, "title": "Push prompts per hour (UTC)"},
        ),
        "denials_vs_approvals": go.Figure(
            [
                go.Bar(x=sorted(approvals), y=[approvals[d] for d in sorted(approvals)], name="approved"),
                go.Bar(
                    x=sorted(denials),
                    y=[denials[d] for d in sorted(denials)],
                    name="denied / timed out / fraud",
                ),
            ],
            {**layout, "title": "Denials vs approvals per day", "barmode": "group"},
        ),
        "approval_countries": go.Figure(
            go.Bar(x=[c for c, _ in countries.most_common(20)], y=[n for _, n in countries.most_common(20)]),
            {**layout, "title": "Countries of approvals"},
        ),
    }
    return {name: figure.to_json() for name, figure in figures.items()}


def _frameworks(
    findings: Sequence[Finding], metas: Mapping[str, DetectorMeta], rules: Sequence[PolicyRuleInfo]
) -> list[dict[str, Any]]:
    counts = Counter(f.detector for f in findings)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for meta in metas.values():
        for framework, refs in meta.frameworks.items():
            for ref in refs:
                row = rows.setdefault((framework, ref), {"detectors": [], "rules": [], "findings": 0})
                row["detectors"].append(meta.id)
                row["findings"] += counts.get(meta.id, 0)
    for rule in rules:
        for tagged in POLICY_EVIDENCE.get(rule.code, ()):
            framework, _, ref = tagged.partition(":")
            row = rows.setdefault((framework, ref), {"detectors": [], "rules": [], "findings": 0})
            row["rules"].append(f"{rule.name} ({rule.action}{', report-only' if rule.report_only else ''})")
    ordered = sorted(
        rows.items(),
        key=lambda item: (
            list(FRAMEWORK_NAMES).index(item[0][0]) if item[0][0] in FRAMEWORK_NAMES else 9,
            item[0][1],
        ),
    )
    return [
        {"framework": FRAMEWORK_NAMES.get(framework, framework), "ref": ref, **row}
        for (framework, ref), row in ordered
    ]


MAX_ENROLLMENT_ROWS = 50


def render_html(
    findings: Sequence[Finding],
    events: Sequence[Event],
    metas: Mapping[str, DetectorMeta],
    *,
    title: str = "pushguard report",
    backtest: Mapping[str, Any] | None = None,
    policy_rules: Sequence[PolicyRuleInfo] = (),
    enrollments: Sequence[Mapping[str, Any]] = (),
    generated_at: datetime | None = None,
    posture_config: PostureConfig | None = None,
) -> str:
    """The whole report as one HTML document. ``enrollments``: the enrollment review's rows (plain
    mappings, highest risk first), of which the first ``MAX_ENROLLMENT_ROWS`` are shown."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pushguard.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    template = environment.get_template("report.html.j2")
    severities = Counter(f.severity.value for f in findings)
    return template.render(
        title=title,
        generated=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z"),
        incidents=_incidents(findings, events),
        findings=sorted(findings, key=lambda f: (-f.severity.rank, f.detected_at)),
        severities=[(s.value, severities.get(s.value, 0)) for s in reversed(list(Severity))],
        detectors=Counter(f.detector for f in findings).most_common(),
        events=len(events),
        charts=_charts(events),
        plotly_js=get_plotlyjs(),
        frameworks=_frameworks(findings, metas, policy_rules),
        backtest=backtest,
        enrollments=list(enrollments[:MAX_ENROLLMENT_ROWS]),
        enrollments_total=len(enrollments),
        posture=compute_posture(events, posture_config) if events else None,
    )


def write_html(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
