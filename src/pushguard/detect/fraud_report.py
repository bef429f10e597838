"""Fraud report: the user said "this wasn't me" (Okta report_suspicious_activity_by_enduser, Entra MFA
fraud alert / userReportedSuspiciousActivity risk detection, Duo "fraud").

The user is the best sensor there is: every report is at least high severity. It is correlated with what
preceded it in the identity's shared profile (prompts, denials and approvals in ``lookback_s``), with the
source IP of the disowned request (``event.ip``: Okta's suspiciousActivityEventIp, the Entra/Duo access
IP) and whether the identity ever used it, and with the findings already open for the identity.

Critical when a push was approved within ``approval_window_s`` before or after the report, unless that
approval came from an address the identity had already used and that is not the disowned one: the user
approved one prompt of the burst (fatigue) and reported another, so the attacker is probably in.

One report often arrives as several records (Entra logs the sign-in, an audit entry and a risk
detection): records within ``same_report_s`` of the previous one are the same report. Reports within
``episode_gap_s`` of each other are one finding, whose revision grows with each."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, Tunable, append_bounded, from_ts, kinds, settings
from pushguard.model import Event, EventKind, IdentityProfile, Severity

_MAX_APPROVALS = 8
_MAX_EVIDENCE = 50
_MAX_IPS = 10
_RANK_NAMES = {s.rank: s.value for s in Severity}


class Approval(msgspec.Struct, array_like=True):
    ts: float
    event_id: str
    ip: str
    known: bool  # the identity had used this IP before this approval


class Report(msgspec.Struct, kw_only=True):
    anchor: str
    first_ts: float
    last_ts: float
    reports: int = 1
    records: int = 1
    revision: int = 0
    severity: str = ""
    approval_id: str | None = None
    approval_ts: float = 0.0
    approval_ip: str = ""
    evidence: list[str] = []
    ips: list[str] = []
    disowned: list[str] = []  # IPs of the disowned requests
    providers: list[str] = []
    context: list[str] = []  # correlation reasons, computed at the first record


class FraudState(msgspec.Struct, kw_only=True):
    approvals: list[Approval] = []
    report: Report | None = None


META = DetectorMeta(
    id="fraud_report",
    title='User reported an MFA prompt as fraud ("this wasn\'t me")',
    description=(
        "The user reported a push / sign-in as not theirs. Always high; critical when a push was approved "
        "within approval_window_s before or after the report (unless from an IP the identity already used "
        "that is not the disowned one). Reasons carry the prompts, denials and approvals of the last "
        "lookback_s, the disowned request's source IP and whether it is known, and other open findings."
    ),
    severity=Severity.HIGH,
    techniques=("T1621",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.AE-02", "DE.CM-03", "RS.MA-02"),
        "sp800_63b": ("AAL2", "5.1.3.1 out-of-band authenticators", "6.2 loss, theft, compromise"),
        "owasp_nhi": (),
    },
    tunables={
        "lookback_s": Tunable(3600, "prompts/denials/approvals this far before the report are context"),
        "approval_window_s": Tunable(1800, "an approval this close to the report (either side) is critical"),
        "same_report_s": Tunable(300, "records this close to the previous one are the same report"),
        "episode_gap_s": Tunable(86400, "reports this close together are one finding"),
    },
    actions=(
        "Treat the account as compromised until shown otherwise: the password is in the attacker's hands.",
        "Contact the user out of band to confirm; thank them for reporting.",
        "Reset the password; if a push was approved, revoke sessions and OAuth tokens opened since.",
        "Remove factors or devices enrolled around the report; require a phishing-resistant factor.",
        "Block or watch the disowned request's source IP; look for it against other identities (spray).",
        "Check what the vendor did automatically (Entra blocks the user for MFA, Duo may lock the user).",
    ),
    triage=(
        "Read the disowned request's source IP and whether any push was approved around the report; "
        "a report with an approval nearby means the attacker may be in."
    ),
    false_positives=(
        "A person who taps 'report' on a prompt they started by mistake (e.g. on a second device).",
    ),
    watches=kinds((EventKind.PUSH_APPROVED, EventKind.FRAUD_REPORTED)),
)


class FraudReport:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = FraudState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(META, overrides)
        self.lookback_s = float(cfg["lookback_s"])
        self.approval_window_s = float(cfg["approval_window_s"])
        self.same_report_s = float(cfg["same_report_s"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> FraudState:
        return FraudState()

    def observe(
        self, state: FraudState, event: Event, profile: IdentityProfile
    ) -> tuple[FraudState, list[Detection]]:
        now = event.ts
        report = state.report
        if report is not None and now - report.last_ts > self.gap_s:
            report = state.report = None
        if event.kind is EventKind.PUSH_APPROVED:
            approval = Approval(now, event.event_id, event.ip or "", profile.knows_ip(event.ip))
            self._forget_old(state, now)  # only approvals a later report could still be near are kept
            append_bounded(state.approvals, approval, _MAX_APPROVALS)
            if report is None or report.approval_id is not None:
                return state, []
            if now - report.last_ts > self.approval_window_s or not self._damning(approval, report):
                return state, []
            self._approved(report, approval)
            return state, [self._report(report, event)]
        if event.kind is not EventKind.FRAUD_REPORTED:
            return state, []
        if report is None:
            report = state.report = Report(anchor=event.event_id, first_ts=now, last_ts=now)
            report.context = self._context(event, profile, now)
        else:
            report.records += 1
            if now - report.last_ts > self.same_report_s:
                report.reports += 1
            report.last_ts = now
        append_bounded(report.evidence, event.event_id, _MAX_EVIDENCE)
        for ip in (event.ip, event.responder_ip):
            if ip and ip not in report.ips and len(report.ips) < _MAX_IPS:
                report.ips.append(ip)
        if event.ip and event.ip not in report.disowned and len(report.disowned) < _MAX_IPS:
            report.disowned.append(event.ip)
        if str(event.provider) not in report.providers:
            report.providers.append(str(event.provider))
        if report.approval_id is None:
            for approval in reversed(state.approvals):
                if now - approval.ts <= self.approval_window_s and self._damning(approval, report):
                    self._approved(report, approval)
                    break
        return state, [self._report(report, event)]

    def advance(self, state: FraudState, watermark: float) -> tuple[FraudState, list[Detection]]:
        self._forget_old(state, watermark)
        if state.report is not None and watermark - state.report.last_ts > self.gap_s:
            state.report = None
        return state, []

    def _forget_old(self, state: FraudState, now: float) -> None:
        if state.approvals and now - state.approvals[0].ts > self.approval_window_s:
            state.approvals = [a for a in state.approvals if now - a.ts <= self.approval_window_s]

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _damning(approval: Approval, report: Report) -> bool:
        """An approval the user cannot vouch for: from the disowned IP, or from an IP never used."""
        return not approval.known or not approval.ip or approval.ip in report.disowned

    @staticmethod
    def _approved(report: Report, approval: Approval) -> None:
        report.approval_id = approval.event_id
        report.approval_ts = approval.ts
        report.approval_ip = approval.ip
        if approval.event_id not in report.evidence:
            position = 0 if approval.ts < report.first_ts else len(report.evidence)
            report.evidence.insert(position, approval.event_id)
        if approval.ip and approval.ip not in report.ips and len(report.ips) < _MAX_IPS:
            report.ips.append(approval.ip)

    def _context(self, event: Event, profile: IdentityProfile, now: float) -> list[str]:
        since = now - self.lookback_s
        prompts = sum(1 for t in profile.prompts if t >= since)
        denials = sum(1 for t in profile.denials if t >= since)
        approvals = sum(1 for t in profile.approvals if t >= since)
        minutes = self.lookback_s / 60.0
        lines = [
            f"in the {minutes:.0f} min before the report: {prompts} push prompts, {denials} denied or "
            f"unanswered, {approvals} approved"
        ]
        if event.ip:
            if profile.knows_ip(event.ip):
                lines.append(f"the disowned request came from {event.ip}, an address this identity has used")
            else:
                place = ""
                geo = event.geo
                if geo is not None and (geo.city or geo.country):
                    place = f" ({', '.join(p for p in (geo.city, geo.country) if p)})"
                lines.append(f"the disowned request came from {event.ip}{place}, never used by this identity")
        opened = [
            f"{detector} ({_RANK_NAMES.get(int(rank_ts[0]), '?')})"
            for detector, rank_ts in sorted(profile.open_findings.items())
            if detector != META.id and rank_ts and now - rank_ts[-1] <= self.gap_s
        ]
        if opened:
            lines.append(f"open findings for this identity: {', '.join(opened)}")
        return lines

    def _report(self, report: Report, event: Event) -> Detection:
        report.revision += 1
        critical = report.approval_id is not None
        report.severity = Severity.CRITICAL.value if critical else Severity.HIGH.value
        reasons = [
            f"the user reported {report.reports} MFA request(s) as not theirs ({report.records} record(s))",
            *report.context,
        ]
        title = "User reported an MFA prompt as fraud"
        techniques: tuple[str, ...] = ()
        if critical:
            delta = (report.approval_ts - report.first_ts) / 60.0
            when = f"{-delta:.0f} min before" if delta < 0 else f"{delta:.0f} min after"
            source = f" from {report.approval_ip}" if report.approval_ip else ""
            reasons.append(f"a push was approved{source} {when} the report: the attacker probably got in")
            title += ", and a push was approved"
            techniques = ("T1078",)
        return Detection(
            detector=META.id,
            identity="",
            anchor=report.anchor,
            revision=report.revision,
            title=title,
            severity=Severity(report.severity),
            confidence=0.95 if critical else 0.9,
            first_seen=from_ts(min(report.first_ts, report.approval_ts or report.first_ts)),
            last_seen=from_ts(max(report.last_ts, report.approval_ts)),
            detected_at=event.time,
            evidence=tuple(report.evidence),
            source_ips=tuple(report.ips),
            reasons=tuple(reasons),
            providers=tuple(report.providers),
            techniques=techniques,
        )
