"""assurance_gap: password alone where MFA is expected, legacy protocols, and the spray → password alone →
OAuth consent / service-principal credential chain. Events are canonical (the parsers' tests cover the
vendor fields: tests/test_assurance.py)."""

from __future__ import annotations

from typing import Any

import msgspec

from pushguard.detect.assurance_gap import AssuranceGap
from pushguard.model import Event, EventKind, Factor, Finding, Provider, Severity, UserKind
from tests.events import ev, run_engine

ATTACKER = "203.0.113.50"
USER = "test-legacy@corp.example"


def _entra(kind: EventKind, seconds: float, **changes: Any) -> Event:
    base = ev(kind, seconds, user=USER, provider=Provider.ENTRA, factor=None, ip=changes.pop("ip", ATTACKER))
    return msgspec.structs.replace(base, **changes)


def _password_alone(seconds: float, **changes: Any) -> Event:
    return _entra(EventKind.SIGNIN_SUCCESS, seconds, single_factor=True, **changes)


def _later(seconds: float = 3600) -> Event:
    """Someone else's sign-in: the watermark moves past confirm_s (the end of input alone does not)."""
    return ev(EventKind.PUSH_APPROVED, seconds, user="someone@corp.example")


def _final(findings: list[Finding]) -> dict[str, Finding]:
    last: dict[str, Finding] = {}
    for finding in findings:
        last[finding.id] = finding
    return last


def _mfa_history(count: int) -> list[Event]:
    return [
        _entra(
            EventKind.PUSH_APPROVED,
            -86400.0 * (day + 1),
            factor=Factor.MS_AUTHENTICATOR_PUSH,
            ip="198.51.100.7",
        )
        for day in range(count)
    ]


def test_spray_then_password_alone_then_consent_is_high() -> None:
    events = [
        _entra(EventKind.SIGNIN_FAILURE, 0),
        _password_alone(4500),
        _entra(EventKind.PRIVILEGED_ACTION, 8000, detail="Consent to application"),
        _entra(EventKind.PRIVILEGED_ACTION, 8300, detail="Add service principal credentials"),
    ]
    findings = run_engine(events, [AssuranceGap()])
    (finding,) = _final(findings).values()
    assert finding.severity is Severity.HIGH
    assert {"T1110.003", "T1528", "T1098.001", "T1078"} <= set(finding.techniques)
    assert {e.event_id for e in events} <= set(finding.evidence)
    assert finding.source_ips == [ATTACKER]
    # medium first, on the password alone after the failure
    assert findings[0].severity is Severity.MEDIUM


def test_chain_without_failures_on_an_account_that_never_used_mfa() -> None:
    events = [_password_alone(0), _entra(EventKind.PRIVILEGED_ACTION, 600, detail="Add member to role")]
    (finding,) = _final(run_engine(events, [AssuranceGap()])).values()
    assert finding.severity is Severity.HIGH
    assert "T1098.003" in finding.techniques


def test_privileged_action_from_another_address_is_not_the_chain() -> None:
    events = [_password_alone(0), _entra(EventKind.PRIVILEGED_ACTION, 600, ip="192.0.2.9", detail="Consent")]
    assert run_engine(events, [AssuranceGap()]) == []


def test_password_alone_on_an_account_that_normally_uses_mfa_is_medium() -> None:
    findings = run_engine([*_mfa_history(3), _password_alone(0), _later()], [AssuranceGap()])
    (finding,) = _final(findings).values()
    assert finding.severity is Severity.MEDIUM
    assert "met MFA 3 times" in " ".join(finding.reasons)


def test_password_alone_without_mfa_history_failures_or_legacy_is_left_to_posture() -> None:
    assert run_engine([*_mfa_history(2), _password_alone(0), _later()], [AssuranceGap()]) == []


def test_legacy_protocol_is_low_and_an_exception_silences_it() -> None:
    events = [_password_alone(0, legacy_protocol="IMAP4", ip="198.51.100.7")]
    (finding,) = _final(run_engine(events, [AssuranceGap()])).values()
    assert finding.severity is Severity.LOW
    assert "IMAP4" in finding.title
    exempt = AssuranceGap({"exempt_accounts": f"someone@corp.example, {USER.upper()}"})
    assert run_engine(events, [exempt]) == []
    # an exempt account's chain does not alarm either: the exception is the operator's word
    chained = [*events, _entra(EventKind.PRIVILEGED_ACTION, 60, ip="198.51.100.7", detail="Consent")]
    assert run_engine(chained, [exempt]) == []


def test_okta_password_step_then_push_is_not_a_password_alone() -> None:
    events = [
        *_mfa_history(3),
        _entra(EventKind.SIGNIN_FAILURE, -60),
        ev(EventKind.SIGNIN_SUCCESS, 0, user=USER, ip=ATTACKER, factor=Factor.PASSWORD),
        ev(EventKind.PUSH_APPROVED, 40, user=USER, ip=ATTACKER, factor=Factor.OKTA_VERIFY_PUSH),
        _later(),
    ]
    assert run_engine(events, [AssuranceGap()]) == []


def test_okta_password_step_with_nothing_after_is_judged_once_confirm_s_passed() -> None:
    events = [
        _entra(EventKind.SIGNIN_FAILURE, -60),
        ev(EventKind.SIGNIN_SUCCESS, 0, user=USER, ip=ATTACKER, factor=Factor.PASSWORD),
    ]
    assert run_engine(events, [AssuranceGap()]) == []  # the end of input: a push may still follow
    (finding,) = _final(run_engine([*events, _later()], [AssuranceGap()])).values()
    assert finding.severity is Severity.MEDIUM


def test_non_human_identities_are_not_judged() -> None:
    events = [
        _entra(EventKind.SIGNIN_FAILURE, 0, user_kind=UserKind.NHI),
        _password_alone(10, user_kind=UserKind.NHI),
        _entra(EventKind.PRIVILEGED_ACTION, 60, user_kind=UserKind.NHI, detail="Consent"),
    ]
    assert run_engine(events, [AssuranceGap()]) == []


def test_other_kinds_change_nothing() -> None:
    detector = AssuranceGap()
    state = detector.initial_state()
    before = msgspec.json.encode(state)
    for kind in set(EventKind) - set(detector.meta.watches or ()):
        state, found = detector.observe(state, _entra(kind, 0), _profile())
        assert found == []
    assert msgspec.json.encode(state) == before


def _profile() -> Any:
    from pushguard.model import IdentityProfile

    return IdentityProfile(identity=USER)
