"""decide's assurance signals: the class of the factor about to be used and the AAL it gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from pushguard.decide import compute_signals, evaluate, parse_policy
from pushguard.decide.testing import build_profile
from pushguard.model import DecisionAction, DecisionRequest, Factor

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _request(**fields: Any) -> DecisionRequest:
    data: dict[str, Any] = {"operation": "push", "identity": "alice@corp.example", "time": NOW}
    data.update(fields)
    return msgspec.convert(data, DecisionRequest)


@pytest.mark.parametrize(
    ("factor", "cls", "aal"),
    [
        (Factor.DUO_PUSH, "push_approve", "AAL1"),
        (Factor.MS_AUTHENTICATOR_PUSH, "push_number_match", "AAL2"),
        (Factor.WEBAUTHN, "phishing_resistant", "AAL2"),
        (Factor.SMS, "sms_voice", "AAL2"),
        (Factor.BYPASS_CODE, "unknown", ""),
        (None, "", ""),
    ],
)
def test_factor_class_and_aal_signals(factor: Factor | None, cls: str, aal: str) -> None:
    signals = compute_signals(_request(factor=factor), build_profile("alice@corp.example", NOW, None))
    assert signals["factor_class"] == cls
    assert signals["factor_aal"] == aal


def test_a_rule_can_step_up_a_privileged_app_on_an_approve_only_push() -> None:
    policy = parse_policy(
        "version: t1\nfallback: step_up\nrules:\n"
        "  - name: privileged-needs-phishing-resistant\n"
        '    condition: app_sensitivity == "privileged" && factor_class != "phishing_resistant"\n'
        "    action: step_up\n"
        '    reason: {code: aal, message: "{app} reached with {factor_class} ({factor_aal})"}\n'
    )
    profile = build_profile("alice@corp.example", NOW, None)
    push = evaluate(_request(factor="duo_push", app="Admin", app_sensitivity="privileged"), profile, policy)
    assert push.decision is DecisionAction.STEP_UP and push.phishing_resistant
    assert "duo_push" not in push.reasons[0].message and "push_approve (AAL1)" in push.reasons[0].message
    key = evaluate(_request(factor="webauthn", app="Admin", app_sensitivity="privileged"), profile, policy)
    assert key.decision is DecisionAction.ALLOW
