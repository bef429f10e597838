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

    {"records": int, "events": int, "decision_points": int,
     "policies": [{"source": str, "version": str, "prompts": int, "enrollments": int,
                   "decisions": {action: count}, "rules": {name: {"matched": int, "report_only": bool}},
                   "escalated": int, "escalated_identities": int,
                   "labeled": null | {"campaigns": int, "stopped": int,
                       "by_kind": {kind: {"campaigns": int, "stopped": int, "median_prompt": float | null}},
                       "benign_prompts": int, "benign_escalated": int,
                       "escalations_per_1000_benign_prompts": float,
                       "escalations_per_benign_user_week": float}}]}"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from pushguard.decide import Policy, evaluate
from pushguard.enrich import AliasMap, build_enrichers
from pushguard.model import (
    Decision,
    DecisionAction,
    DecisionRequest,
    Event,
    EventKind,
    Factor,
    Operation,
    Provider,
)
from pushguard.pipeline import Engine, merged_events
from pushguard.simulate.labels import Labels
from pushguard.sources.readers import expand_paths

ESCALATIONS = frozenset({DecisionAction.THROTTLE, DecisionAction.STEP_UP, DecisionAction.DENY})
_OUTCOMES = frozenset(
    {EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)
SEND_JOIN_S = 300.0  # an outcome this soon after a send belongs to that send's prompt


class RuleCount(msgspec.Struct):
    matched: int = 0
    report_only: bool = False


class KindFigures(msgspec.Struct):
    campaigns: int = 0
    stopped: int = 0
    median_prompt: float | None = None


class LabeledFigures(msgspec.Struct, kw_only=True):
    campaigns: int
    stopped: int
    by_kind: dict[str, KindFigures]
    benign_prompts: int
    benign_escalated: int
    escalations_per_1000_benign_prompts: float
    escalations_per_benign_user_week: float


class PolicyFigures(msgspec.Struct, kw_only=True):
    source: str
    version: str
    prompts: int = 0
    enrollments: int = 0
    decisions: dict[str, int] = {}
    rules: dict[str, RuleCount] = {}
    escalated: int = 0
    escalated_identities: int = 0
    labeled: LabeledFigures | None = None


class BacktestResult(msgspec.Struct, kw_only=True):
    records: int
    events: int
    decision_points: int
    policies: list[PolicyFigures]


@dataclass
class _Tally:
    policy: Policy
    figures: PolicyFigures
    identities: set[str] = field(default_factory=set)
    first_stop: dict[str, int] = field(default_factory=dict)  # campaign id → prompt number
    benign_prompts: int = 0
    benign_escalated: int = 0
    benign_users: set[str] = field(default_factory=set)


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
        device_managed=device.managed if device else None,
        device_compliant=device.compliant if device else None,
        app=event.app,
        factor=event.factor if event.factor is not None or operation is Operation.ENROLL else Factor.PUSH,
        provider=event.provider,
        geo=event.geo,
        user_kind=event.user_kind,
    )


def backtest(
    inputs: Sequence[str | Path],
    policies: Sequence[Policy],
    *,
    labels: Labels | None = None,
    provider: Provider | None = None,
    aliases: AliasMap | None = None,
) -> BacktestResult:
    paths = expand_paths(inputs)
    engine = Engine()
    tallies = [_Tally(p, PolicyFigures(source=p.source, version=p.version)) for p in policies]
    campaign_of: dict[str, str] = {}
    prompt_no: Counter[str] = Counter()
    if labels is not None:
        for label in labels.campaigns:
            for event_id in label.event_ids:
                campaign_of[event_id] = label.id
    last_send: dict[str, float] = {}
    points = 0
    first_ts = last_ts = None
    for event, partition in merged_events(
        paths, engine.stats, provider, aliases or AliasMap(), build_enrichers()
    ):
        operation = _decision_point(event, last_send)
        if operation is not None and event.identity:
            points += 1
            first_ts = event.ts if first_ts is None else first_ts
            last_ts = event.ts
            campaign = campaign_of.get(event.event_id)
            if campaign is not None and operation is Operation.PUSH:
                prompt_no[campaign] += 1
            profile = engine.profile(event.identity)
            request = request_for(event, operation)
            for tally in tallies:
                decision = evaluate(request, profile, tally.policy)
                _count(tally, decision, operation, event, campaign, prompt_no[campaign] if campaign else 0)
        engine.process(event, partition)
    engine.finish()
    weeks = max(((last_ts or 0.0) - (first_ts or 0.0)) / (7 * 86400.0), 1 / 7)
    for tally in tallies:
        tally.figures.escalated_identities = len(tally.identities)
        if labels is not None:
            tally.figures.labeled = _labeled(tally, labels, weeks)
    return BacktestResult(
        records=engine.stats.records,
        events=engine.stats.events,
        decision_points=points,
        policies=[t.figures for t in tallies],
    )


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
    tally: _Tally, decision: Decision, operation: Operation, event: Event, campaign: str | None, prompt: int
) -> None:
    figures = tally.figures
    if operation is Operation.PUSH:
        figures.prompts += 1
    else:
        figures.enrollments += 1
    action = decision.decision
    figures.decisions[action.value] = figures.decisions.get(action.value, 0) + 1
    for rule in decision.matched_rules:
        count = figures.rules.setdefault(rule.name, RuleCount(report_only=rule.report_only))
        count.matched += 1
    escalated = action in ESCALATIONS
    if escalated:
        figures.escalated += 1
        tally.identities.add(event.identity)
    if campaign is not None:
        if escalated and campaign not in tally.first_stop:
            tally.first_stop[campaign] = max(prompt, 1)
    elif operation is Operation.PUSH:
        tally.benign_prompts += 1
        tally.benign_users.add(event.identity)
        tally.benign_escalated += escalated


def _labeled(tally: _Tally, labels: Labels, weeks: float) -> LabeledFigures:
    by_kind: dict[str, KindFigures] = {}
    prompts_at: dict[str, list[float]] = {}
    for campaign in labels.campaigns:
        figures = by_kind.setdefault(campaign.kind, KindFigures())
        figures.campaigns += 1
        stop = tally.first_stop.get(campaign.id)
        if stop is not None:
            figures.stopped += 1
            prompts_at.setdefault(campaign.kind, []).append(float(stop))
    for kind, values in prompts_at.items():
        by_kind[kind].median_prompt = statistics.median(values)
    benign_prompts = tally.benign_prompts
    users = max(len(tally.benign_users), 1)
    return LabeledFigures(
        campaigns=len(labels.campaigns),
        stopped=sum(k.stopped for k in by_kind.values()),
        by_kind=dict(sorted(by_kind.items())),
        benign_prompts=benign_prompts,
        benign_escalated=tally.benign_escalated,
        escalations_per_1000_benign_prompts=round(
            1000.0 * tally.benign_escalated / max(benign_prompts, 1), 2
        ),
        escalations_per_benign_user_week=round(tally.benign_escalated / users / weeks, 3),
    )


def to_json(result: BacktestResult) -> bytes:
    return msgspec.json.format(msgspec.json.encode(result))
