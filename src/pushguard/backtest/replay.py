"""Backtest: replay historical logs and ask each policy what it would have decided at every push prompt
and every factor enrollment, given the identity's state *before* that event.

The logs go through the same pipeline as ``analyze`` (events in time order, profiles and findings built as
they go), so the state a decision sees is the state an inline deployment would have had. A decision
point is a push sent (Okta), or a push outcome with no send just before it (Duo and Entra log one record
per prompt), or a factor enrollment. With labels (``pushguard simulate``, or your own incident labels in
the same shape), every decision point is attacker or benign: the report says at which prompt each
campaign would have been stopped or escalated (throttle, step_up, deny) and how much friction the policy
puts on benign prompts.

JSON shape (``to_json``; also what ``pushguard report --backtest`` reads)::

    {"records": int, "events": int, "errors": int, "error_samples": [str], "decision_points": int,
     "policies": [{"source": str, "version": str, "prompts": int, "enrollments": int,
                   "decisions": {action: count}, "enrollment_decisions": {action: count},
                   "rules": {name: {"matched": int, "report_only": bool, "benign_prompts": int,
                                    "attack_points": int, "campaigns_in_time": int}},
                   "escalated": int, "escalated_identities": int,
                   "labeled": null | {"campaigns": int, "stopped": int, "stopped_before_approval": int,
                       "by_kind": {kind: {"campaigns": int, "stopped": int, "median_prompt": float | null,
                                          "with_decision_points": int}},
                       "campaign_rows": [{"id", "kind", "identity", "provider", "prompts": int,
                           "enrollments": int, "escalated": int, "enrollments_escalated": int,
                           "first_escalation": int | null,
                           "first_action": str | null, "first_operation": "push" | "enroll" | null,
                           "first_rules": [str], "first_approval": int | null,
                           "before_approval": bool}],
                       "attack_prompts": int, "attack_prompts_escalated": int,
                       "attack_enrollments": int, "attack_enrollments_escalated": int,
                       "benign_prompts": int, "benign_escalated": int,
                       "benign_enrollments": int, "benign_enrollments_escalated": int,
                       "escalations_per_1000_benign_prompts": float,
                       "escalations_per_benign_user_week": float,
                       "cheapest": {"target": float, "rules": [str], "caught": int, "campaigns": int,
                                    "benign_escalated": int, "reached": bool}}}]}

"escalated" means throttle, step_up or deny. ``first_escalation`` / ``median_prompt`` count the
campaign's decision points (its prompts and enrollments, in time order) up to the first escalated one:
1 is the first prompt. A campaign with no decision point (a password spray that never reached a prompt)
cannot be stopped by a push policy: ``with_decision_points`` tells those apart. Friction counts benign
prompts only; benign enrollments escalated are given apart (a second person's approval, not a prompt).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from pushguard.backtest.whatif import WhatIf, cheapest_rules
from pushguard.decide import Policy, evaluate
from pushguard.flow import BeforeEvent, Flow
from pushguard.model import (
    Decision,
    DecisionAction,
    DecisionRequest,
    Event,
    EventKind,
    Factor,
    Finding,
    Operation,
)
from pushguard.simulate.labels import Labels

ESCALATIONS = frozenset({DecisionAction.THROTTLE, DecisionAction.STEP_UP, DecisionAction.DENY})
_OUTCOMES = frozenset(
    {EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)
DEFAULT_TARGET = 0.90  # the what-if's catch rate (issue 24's floor)
SEND_JOIN_S = 300.0  # an outcome this soon after a send belongs to that send's prompt


class RuleCount(msgspec.Struct):
    """A rule's cost and catch: every match, the benign prompts it matched (its friction, whether or
    not a stricter rule matched too), the attack decision points, and the campaigns it alone would
    have escalated at or before the attacker's first approval (escalating rules; report-only ones
    included: what enforcing them would have caught). The last three need labels."""

    matched: int = 0
    report_only: bool = False
    benign_prompts: int = 0
    attack_points: int = 0
    campaigns_in_time: int = 0


class KindFigures(msgspec.Struct):
    campaigns: int = 0
    stopped: int = 0
    median_prompt: float | None = None
    with_decision_points: int = 0


class CampaignFigures(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    identity: str
    provider: str
    prompts: int = 0
    enrollments: int = 0
    escalated: int = 0  # decision points escalated: prompts and enrollments
    enrollments_escalated: int = 0
    first_escalation: int | None = None  # 1-based decision point of the campaign
    first_action: str | None = None
    first_operation: str | None = None
    first_rules: list[str] = []  # the enforced rules that escalated it
    # the campaign's decision points up to its first approved push (null: never approved)
    first_approval: int | None = None
    before_approval: bool = False  # escalated at or before the prompt the attacker got approved


class LabeledFigures(msgspec.Struct, kw_only=True):
    campaigns: int
    stopped: int
    stopped_before_approval: int  # escalated at or before the first approved push (or never approved)
    by_kind: dict[str, KindFigures]
    campaign_rows: list[CampaignFigures]
    attack_prompts: int
    attack_prompts_escalated: int
    attack_enrollments: int
    attack_enrollments_escalated: int
    benign_prompts: int
    benign_escalated: int
    benign_enrollments: int
    benign_enrollments_escalated: int
    escalations_per_1000_benign_prompts: float
    escalations_per_benign_user_week: float
    cheapest: WhatIf | None = None  # the cheapest rules that reach the target catch rate (greedy)


class PolicyFigures(msgspec.Struct, kw_only=True):
    source: str
    version: str
    prompts: int = 0
    enrollments: int = 0
    decisions: dict[str, int] = {}
    enrollment_decisions: dict[str, int] = {}
    rules: dict[str, RuleCount] = {}
    escalated: int = 0
    escalated_identities: int = 0
    labeled: LabeledFigures | None = None


class BacktestResult(msgspec.Struct, kw_only=True):
    records: int
    events: int
    errors: int
    error_samples: list[str]
    decision_points: int
    policies: list[PolicyFigures]


@dataclass
class _Tally:
    policy: Policy
    figures: PolicyFigures
    identities: set[str] = field(default_factory=set)
    campaigns: dict[str, CampaignFigures] = field(default_factory=dict)
    benign: Counter[str] = field(default_factory=Counter)  # prompts, escalated, enrollments, ...
    benign_users: set[str] = field(default_factory=set)
    # campaign → rule → the campaign's first decision point (1-based) the rule matched
    rule_points: dict[str, dict[str, int]] = field(default_factory=dict)
    benign_rules: Counter[frozenset[str]] = field(default_factory=Counter)  # escalating rules per prompt


def request_for(event: Event, operation: Operation) -> DecisionRequest:
    """The request an inline deployment would have sent for this event."""
    device = event.device
    return DecisionRequest(
        operation=operation,
        identity=event.identity,
        time=event.time,
        ip=event.ip,
        user_agent=device.user_agent if device else None,
        device_id=device.id if device else None,
        device_os=device.os if device else None,
        device_browser=device.browser if device else None,
        device_managed=device.managed if device else None,
        device_compliant=device.compliant if device else None,
        app=event.app,
        factor=event.factor if event.factor is not None or operation is Operation.ENROLL else Factor.PUSH,
        provider=event.provider,
        geo=event.geo,
        user_kind=event.user_kind,
    )


class _Replay:
    """The backtest as an observer of one ``Flow`` pass: each decision point is decided on the state just
    before its event, by every policy."""

    def __init__(self, tallies: list[_Tally], campaign_of: dict[str, str]) -> None:
        self.tallies = tallies
        self.campaign_of = campaign_of
        self.last_send: dict[str, float] = {}
        self.points = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None

    def before_event(self, event: Event, state: BeforeEvent) -> None:
        operation = _decision_point(event, self.last_send)
        if operation is not None and event.identity:
            self.points += 1
            self.first_ts = event.ts if self.first_ts is None else self.first_ts
            self.last_ts = event.ts
            campaign = self.campaign_of.get(event.event_id)
            profile = state.profile(event.identity)  # the state before this event
            request = request_for(event, operation)
            org = state.org_bits(event)  # as the engine shows its detectors
            for tally in self.tallies:
                decision = evaluate(request, profile, tally.policy, org=org)
                _count(tally, decision, operation, event, campaign)
        if event.kind is EventKind.PUSH_APPROVED:
            _approved(self.tallies, self.campaign_of.get(event.event_id))

    def after_event(self, event: Event, findings: list[Finding]) -> None:
        pass


def backtest(
    inputs: Sequence[str | Path],
    policies: Sequence[Policy],
    *,
    labels: Labels | None = None,
    history: Sequence[str | Path] = (),
    target: float = DEFAULT_TARGET,
    flow: Flow | None = None,
) -> BacktestResult:
    """``history``: logs of the period before, replayed first to build the state (profiles, the
    organisation's table, findings) without being decided or counted. ``target``: the catch rate the
    what-if (``cheapest``) reaches with the fewest benign escalations. ``flow``: the pipeline as
    ``--config`` builds it (detector tunables, MaxMind files, the organisation's networks)."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target catch rate must be in (0, 1], not {target}")
    flow = flow or Flow()
    engine = flow.engine()
    if history:
        flow.run(history, engine=engine, finish=False)
    tallies = [_Tally(p, PolicyFigures(source=p.source, version=p.version)) for p in policies]
    campaign_of: dict[str, str] = {}
    for label in labels.campaigns if labels is not None else ():
        for event_id in label.event_ids:
            campaign_of[event_id] = label.id
        for tally in tallies:
            tally.campaigns[label.id] = CampaignFigures(
                id=label.id, kind=label.kind, identity=label.identity, provider=label.provider
            )
    replay = _Replay(tallies, campaign_of)
    stats = flow.run(inputs, engine=engine, observers=[replay]).stats
    weeks = max(((replay.last_ts or 0.0) - (replay.first_ts or 0.0)) / (7 * 86400.0), 1 / 7)
    for tally in tallies:
        tally.figures.escalated_identities = len(tally.identities)
        if labels is not None:
            tally.figures.labeled = _labeled(tally, weeks, target)
    return BacktestResult(
        records=stats.records,
        events=stats.events,
        errors=stats.errors,
        error_samples=list(stats.error_samples),
        decision_points=replay.points,
        policies=[t.figures for t in tallies],
    )


def _approved(tallies: Sequence[_Tally], campaign: str | None) -> None:
    """An approved push of a campaign: the attacker's way in unless a decision escalated before."""
    if campaign is None:
        return
    for tally in tallies:
        row = tally.campaigns.get(campaign)
        if row is not None and row.first_approval is None:
            row.first_approval = row.prompts + row.enrollments


def _decision_point(event: Event, last_send: dict[str, float]) -> Operation | None:
    kind = event.kind
    if kind is EventKind.FACTOR_ENROLLED:
        return Operation.ENROLL
    if kind is EventKind.PUSH_SENT:
        last_send[event.identity] = event.ts
        return Operation.PUSH
    if kind in _OUTCOMES:
        sent = last_send.get(event.identity)
        if sent is not None and 0 <= event.ts - sent <= SEND_JOIN_S:
            return None  # the answer to a prompt already decided at its send
        if (
            kind is EventKind.PUSH_DENIED
            and event.responder_ip is not None
            and event.responder_ip == event.ip
        ):
            return None  # a phone's own denial record (Okta Classic) without its send in the logs
        return Operation.PUSH
    return None


def _count(
    tally: _Tally, decision: Decision, operation: Operation, event: Event, campaign: str | None
) -> None:
    figures = tally.figures
    action = decision.decision
    push = operation is Operation.PUSH
    if push:
        figures.prompts += 1
        figures.decisions[action.value] = figures.decisions.get(action.value, 0) + 1
    else:
        figures.enrollments += 1
        figures.enrollment_decisions[action.value] = figures.enrollment_decisions.get(action.value, 0) + 1
    row = tally.campaigns.get(campaign) if campaign is not None else None
    for rule in decision.matched_rules:
        count = figures.rules.setdefault(rule.name, RuleCount(report_only=rule.report_only))
        count.matched += 1
        if row is not None and campaign is not None:
            count.attack_points += 1
            if rule.action in ESCALATIONS:
                points = tally.rule_points.setdefault(campaign, {})
                points.setdefault(rule.name, row.prompts + row.enrollments + 1)
        elif campaign is None and push:
            count.benign_prompts += 1
    if row is None and push:
        escalating = frozenset(r.name for r in decision.matched_rules if r.action in ESCALATIONS)
        if escalating:
            tally.benign_rules[escalating] += 1
    escalated = action in ESCALATIONS
    if escalated:
        figures.escalated += 1
        tally.identities.add(event.identity)
    if row is not None:
        if push:
            row.prompts += 1
        else:
            row.enrollments += 1
        if escalated:
            row.escalated += 1
            row.enrollments_escalated += not push
            if row.first_escalation is None:
                row.first_escalation = row.prompts + row.enrollments
                row.first_action = action.value
                row.first_operation = operation.value
                row.first_rules = [
                    r.name for r in decision.matched_rules if not r.report_only and r.action in ESCALATIONS
                ]
        return
    name = "prompts" if push else "enrollments"
    tally.benign[name] += 1
    tally.benign[f"{name}_escalated"] += escalated
    if push:
        tally.benign_users.add(event.identity)


def _labeled(tally: _Tally, weeks: float, target: float) -> LabeledFigures:
    by_kind: dict[str, KindFigures] = {}
    stops: dict[str, list[float]] = {}
    rows = list(tally.campaigns.values())
    for row in rows:
        row.before_approval = row.first_escalation is not None and (
            row.first_approval is None or row.first_escalation <= row.first_approval
        )
        figures = by_kind.setdefault(row.kind, KindFigures())
        figures.campaigns += 1
        figures.with_decision_points += (row.prompts + row.enrollments) > 0
        if row.first_escalation is not None:
            figures.stopped += 1
            stops.setdefault(row.kind, []).append(float(row.first_escalation))
    for kind, values in stops.items():
        by_kind[kind].median_prompt = statistics.median(values)
    catches: list[frozenset[str]] = []
    for row in rows:
        in_time = frozenset(
            name
            for name, point in tally.rule_points.get(row.id, {}).items()
            if row.first_approval is None or point <= row.first_approval
        )
        for name in in_time:
            tally.figures.rules[name].campaigns_in_time += 1
        if row.prompts + row.enrollments:
            catches.append(in_time)
    benign = tally.benign
    attack_prompts = sum(r.prompts for r in rows)
    attack_enrollments = sum(r.enrollments for r in rows)
    escalated_enrollments = sum(r.enrollments_escalated for r in rows)
    users = max(len(tally.benign_users), 1)
    return LabeledFigures(
        campaigns=len(rows),
        stopped=sum(k.stopped for k in by_kind.values()),
        stopped_before_approval=sum(r.before_approval for r in rows),
        by_kind=dict(sorted(by_kind.items())),
        campaign_rows=rows,
        attack_prompts=attack_prompts,
        attack_prompts_escalated=sum(r.escalated for r in rows) - escalated_enrollments,
        attack_enrollments=attack_enrollments,
        attack_enrollments_escalated=escalated_enrollments,
        benign_prompts=benign["prompts"],
        benign_escalated=benign["prompts_escalated"],
        benign_enrollments=benign["enrollments"],
        benign_enrollments_escalated=benign["enrollments_escalated"],
        escalations_per_1000_benign_prompts=round(
            1000.0 * benign["prompts_escalated"] / max(benign["prompts"], 1), 2
        ),
        escalations_per_benign_user_week=round(benign["prompts_escalated"] / users / weeks, 3),
        cheapest=cheapest_rules(target, catches, tally.benign_rules),
    )


def to_json(result: BacktestResult) -> bytes:
    return msgspec.json.format(msgspec.json.encode(result))
