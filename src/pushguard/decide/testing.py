"""Policy tests as data: the ``tests:`` list of a policy file, run by ``pushguard policy test FILE``.

    tests:
      - name: a bombed user is stepped up, not locked out
        request: {operation: push, factor: okta_verify_push, app: vpn}     # identity, time defaulted
        profile:                                                            # facts, relative to the request
          history: true                 # one success a day before (so new_* mean something)
          countries: [FR]               # known countries / asns / ips / devices (seen a day before)
          prompts: {count: 6, over: 5m} # or a list of ages: [30s, 2m, 1h]
          denials: [1m, 2m]             # also approvals, successes, resets, enrollments
          open_findings: {push_bombing: {severity: high, ago: 2m}}
          familiar: [ip, device]        # the request's own ip / net / asn / country / device / browser,
                                        # known for a week (two successes): the person's own context
          nets: ["198.51.100"]          # known /24s; agents: ["windows|chrome"] (os|browser families)
          history_days: 1               # days with a success (history: true gives 30)
          org: [net, asn, country]      # what the organisation knows of the request's network:
                                        # ip, net, asn, country, trusted, mature (detect/org.py)
        signals: {is_nhi: true}         # optional: override computed signals outright
        expect:
          decision: step_up
          rules: [number-match-every-push, under-bombing]  # optional: exactly the matched rules
          required_aal: AAL2            # optional
          phishing_resistant: true      # optional
          fallback: false               # optional

Ages are seconds (int) or "90s", "10m", "2h", "3d"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from pushguard.decide.context import request_event
from pushguard.decide.engine import evaluate
from pushguard.decide.policy import Policy
from pushguard.decide.signals import VARIABLES
from pushguard.detect.familiarity import agent_key
from pushguard.detect.org import net_of
from pushguard.model import (
    ORG_ASN,
    ORG_COUNTRY,
    ORG_IP,
    ORG_MATURE,
    ORG_NET,
    ORG_TRUSTED,
    Decision,
    DecisionRequest,
    IdentityProfile,
    Seen,
    Severity,
)

DEFAULT_IDENTITY = "user@example.com"
DEFAULT_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_RINGS = ("prompts", "denials", "approvals", "successes", "resets", "enrollments")
_KNOWN = ("countries", "asns", "ips", "nets", "devices", "agents")
_PROFILE_KEYS = frozenset({"history", "history_days", "familiar", "org", "open_findings", *_RINGS, *_KNOWN})
_ORG_FACTS = {
    "ip": ORG_IP,
    "net": ORG_NET,
    "asn": ORG_ASN,
    "country": ORG_COUNTRY,
    "trusted": ORG_TRUSTED,
    "mature": ORG_MATURE,
}
_FAMILIAR = ("ip", "net", "asn", "country", "device", "browser")
ESTABLISHED_DAYS = 30  # history_days of an identity with ``history: true``
_EXPECT_KEYS = frozenset(
    {"decision", "rules", "required_aal", "phishing_resistant", "fallback", "risk_at_least"}
)
_CASE_KEYS = frozenset({"name", "request", "profile", "signals", "expect"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DAY = 86400.0


class CaseError(ValueError):
    """A test case that is malformed (as opposed to one that fails)."""


@dataclass
class CaseResult:
    name: str
    line: int
    passed: bool
    problems: list[str] = field(default_factory=list)
    decision: Decision | None = None


@dataclass
class TestReport:
    cases: list[CaseResult]
    uncovered: list[str]  # rules no test case matched

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)


def duration(value: Any) -> float:
    if isinstance(value, bool):
        raise CaseError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise CaseError(f"not a duration: {value!r} (seconds, or 90s, 10m, 2h, 3d)")
    return float(match.group(1)) * _UNIT[match.group(2)]


def _ages(value: Any, what: str) -> list[float]:
    if isinstance(value, dict):
        unknown = set(value) - {"count", "over"}
        if unknown or not isinstance(value.get("count"), int):
            raise CaseError(f"profile.{what}: a list of ages or {{count: N, over: DURATION}}")
        count = value["count"]
        over = duration(value.get("over", 300))
        return [over * (i + 1) / count for i in range(count)] if count > 0 else []
    if not isinstance(value, list):
        raise CaseError(f"profile.{what}: a list of ages or {{count: N, over: DURATION}}")
    return [duration(v) for v in value]


def build_profile(
    identity: str, time: datetime, facts: dict[str, Any] | None, request: DecisionRequest | None = None
) -> IdentityProfile:
    """An IdentityProfile from readable facts, with every time relative to the request's (``familiar``
    names parts of ``request``)."""
    profile = IdentityProfile(identity=identity)
    if not facts:
        return profile
    if not isinstance(facts, dict):
        raise CaseError("profile: a mapping of facts")
    unknown = set(facts) - _PROFILE_KEYS
    if unknown:
        raise CaseError(
            f"profile: unknown fact(s) {', '.join(sorted(unknown))}"
            f" (known: {', '.join(sorted(_PROFILE_KEYS))})"
        )
    now = time.timestamp()
    rings: dict[str, list[float]] = {
        name: sorted(now - a for a in _ages(facts.get(name, []), name)) for name in _RINGS
    }
    if facts.get("history"):
        rings["successes"] = sorted([*rings["successes"], now - DAY])
    known = {name: _list(facts.get(name, []), name) for name in _KNOWN}
    for part in _list(facts.get("familiar", []), "familiar"):
        name, value = _familiar(part, request)
        known[name].append(value)
    day_before = int(now - DAY)
    for name, values in known.items():
        # known for days: seen twice, the first a week before (the familiarity rule's "came back to it")
        getattr(profile, name).update({v: Seen(2, day_before - 6 * int(DAY), day_before) for v in values})
    days = facts.get("history_days", ESTABLISHED_DAYS if facts.get("history") else 0)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise CaseError("profile.history_days: a whole number of days, 0 or more")
    profile.active_days = days
    for part in _list(facts.get("org", []), "org"):
        if part not in _ORG_FACTS:
            raise CaseError(f"profile.org: unknown {part!r} (known: {', '.join(_ORG_FACTS)})")
        profile.org |= _ORG_FACTS[part]
    for name, times in rings.items():
        setattr(profile, name, times)
    if rings["successes"]:
        profile.last_success = rings["successes"][-1]
    findings = facts.get("open_findings", {})
    if not isinstance(findings, dict):
        raise CaseError("profile.open_findings: {detector: {severity, ago}}")
    for detector, spec in findings.items():
        spec = spec or {}
        try:
            rank = Severity(str(spec.get("severity", "high"))).rank
        except ValueError:
            raise CaseError(
                f"profile.open_findings.{detector}: severity info|low|medium|high|critical"
            ) from None
        profile.open_findings[str(detector)] = [float(rank), now - duration(spec.get("ago", 60))]
    return profile


def _list(values: Any, name: str) -> list[str]:
    if not isinstance(values, list):
        raise CaseError(f"profile.{name}: a list")
    return [str(v) for v in values]


def _familiar(part: str, request: DecisionRequest | None) -> tuple[str, str]:
    """The profile map and key that make this part of the request the person's own."""
    if part not in _FAMILIAR:
        raise CaseError(f"profile.familiar: unknown {part!r} (known: {', '.join(_FAMILIAR)})")
    event = request_event(request) if request is not None else None
    geo = event.geo if event is not None else None
    device = event.device if event is not None else None
    value: str | None = None
    if event is not None and part in ("ip", "net") and event.ip:
        value = event.ip if part == "ip" else net_of(event.ip)
    elif part == "asn" and geo is not None and geo.asn is not None:
        value = str(geo.asn)
    elif part == "country" and geo is not None and geo.country:
        value = geo.country
    elif part == "device" and device is not None and device.id:
        value = device.id
    elif part == "browser" and device is not None:
        value = agent_key(device.os, device.browser) or None
    if value is None:
        raise CaseError(f"profile.familiar: {part}: the request names none")
    name = {"ip": "ips", "net": "nets", "asn": "asns", "country": "countries", "device": "devices"}
    return name.get(part, "agents"), value


def _request(raw: Any) -> DecisionRequest:
    data = dict(raw or {})
    data.setdefault("operation", "push")
    data.setdefault("identity", DEFAULT_IDENTITY)
    data.setdefault("time", DEFAULT_TIME)
    try:
        return msgspec.convert(data, DecisionRequest)
    except msgspec.ValidationError as exc:
        raise CaseError(f"request: {exc}") from None


def run_case(policy: Policy, case: Any) -> CaseResult:
    name = str(case.get("name", "?")) if isinstance(case, dict) else "?"
    result = CaseResult(name=name, line=0, passed=False)
    try:
        if not isinstance(case, dict):
            raise CaseError("a test case is a mapping: name, request, profile, signals, expect")
        unknown = set(case) - _CASE_KEYS
        if unknown:
            raise CaseError(f"unknown key(s) {', '.join(sorted(unknown))}")
        request = _request(case.get("request"))
        profile = build_profile(request.identity, request.time, case.get("profile"), request)
        expect = case.get("expect")
        if not isinstance(expect, dict) or "decision" not in expect:
            raise CaseError("expect: {decision: ..., [rules, required_aal, phishing_resistant, fallback]}")
        bad = set(expect) - _EXPECT_KEYS
        if bad:
            raise CaseError(f"expect: unknown key(s) {', '.join(sorted(bad))}")
        overrides = case.get("signals") or {}
        if not isinstance(overrides, dict):
            raise CaseError("signals: a mapping of variable: value")
        for key in overrides:
            if key not in VARIABLES:
                raise CaseError(f"signals: unknown variable '{key}'")
        decision = evaluate_with(policy, request, profile, overrides)
    except CaseError as exc:
        result.problems.append(f"invalid test case: {exc}")
        return result
    result.decision = decision
    problems = result.problems
    if decision.decision.value != str(expect["decision"]):
        problems.append(f"decision: expected {expect['decision']}, got {decision.decision.value}")
    if "rules" in expect:
        want = sorted(str(r) for r in expect["rules"] or [])
        got = sorted(m.name for m in decision.matched_rules)
        if want != got:
            problems.append(f"matched rules: expected {want}, got {got}")
    if "required_aal" in expect and decision.required_aal.value != str(expect["required_aal"]):
        problems.append(f"required_aal: expected {expect['required_aal']}, got {decision.required_aal.value}")
    if "phishing_resistant" in expect and decision.phishing_resistant is not expect["phishing_resistant"]:
        problems.append(
            f"phishing_resistant: expected {expect['phishing_resistant']}, got {decision.phishing_resistant}"
        )
    if "fallback" in expect and decision.fallback is not expect["fallback"]:
        problems.append(f"fallback: expected {expect['fallback']}, got {decision.fallback}")
    if "risk_at_least" in expect and decision.risk < int(expect["risk_at_least"]):
        problems.append(f"risk: expected at least {expect['risk_at_least']}, got {decision.risk}")
    result.passed = not problems
    return result


def evaluate_with(
    policy: Policy, request: DecisionRequest, profile: IdentityProfile, overrides: dict[str, Any]
) -> Decision:
    """Evaluate, with some signals forced to given values (checked against their declared types)."""
    if not overrides:
        return evaluate(request, profile, policy)
    for key, value in overrides.items():
        kind = VARIABLES[key][0]
        ok = {
            "bool": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "double": isinstance(value, int | float) and not isinstance(value, bool),
            "string": isinstance(value, str),
            "list(string)": isinstance(value, list) and all(isinstance(v, str) for v in value),
        }.get(kind, True)
        if not ok:
            raise CaseError(f"signals.{key}: expected {kind}, got {value!r}")
    return evaluate(request, profile, policy, overrides=overrides)


def run_tests(policy: Policy) -> TestReport:
    cases: list[CaseResult] = []
    covered: set[str] = set()
    for index, case in enumerate(policy.tests):
        result = run_case(policy, case)
        if index < len(policy.test_lines):
            result.line = policy.test_lines[index]
        if result.decision is not None:
            covered.update(m.name for m in result.decision.matched_rules)
        cases.append(result)
    uncovered = [rule.name for rule in policy.rules if rule.name not in covered]
    return TestReport(cases, uncovered)
