"""The closed loop's planner: a finding, as it is found, → the intents that put the IdP's own control on
the identity it names, through the same planner and guardrails as ``pushguard enforce``.

A finding becomes the decision the policy would have taken for that person, and ``plan_enforcement`` does
the rest (break-glass allow-list, report-only, a control already in effect, expiry and its undo). What
this step adds, all of it configured under ``findings`` in the enforcement YAML (``FindingRules``):
- which findings act: open, at least ``min_severity``, not of an ignored detector;
- the action: a person under attack steps up (or the detector's configured number_match / throttle),
  never a deny or a disabled status, whatever the detector: a lock-out is what a bomber wants. A service
  account (an identity matching ``service_accounts``, or named by a non-human-identity detector) has no
  person behind its prompts: it gets ``service_account_action`` (deny by default, when a group is set);
- per-control report-only (planned, never sent) and dry-run modes;
- rate limits per identity and tenant-wide, over the last hour of intents the caller says it planned;
- the intent key: finding id + vendor + account + control + group/status, so a finding replayed, or its
  next revision, gives the same key and the outbox applies it once.
Pure: no clock (times are the finding's, in event time), no I/O."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec

from pushguard.decide.enforce import (
    ENFORCED_PROVIDERS,
    Account,
    EnforcementConfig,
    EnforcementPlan,
    Skipped,
    plan_enforcement,
)
from pushguard.model import (
    Aal,
    ControlIntent,
    Decision,
    DecisionAction,
    DecisionRequest,
    Finding,
    FindingStatus,
    Operation,
    Reason,
    UserKind,
    stable_id,
)

HOUR_S = 3600.0
# A finding's severity rank → the 0..100 risk a decision carries (the service's identity summary too).
RISK_BY_RANK = {-1: 0, 0: 5, 1: 20, 2: 45, 3: 70, 4: 90}
_PROVIDERS = {p.value: p for p in ENFORCED_PROVIDERS}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def user_kind(identity: str, finding: Finding, config: EnforcementConfig) -> UserKind:
    rules = config.findings
    if finding.detector in rules.service_account_detectors:
        return UserKind.NHI
    if any(fnmatch.fnmatchcase(identity, pattern) for pattern in rules.service_accounts):
        return UserKind.NHI
    return UserKind.HUMAN


def finding_action(finding: Finding, kind: UserKind, config: EnforcementConfig) -> DecisionAction:
    rules = config.findings
    if kind is UserKind.NHI:
        return rules.service_account_action
    return rules.detectors.get(finding.detector, DecisionAction.STEP_UP)


def acts_on(finding: Finding, config: EnforcementConfig) -> bool:
    """Whether the finding (this revision) is one the closed loop acts on at all."""
    rules = config.findings
    return (
        rules.enabled
        and finding.status is FindingStatus.OPEN
        and finding.detector not in rules.ignore_detectors
        and finding.severity.rank >= rules.min_severity.rank
    )


def _limited(identity: str, at: float, recent: Sequence[tuple[str, float]], config: EnforcementConfig) -> str:
    rules = config.findings
    window = [who for who, when in recent if at - HOUR_S < when <= at]
    if len(window) >= rules.max_per_hour:
        return (
            f"rate limit: {len(window)} intents planned in the last hour (max_per_hour {rules.max_per_hour})"
        )
    mine = sum(1 for who in window if who == identity)
    if mine >= rules.max_per_identity_per_hour:
        return (
            f"rate limit: {mine} intents for {identity} in the last hour "
            f"(max_per_identity_per_hour {rules.max_per_identity_per_hour})"
        )
    return ""


def plan_for_finding(
    finding: Finding,
    config: EnforcementConfig,
    *,
    received_at: str | None = None,
    active: Sequence[ControlIntent] = (),
    recent: Sequence[tuple[str, float]] = (),
    accounts_for: Callable[[str], Sequence[Account]] | None = None,
) -> EnforcementPlan:
    """The intents that carry out the finding at each vendor of the identities it names (its ``targets``
    when it is about a source). ``active``: intents in effect (``plan_enforcement``); ``recent``:
    (identity, epoch seconds) of the intents planned in the last hour, for the rate limits;
    ``accounts_for``: the identity's accounts (default: the finding's vendor, else every configured one)."""
    if not acts_on(finding, config):
        return EnforcementPlan(intents=(), skipped=())
    rules = config.findings
    decided = _at(finding.detected_at)
    moment = decided.timestamp()
    provider = _PROVIDERS.get(finding.provider)
    named = finding.targets if isinstance(finding.targets, list) else [finding.user]
    intents: list[ControlIntent] = []
    skipped: list[Skipped] = []
    counted = list(recent)
    for identity in named[: rules.max_targets]:
        limit = _limited(identity, moment, counted, config)
        if limit:
            skipped.append(Skipped(provider=provider, identity=identity, reason=limit))
            continue
        kind = user_kind(identity, finding, config)
        action = finding_action(finding, kind, config)
        request = DecisionRequest(
            operation=Operation.PUSH, identity=identity, time=decided, provider=provider, user_kind=kind
        )
        decision = Decision(
            decision=action,
            risk=RISK_BY_RANK.get(finding.severity.rank, 0),
            reasons=(Reason(finding.detector, finding.title),),
            required_aal=Aal.AAL3 if action is DecisionAction.STEP_UP else Aal.AAL2,
            phishing_resistant=action is DecisionAction.STEP_UP,
            matched_rules=(),
            policy_version=f"finding:{finding.detector}",
            report_only=False,
            evaluated_at=finding.detected_at,
            signals={},
        )
        accounts = accounts_for(identity) if accounts_for is not None else ()
        plan = plan_enforcement(request, decision, config, accounts=accounts, active=active)
        skipped.extend(plan.skipped)
        for intent in plan.intents:
            if intent.control in rules.report_only_controls:
                why = f"report-only control {intent.control.value}: {intent.api}"
                skipped.append(Skipped(provider=intent.provider, identity=identity, reason=why))
                continue
            target = intent.group_id or intent.status or ""
            intents.append(
                msgspec.structs.replace(
                    intent,
                    key=stable_id(
                        "loop", finding.id, intent.provider.value, intent.login, intent.control.value, target
                    ),
                    dry_run=config.dry_run or intent.control in rules.dry_run_controls,
                    finding=finding.id,
                    event_at=finding.last_seen,
                    received_at=received_at,
                )
            )
        if plan.intents:
            counted.append((identity, moment))
    return EnforcementPlan(intents=tuple(intents), skipped=tuple(skipped))
