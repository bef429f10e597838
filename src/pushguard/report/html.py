"""One self-contained HTML report a security lead acts on: an executive summary (people affected,
attackers' approvals, attackers' authenticators, the first steps), then the incidents worst first (each
with what to do, its findings in plain words with the detector's triage note and known false positives,
and its timeline), charts (prompts per hour, denials vs approvals per day, countries of approvals), the
findings, the enrollment review, policy backtest figures when given, and the framework section: for each
NIST CSF 2.0 outcome, SP 800-63B requirement and OWASP NHI risk, which detectors and policy rules give
evidence of it and how many findings they raised.

Works offline and on a phone: no script library, no CDN, no fonts; charts are inline SVG; one small
script shows times in the reader's local time (UTC on hover)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import msgspec

from pushguard.detect.base import DetectorMeta
from pushguard.model import Event, Finding, Severity
from pushguard.report.charts import charts
from pushguard.report.controls import time_to_control
from pushguard.report.incidents import build_incidents
from pushguard.report.overview import executive_summary, flag_enrollments
from pushguard.report.posture import PostureConfig, compute_posture
from pushguard.report.present import FACTOR_NAMES, PROVIDER_NAMES, breakable, plain, times, when

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
_FIRST_USE = re.compile(r"^([A-Z]{2}) first used by this identity ")
_NAMED_DEVICE = re.compile(r"from a (browser|device) this person never used")
_AFTER_COUNT = re.compile(r"^(.*?) (\d+ min after)$")


def _collapse_after(lines: Sequence[str]) -> list[str]:
    """ "push approved 111 min after", "signin success 111 min after" twice → one line per moment."""
    moments: dict[str, Counter[str]] = {}
    other: list[str] = []
    for line in lines:
        match = _AFTER_COUNT.match(line)
        if match:
            moments.setdefault(match.group(2), Counter())[match.group(1).replace("signin", "sign-in")] += 1
        else:
            other.append(line)
    collapsed = [
        ", ".join(f"{what} x{n}" if n > 1 else what for what, n in counts.items()) + f" {moment}"
        for moment, counts in moments.items()
    ]
    return collapsed + other


def _distinct(lines: Sequence[str]) -> list[str]:
    """The review's "before" lines, each fact once: a country's first use is dropped when another line
    says the approval from it was new, the generic "device or browser" when a line names the browser."""
    texts = [plain(line) for line in lines]
    joined = " | ".join(texts)
    named_device = _NAMED_DEVICE.search(joined) is not None
    kept: list[str] = []
    for text in texts:
        first_use = _FIRST_USE.match(text)
        if first_use and f"from {first_use.group(1)}, new to this identity" in joined:
            continue
        if named_device:
            text = text.replace("; a device or browser the person never used", "")
        if text not in kept:
            kept.append(text)
    return kept


def _enrollment_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "factor_name": FACTOR_NAMES.get(str(row.get("factor")), str(row.get("factor") or "")),
        "provider_name": PROVIDER_NAMES.get(str(row.get("provider")), str(row.get("provider") or "")),
        "before": _distinct(row.get("before") or ()),
        "after": _collapse_after(row.get("after") or ()),
    }


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
    controls: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """The whole report as one HTML document. ``enrollments``: the enrollment review's rows (plain
    mappings, highest risk first), of which the first ``MAX_ENROLLMENT_ROWS`` are shown. Without
    ``events`` (a report from a findings file) the sections that need the logs say so instead."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pushguard.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["when"] = when
    environment.filters["plain"] = plain
    environment.filters["times"] = times
    environment.filters["breakable"] = breakable
    template = environment.get_template("report.html.j2")
    severities = Counter(f.severity.value for f in findings)
    incidents = build_incidents(findings, events, metas, controls)
    flagged = flag_enrollments(enrollments, findings)
    shown = [_enrollment_view(row) for row in flagged[:MAX_ENROLLMENT_ROWS]]
    titles = {meta.id: meta.title for meta in metas.values()}
    return template.render(
        title=title,
        generated=generated_at or datetime.now(UTC),
        has_logs=bool(events),
        summary=executive_summary(incidents, flagged),
        time_to_control=time_to_control(row for incident in incidents for row in incident["controls"]),
        incidents=incidents,
        findings=sorted(findings, key=lambda f: (-f.severity.rank, f.detected_at)),
        severities=[(s.value, severities.get(s.value, 0)) for s in reversed(list(Severity))],
        detectors=[(titles.get(d, d), d, n) for d, n in Counter(f.detector for f in findings).most_common()],
        titles=titles,
        events=len(events),
        charts=charts(events) if events else {},
        frameworks=_frameworks(findings, metas, policy_rules),
        backtest=backtest,
        enrollments=shown,
        enrollments_total=len(enrollments),
        enrollments_flagged=sum(1 for row in flagged if row["flagged"]),
        posture=compute_posture(events, posture_config) if events else None,
    )


def write_html(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
