"""Findings → incidents → the actions the playbook asks for, with break-glass and rate limits applied.

Rate limits count actions performed in the audit log (the same log a later run reads), so they hold
across runs: a flood of findings, or an attacker who wants the victim locked out, gets at most
``max_actions_per_hour`` automated actions. An action already performed for the same incident,
vendor account and action is not repeated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from pushguard.model import Finding, FindingStatus
from pushguard.respond.actions import Action, Target, VendorAccount
from pushguard.respond.playbook import Playbook, Rule
from pushguard.respond.vendor import parse_time

# Order of execution: take away the attacker's factor first so revoked sessions cannot be rebuilt.
ACTION_ORDER = {
    Action.REMOVE_ATTACKER_FACTOR: 0,
    Action.REVOKE_SESSIONS: 1,
    Action.SUSPEND_USER: 2,
    Action.CONFIRM_COMPROMISED: 3,
}


class PlannedAction(msgspec.Struct, frozen=True, kw_only=True):
    incident: str
    identity: str
    action: Action
    account: VendorAccount
    rule: str
    findings: tuple[str, ...]  # ids of the findings that matched the rule
    severity: str  # worst severity among them
    confidence: float  # highest confidence among them
    skip: str | None = None  # why it will not be done (break-glass, rate limit, already done)


def rule_matches(rule: Rule, finding: Finding) -> bool:
    return (
        finding.status is FindingStatus.OPEN
        and (not rule.detectors or finding.detector in rule.detectors)
        and finding.severity.rank >= rule.min_severity.rank
        and finding.confidence >= rule.min_confidence
    )


def _performed(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in entries if e.get("kind") == "action" and e.get("outcome") == "performed"]


def plan(
    findings: Sequence[Finding],
    targets: Mapping[str, Target],
    playbook: Playbook,
    history: Iterable[Mapping[str, Any]],
    now: datetime,
) -> list[PlannedAction]:
    """Planned actions, in incident order; ``targets`` by incident id; ``history``: audit log entries."""
    done = _performed(history)
    done_keys = {(e.get("incident"), e.get("action"), e.get("vendor"), e.get("login")) for e in done}
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)

    def since(entry: Mapping[str, Any], cutoff: datetime) -> bool:
        at = parse_time(str(entry.get("at", "")))
        return at is not None and at >= cutoff

    in_hour = sum(1 for e in done if since(e, hour_ago))
    per_identity: dict[str, int] = {}
    for entry in done:
        if since(entry, day_ago):
            key = str(entry.get("identity"))
            per_identity[key] = per_identity.get(key, 0) + 1

    by_incident: dict[str, list[Finding]] = {}
    for finding in findings:
        by_incident.setdefault(finding.incident, []).append(finding)
    planned: list[PlannedAction] = []
    limits = playbook.limits
    for incident, items in sorted(by_incident.items(), key=lambda kv: min(f.detected_at for f in kv[1])):
        target = targets.get(incident)
        if target is None:
            continue
        wanted: dict[tuple[Action, str], tuple[Rule, list[Finding]]] = {}
        for rule in playbook.rules:
            matched = [f for f in items if rule_matches(rule, f)]
            if not matched:
                continue
            for action in rule.actions:
                for account in target.accounts:
                    if account.provider in rule.vendors:
                        wanted.setdefault((action, account.provider), (rule, matched))
        glass = playbook.is_break_glass(target.identity, *(a.login for a in target.accounts))
        for (action, vendor), (rule, matched) in sorted(
            wanted.items(), key=lambda kv: (ACTION_ORDER[kv[0][0]], kv[0][1])
        ):
            account = next(a for a in target.accounts if a.provider == vendor)
            skip = None
            if glass:
                skip = "break-glass account: never acted on automatically"
            elif (incident, action.value, vendor, account.login) in done_keys:
                skip = "already performed for this incident (see the audit log)"
            elif in_hour >= limits.max_actions_per_hour:
                skip = f"rate limit: {limits.max_actions_per_hour} actions per hour reached"
            elif per_identity.get(target.identity, 0) >= limits.max_actions_per_identity_per_day:
                skip = f"rate limit: {limits.max_actions_per_identity_per_day} actions per identity per day"
            if skip is None:
                in_hour += 1
                per_identity[target.identity] = per_identity.get(target.identity, 0) + 1
            planned.append(
                PlannedAction(
                    incident=incident,
                    identity=target.identity,
                    action=action,
                    account=account,
                    rule=rule.name,
                    findings=tuple(f.id for f in matched),
                    severity=max(matched, key=lambda f: f.severity.rank).severity.value,
                    confidence=max(f.confidence for f in matched),
                    skip=skip,
                )
            )
    return planned
