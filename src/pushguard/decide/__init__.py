"""The decision point: policies as code (YAML + CEL), evaluation, explain, report-only."""

from pushguard.decide.engine import decide, evaluate
from pushguard.decide.policy import Issue, Policy, PolicyError, Rule, lint, load_policy, parse_policy
from pushguard.decide.signals import VARIABLES, compute_signals, risk_score
from pushguard.decide.testing import TestReport, run_tests

__all__ = [
    "VARIABLES",
    "Issue",
    "Policy",
    "PolicyError",
    "Rule",
    "TestReport",
    "compute_signals",
    "decide",
    "evaluate",
    "lint",
    "load_policy",
    "parse_policy",
    "risk_score",
    "run_tests",
]
