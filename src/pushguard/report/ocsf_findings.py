"""Findings → OCSF 1.3.0 Detection Finding (class 2004, category Findings 2).

``activity_id`` 1 Create for a finding's first revision, 2 Update after; ``severity_id`` from the
severity (informational 1 … critical 5); ``status_id`` New (1), Suppressed (3) or Resolved (4);
``finding_info`` carries the stable id, title, reasons, analytic (the detector, a rule), ATT&CK techniques
and the evidence event ids; the subject (a user, or the IP / ASN of a spray) is the finding's resource, and
the accounts a spray targeted follow it as User resources (also in ``unmapped.pushguard.targets``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pushguard import __version__
from pushguard.model import Finding, FindingStatus, Severity

_SEVERITY_ID = {Severity.INFO: 1, Severity.LOW: 2, Severity.MEDIUM: 3, Severity.HIGH: 4, Severity.CRITICAL: 5}
_STATUS_ID = {FindingStatus.OPEN: 1, FindingStatus.SUPPRESSED: 3, FindingStatus.CLOSED: 4}
_STATUS_NAME = {1: "New", 3: "Suppressed", 4: "Resolved"}


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def finding_to_ocsf(finding: Finding) -> dict[str, Any]:
    activity = 1 if finding.revision <= 1 else 2
    status = _STATUS_ID[finding.status]
    record: dict[str, Any] = {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity,
        "activity_name": "Create" if activity == 1 else "Update",
        "type_uid": 2004 * 100 + activity,
        "time": _ms(finding.detected_at),
        "severity_id": _SEVERITY_ID[finding.severity],
        "severity": finding.severity.value.capitalize()
        if finding.severity is not Severity.INFO
        else "Informational",
        "status_id": status,
        "status": _STATUS_NAME[status],
        "confidence_score": round(finding.confidence * 100),
        "message": finding.title,
        "metadata": {
            "version": "1.3.0",
            "product": {"name": "pushguard", "vendor_name": "pushguard", "version": __version__},
            "correlation_uid": finding.incident,
            "uid": f"{finding.id}:{finding.revision}",
        },
        "finding_info": {
            "uid": finding.id,
            "title": finding.title,
            "desc": " ".join(finding.reasons),
            "types": [finding.detector],
            "created_time": _ms(finding.detected_at),
            "first_seen_time": _ms(finding.first_seen),
            "last_seen_time": _ms(finding.last_seen),
            "analytic": {"name": finding.detector, "uid": finding.detector, "type_id": 1, "type": "Rule"},
            "attacks": [
                {"technique": {"uid": technique}, "version": "v15"} for technique in finding.techniques
            ],
            "related_events": [{"uid": event_id} for event_id in finding.evidence],
        },
        "remediation": {"desc": " ".join(finding.actions)},
        "unmapped": {
            "pushguard": {
                "revision": finding.revision,
                "provider": finding.provider,
                "frameworks": finding.frameworks,
            }
        },
    }
    if finding.user.startswith(("ip:", "asn:")):
        kind, _, value = finding.user.partition(":")
        record["resources"] = [{"type": "IP Address" if kind == "ip" else "Autonomous System", "uid": value}]
    else:
        record["resources"] = [{"type": "User", "uid": finding.user, "name": finding.user}]
    if isinstance(finding.targets, list) and finding.targets:
        record["resources"] += [{"type": "User", "uid": name, "name": name} for name in finding.targets]
        record["unmapped"]["pushguard"]["targets"] = finding.targets
    if finding.source_ips:
        record["evidences"] = [{"src_endpoint": {"ip": ip}} for ip in finding.source_ips]
    return record
