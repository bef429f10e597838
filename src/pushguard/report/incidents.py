"""Incidents as the report shows them: the findings of one incident worst first, with human titles,
plain reasons, the detector's triage note and known false positives, the timeline of what the identity
(or the spraying source) did, the accounts a spray targeted, and what to do."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from pushguard.detect.base import DetectorMeta
from pushguard.model import Event, EventKind, Finding
from pushguard.report.actions import (
    Situation,
    by_severity,
    merged_actions,
    nhi_identities,
    situation,
    specific_actions,
)
from pushguard.report.controls import control_rows
from pushguard.report.present import (
    PROVIDER_NAMES,
    confidence_words,
    device_text,
    event_words,
    identity_label,
    is_source,
    parse_time,
    place_text,
    plain,
)

TIMELINE_KINDS = frozenset(
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
        EventKind.SIGNIN_FAILURE,
        EventKind.SESSION_REVOKED,
    }
)
MAX_TIMELINE = 60
MARGIN_S = 3600.0  # the timeline shows this much before the first and after the last finding
_SPRAY_PARENT = re.compile(r"part of spray finding (\w+)")


def _source_key(identity: str) -> tuple[str, str]:
    kind, _, value = identity.partition(":")
    return kind, value


def _matches_source(event: Event, kind: str, value: str) -> bool:
    if kind == "ip":
        return event.ip == value
    return event.geo is not None and event.geo.asn is not None and str(event.geo.asn) == value


def _row(event: Event, evidence: set[str], source: bool) -> dict[str, Any]:
    answered_on = device_text(event.responder_device)
    device = device_text(event.device)
    if answered_on and answered_on != device:
        device = f"{device} → phone: {answered_on}" if device else f"phone: {answered_on}"
    return {
        "time": event.time,
        "what": event_words(event),
        "who": event.identity if source else "",
        "provider": PROVIDER_NAMES.get(event.provider.value, event.provider.value),
        "device": device,
        "ip": event.ip or "",
        "place": place_text(event),
        "evidence": event.event_id in evidence,
        "approved": event.kind is EventKind.PUSH_APPROVED,
    }


def _finding_view(finding: Finding, metas: Mapping[str, DetectorMeta]) -> dict[str, Any]:
    meta = metas.get(finding.detector)
    return {
        "detector": finding.detector,
        "name": meta.title if meta else finding.detector.replace("_", " "),
        "title": plain(finding.title),
        "severity": finding.severity.value,
        "confidence": confidence_words(finding.confidence),
        "reasons": [plain(r) for r in finding.reasons],
        "detected": finding.first_detected_at or finding.detected_at,
    }


def build_incidents(
    findings: Sequence[Finding],
    events: Sequence[Event],
    metas: Mapping[str, DetectorMeta],
    controls: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per incident, worst first (then earliest). ``controls``: the closed loop's audit
    entries by finding id (``report.controls``), shown as the controls each incident led to."""
    by_incident: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_incident[finding.incident].append(finding)
    by_identity: dict[str, list[Event]] = defaultdict(list)
    timeline_events = [e for e in events if e.kind in TIMELINE_KINDS]
    for event in timeline_events:
        by_identity[event.identity].append(event)
    events_by_id = {e.event_id: e for e in events}
    nhi = nhi_identities(events)
    victims_of: dict[str, list[str]] = defaultdict(list)
    for finding in findings:
        for reason in finding.reasons:
            parent = _SPRAY_PARENT.search(reason)
            if parent and finding.user not in victims_of[parent.group(1)]:
                victims_of[parent.group(1)].append(finding.user)
    incidents: list[dict[str, Any]] = []
    for incident, members in by_incident.items():
        members = by_severity(members)
        worst = members[0]
        start = min(parse_time(f.first_seen) for f in members)
        end = max(parse_time(f.last_seen) for f in members)
        evidence = {e for f in members for e in f.evidence}
        source = is_source(worst.user)
        if source:
            kind, value = _source_key(worst.user)
            candidates = [e for e in timeline_events if _matches_source(e, kind, value)]
        else:
            candidates = by_identity.get(worst.user, [])
        low, high = start.timestamp() - MARGIN_S, end.timestamp() + MARGIN_S
        timeline = sorted(
            (e for e in candidates if low <= e.ts <= high or e.event_id in evidence), key=lambda e: e.ts
        )
        found: Situation = situation(members, events_by_id, nhi, victims_of)
        if found.approved and not source:  # what the taken-over account did next, cited or not
            found.privileged = list(
                dict.fromkeys(
                    [
                        *found.privileged,
                        *(
                            (e.detail or "a privileged action", e.time.strftime("%Y-%m-%dT%H:%M:%SZ"))
                            for e in timeline
                            if e.kind is EventKind.PRIVILEGED_ACTION and e.ts >= start.timestamp()
                        ),
                    ]
                )
            )
        start_iso = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        detectors = list(dict.fromkeys(f.detector for f in members))
        incidents.append(
            {
                "id": incident,
                "user": worst.user,
                "who": identity_label(worst.user),
                "source": source,
                "severity": worst.severity.value,
                "rank": worst.severity.rank,
                "title": plain(worst.title),
                "start": start,
                "end": end,
                "findings": [_finding_view(f, metas) for f in members],
                "guides": [
                    {
                        "name": metas[d].title,
                        "triage": metas[d].triage,
                        "false_positives": metas[d].false_positives,
                    }
                    for d in detectors
                    if d in metas and metas[d].triage
                ],
                "controls": control_rows([f.id for f in members], controls or {}),
                "timeline": [_row(e, evidence, source) for e in timeline[:MAX_TIMELINE]],
                "timeline_more": max(0, len(timeline) - MAX_TIMELINE),
                "targets": found.targets,
                "victims": found.victims,
                "do_now": specific_actions(found, start_iso),
                "then": merged_actions(members, found),
                "approved": found.approved and not source,
                "service_account": found.service_account,
                "enrolled": found.enrolled,
            }
        )
    incidents.sort(key=lambda i: (-int(i["rank"]), i["start"]))
    return incidents
