"""Evaluation: (request, profile, policy) → Decision. Pure: no clock, no I/O, the profile is only read.

- Every rule's condition runs over the same signals (decide/signals.py).
- The strictest action among matched, enforced rules wins (allow < number_match < throttle < step_up <
  deny); nothing matched → the policy's ``default``.
- Report-only rules are listed in ``matched_rules`` with ``report_only`` and never change the decision.
- A rule whose evaluation fails (a run-time error, a non-bool result) makes the decision at least the
  policy's ``fallback``, and a reason says which rule failed and why. A store that fails (``decide``)
  does the same: rules run over an empty profile (request-only rules, such as "NHIs get no push", still
  apply) and the fallback is the floor.
- Risk: the highest ``risk`` stated by the enforced matched rules, else a computed score; at least
  FALLBACK_RISK when the fallback applied.
- required_aal / phishing_resistant follow the winning action (policy ``assurance``), raised by an
  enforced rule's ``aal``."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from typing import Any

import cel

from pushguard.decide.context import org_bits
from pushguard.decide.policy import Policy, Rule
from pushguard.decide.signals import compute_signals, risk_score
from pushguard.detect.base import rfc3339
from pushguard.detect.org import OrgKnowledge
from pushguard.model import (
    Aal,
    Decision,
    DecisionAction,
    DecisionRequest,
    IdentityProfile,
    MatchedRule,
    Reason,
    SignalValue,
)

FALLBACK_RISK = 50  # the least risk reported when the fallback applied
_AAL_RANK = {Aal.AAL1: 1, Aal.AAL2: 2, Aal.AAL3: 3}
_FORMATTER = string.Formatter()


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _message(rule: Rule, signals: dict[str, SignalValue]) -> str:
    if not rule.message_fields:
        return rule.message
    return _FORMATTER.vformat(rule.message, (), _Safe(signals))


def evaluate(
    request: DecisionRequest,
    profile: IdentityProfile,
    policy: Policy,
    *,
    fallback: DecisionAction | None = None,
    failure: Reason | None = None,
    overrides: Mapping[str, SignalValue] | None = None,
    org: int | None = None,
) -> Decision:
    """The decision for one request. ``fallback`` overrides the policy's; ``failure`` (set by ``decide``
    when the store failed) forces the fallback as the floor and is listed first among the reasons.
    ``overrides`` force some signals to given values (policy tests state facts that way). ``org``: the
    ORG_* bits the organisation table gives the request's network (``context.org_bits``; None: the
    profile's own ``org``)."""
    floor = fallback if fallback is not None else policy.fallback
    signals = compute_signals(request, profile, org)
    if overrides:
        signals.update(overrides)
    used = {name: signals[name] for name in policy.variables}
    context = cel.Context(variables=used)  # only what the rules read: each variable costs ~0.4 µs
    enforced: list[Rule] = []
    matched: list[MatchedRule] = []
    errors: list[Reason] = [failure] if failure is not None else []
    failed = failure is not None
    for rule in policy.rules:
        try:
            result = rule.program.execute(context)
        except Exception as exc:  # the library raises builtins (TypeError, KeyError, RuntimeError, …)
            result = exc
        if not isinstance(result, bool):
            why = f"{type(result).__name__}: {result}" if isinstance(result, Exception) else f"{result!r}"
            if rule.report_only:
                errors.append(
                    Reason("rule_error_report_only", f"rule '{rule.name}' (report-only) failed: {why}")
                )
            else:
                failed = True
                errors.append(
                    Reason("rule_error", f"rule '{rule.name}' failed ({why}): fallback {floor.value} applies")
                )
            continue
        if not result:
            continue
        matched.append(
            MatchedRule(name=rule.name, action=rule.action, report_only=rule.report_only, risk=rule.risk)
        )
        if not rule.report_only:
            enforced.append(rule)
    action = policy.default
    if enforced:
        action = max((r.action for r in enforced), key=lambda a: a.rank)
    if failed and floor.rank > action.rank:
        action = floor
    enforced.sort(key=lambda r: -r.action.rank)  # stable: file order within one strength
    reasons = errors + [Reason(r.code, _message(r, signals)) for r in enforced]
    if not reasons:
        reasons.append(Reason("no_rule_matched", f"no rule matched: the policy's default ({action.value})"))
    stated = [r.risk for r in enforced if r.risk is not None]
    risk = max(stated) if stated else risk_score(signals)
    if failed:
        risk = max(risk, FALLBACK_RISK)  # not knowing is not low risk
    aal, resistant = policy.assurance[action]
    for rule in enforced:
        if rule.aal is not None and _AAL_RANK[rule.aal] > _AAL_RANK[aal]:
            aal = rule.aal
    if aal is Aal.AAL3:
        resistant = True  # AAL3 requires verifier-impersonation resistance (SP 800-63B 4.3.2)
    return Decision(
        decision=action,
        risk=risk,
        reasons=tuple(reasons),
        required_aal=aal,
        phishing_resistant=resistant,
        matched_rules=tuple(matched),
        policy_version=policy.version,
        report_only=policy.report_only,
        evaluated_at=rfc3339(request.time),
        signals=used,
        fallback=failed,
    )


def decide(
    request: DecisionRequest,
    policy: Policy,
    load_profile: Callable[[str], IdentityProfile | None],
    *,
    fallback: DecisionAction | None = None,
    load_org: Callable[[], OrgKnowledge | None] | None = None,
) -> Decision:
    """Load the identity's profile (and, with ``load_org``, what the organisation knows of networks)
    and evaluate; a store that fails gives the fallback, never an error and never a silent allow. So
    does an evaluation that fails outside the rules (a bug, a value out of range): the answer is then the
    fallback alone, with the reason."""
    floor = fallback if fallback is not None else policy.fallback
    failed: Reason | None = None
    try:
        profile = load_profile(request.identity)
        org = org_bits(request, load_org()) if load_org is not None else 0
    except Exception as exc:  # any backend error: the decision must still be answered
        failure = Reason(
            "store_error", f"identity state unavailable ({type(exc).__name__}: {exc}): fallback {floor.value}"
        )
        profile, failed, org = IdentityProfile(identity=request.identity), failure, 0
    else:
        profile = profile or IdentityProfile(identity=request.identity)
    try:
        return evaluate(request, profile, policy, fallback=fallback, failure=failed, org=org)
    except Exception as exc:
        why = f"decision could not be evaluated ({type(exc).__name__}: {exc}): fallback {floor.value}"
        return fallback_decision(request, policy, floor, Reason("evaluation_error", why))


def fallback_decision(
    request: DecisionRequest, policy: Policy, action: DecisionAction, reason: Reason
) -> Decision:
    """The fallback with nothing evaluated: built from the policy's settings alone, so that it cannot
    fail the way the evaluation did."""
    aal, resistant = policy.assurance[action]
    try:
        evaluated_at = rfc3339(request.time)
    except (OverflowError, ValueError):
        evaluated_at = request.time.isoformat()
    return Decision(
        decision=action,
        risk=FALLBACK_RISK,
        reasons=(reason,),
        required_aal=aal,
        phishing_resistant=resistant or aal is Aal.AAL3,
        matched_rules=(),
        policy_version=policy.version,
        report_only=policy.report_only,
        evaluated_at=evaluated_at,
        signals={},
        fallback=True,
    )
