"""Factor class and AAL of a sign-in (``model.assurance``), through each vendor's parser and field.

Records: the real samples in ../shared/samples (PROVENANCE.md) where they carry the field, else copies of
a sample record with one documented field changed; the document is named at each test:
- Entra: Microsoft Graph ``signIn`` (beta) ``authenticationRequirement``, ``clientAppUsed``,
  ``authenticationDetails[].authenticationMethod``; the sign-in logs' "Client app" filter lists the
  legacy authentication clients (Authenticated SMTP, IMAP4, POP3, Exchange ActiveSync, Other clients).
- Okta: System Log ``debugContext.debugData.factor`` (values as ``sources.okta`` documents them:
  OKTA_VERIFY_PUSH, FIDO_WEBAUTHN, SIGNED_NONCE for FastPass, GOOGLE_OTP, SMS_FACTOR, PASSWORD_AS_FACTOR).
- Duo: Admin API authentication log v2 ``factor`` (duo_push, verified_duo_push, phone_call,
  sms_passcode, duo_mobile_passcode, hardware_token, webauthn_credential / u2f_token).
- OCSF: Authentication (3002) ``auth_factors[].factor_type_id`` and ``is_mfa`` (OCSF 1.1+ schema).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pushguard.model import Aal, Event, EventKind, Factor, Provider, RawRef
from pushguard.model.assurance import (
    Assurance,
    FactorClass,
    assess,
    factor_class,
    is_legacy_client,
    strongest,
)
from pushguard.sources import detect_source
from pushguard.sources.readers import read_file
from tests.conftest import SHARED_SAMPLES
from tests.events import ev


def _sample(path: str, line: int) -> dict[str, Any]:
    for item in read_file(SHARED_SAMPLES / path):
        if item.position == line:
            assert item.record is not None
            return copy.deepcopy(item.record)
    raise AssertionError(f"{path}:{line} missing")


def _parse(record: dict[str, Any]) -> Event:
    source = detect_source(record)
    assert source is not None
    result = source.parse(record, RawRef(source="test.jsonl", position=1))
    assert isinstance(result, list), result
    (event,) = result
    return event


# -- Entra -----------------------------------------------------------------------------------------


def test_entra_authenticated_smtp_sample_is_a_legacy_password_alone() -> None:
    event = _parse(_sample("entra/signin-azure-monitor-panther.jsonl", 25))
    assert event.legacy_protocol == "Authenticated SMTP"
    assert event.single_factor is True
    assert assess(event) == Assurance(FactorClass.PASSWORD_ONLY, Aal.AAL1)


def test_entra_exchange_web_services_sample_single_factor_with_a_password_step() -> None:
    event = _parse(_sample("entra/signin-azure-monitor.jsonl", 8))
    assert event.legacy_protocol == "Exchange Web Services"
    assert assess(event).factor_class is FactorClass.PASSWORD_ONLY


def test_entra_single_factor_sso_sample_is_not_a_password_alone() -> None:
    # line 2: singleFactorAuthentication whose only step is "Previously satisfied" (nothing presented now)
    event = _parse(_sample("entra/signin-azure-monitor.jsonl", 2))
    assert event.single_factor is None
    assert assess(event).factor_class is FactorClass.UNKNOWN


def test_entra_push_sample_is_number_matched_aal2() -> None:
    # line 3: multiFactorAuthentication, Password then "Mobile app notification" (Authenticator enforces
    # number matching on every push since May 2023)
    event = _parse(_sample("entra/signin-azure-monitor.jsonl", 3))
    assert event.single_factor is False
    assert assess(event) == Assurance(FactorClass.PUSH_NUMBER_MATCH, Aal.AAL2)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("FIDO2 security key", FactorClass.PHISHING_RESISTANT),
        ("Windows Hello for Business", FactorClass.PHISHING_RESISTANT),
        ("X.509 Certificate", FactorClass.PHISHING_RESISTANT),
        ("Text message", FactorClass.SMS_VOICE),
        ("OATH verification code", FactorClass.TOTP),
    ],
)
def test_entra_second_step_method(method: str, expected: FactorClass) -> None:
    record = _sample("entra/signin-azure-monitor.jsonl", 3)
    record["properties"]["authenticationDetails"][1]["authenticationMethod"] = method
    record["properties"]["mfaDetail"] = {"authMethod": method}
    assert assess(_parse(record)).factor_class is expected


def test_entra_legacy_client_names() -> None:
    for name in ("IMAP4", "POP3", "Exchange ActiveSync", "Other clients", "Authenticated SMTP"):
        assert is_legacy_client(name)
    assert not is_legacy_client("Browser")
    assert not is_legacy_client("Mobile Apps and Desktop clients")


def test_entra_imap_overrides_any_factor() -> None:
    record = _sample("entra/signin-azure-monitor.jsonl", 3)
    record["properties"]["clientAppUsed"] = "IMAP4"
    assert assess(_parse(record)).factor_class is FactorClass.PASSWORD_ONLY


# -- Okta ------------------------------------------------------------------------------------------


def test_okta_password_authenticator_sample_is_password_alone() -> None:
    event = _parse(
        _sample("okta/push-and-mfa.jsonl", 2)
    )  # OIE auth_via_mfa, AuthenticatorEnrollment Password
    assert event.factor is Factor.PASSWORD
    assert assess(event) == Assurance(FactorClass.PASSWORD_ONLY, Aal.AAL1)


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        ("FIDO_WEBAUTHN", FactorClass.PHISHING_RESISTANT),
        ("SIGNED_NONCE", FactorClass.PHISHING_RESISTANT),  # Okta FastPass
        ("GOOGLE_OTP", FactorClass.TOTP),
        ("SMS_FACTOR", FactorClass.SMS_VOICE),
        ("EMAIL_FACTOR", FactorClass.EMAIL_CODE),
    ],
)
def test_okta_debugdata_factor(factor: str, expected: FactorClass) -> None:
    record = _sample("okta/push-and-mfa.jsonl", 2)
    record["target"] = [t for t in record["target"] if t.get("type") != "AuthenticatorEnrollment"]
    record.setdefault("debugContext", {}).setdefault("debugData", {})["factor"] = factor
    event = _parse(record)
    assert event.kind is EventKind.MFA_SUCCESS
    assert assess(event).factor_class is expected


# -- Duo -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factor", "expected", "aal"),
    [
        ("duo_push", FactorClass.PUSH_APPROVE, Aal.AAL1),
        ("verified_duo_push", FactorClass.PUSH_NUMBER_MATCH, Aal.AAL2),
        ("phone_call", FactorClass.SMS_VOICE, Aal.AAL2),
        ("sms_passcode", FactorClass.SMS_VOICE, Aal.AAL2),
        ("duo_mobile_passcode", FactorClass.TOTP, Aal.AAL2),
        ("hardware_token", FactorClass.TOTP, Aal.AAL2),
        ("u2f_token", FactorClass.PHISHING_RESISTANT, Aal.AAL2),
        ("webauthn_credential", FactorClass.PHISHING_RESISTANT, Aal.AAL2),
    ],
)
def test_duo_factor(factor: str, expected: FactorClass, aal: Aal) -> None:
    record = _sample("duo/authlogs-v2.jsonl", 1)  # a real duo_push approval; only ``factor`` changed
    record["factor"] = factor
    assert assess(_parse(record)) == Assurance(expected, aal)


def test_duo_push_sample_is_approve_only() -> None:
    assert assess(_parse(_sample("duo/authlogs-v2.jsonl", 1))).factor_class is FactorClass.PUSH_APPROVE


# -- OCSF ------------------------------------------------------------------------------------------


def test_ocsf_is_mfa_true_sample_reaches_aal2() -> None:
    event = _parse(_sample("ocsf/authentication-3002.jsonl", 3))
    assert event.single_factor is False
    assert assess(event).aal is Aal.AAL2


@pytest.mark.parametrize(
    ("factors", "is_mfa", "expected"),
    [
        ([{"factor_type_id": 11, "factor_type": "Password"}], False, FactorClass.PASSWORD_ONLY),
        ([{"factor_type_id": 10, "factor_type": "WebAuthn"}], True, FactorClass.PHISHING_RESISTANT),
        ([{"factor_type_id": 1, "factor_type": "SMS"}], True, FactorClass.SMS_VOICE),
    ],
)
def test_ocsf_auth_factors(factors: list[dict[str, Any]], is_mfa: bool, expected: FactorClass) -> None:
    record = _sample("ocsf/authentication-3002.jsonl", 1)
    record["auth_factors"] = factors
    record["is_mfa"] = is_mfa
    assert assess(_parse(record)).factor_class is expected


# -- the classes themselves ------------------------------------------------------------------------


def test_push_classes_and_strongest_step_of_a_session() -> None:
    assert factor_class(Factor.OKTA_VERIFY_PUSH) is FactorClass.PUSH_APPROVE
    assert factor_class(Factor.OKTA_VERIFY_PUSH, number_challenge=True) is FactorClass.PUSH_NUMBER_MATCH
    assert factor_class(Factor.MS_AUTHENTICATOR_PUSH) is FactorClass.PUSH_NUMBER_MATCH
    assert factor_class(Factor.BYPASS_CODE) is FactorClass.UNKNOWN
    password = assess(ev(EventKind.SIGNIN_SUCCESS, 0, factor=Factor.PASSWORD))
    push = assess(ev(EventKind.PUSH_APPROVED, 10, provider=Provider.OKTA))
    assert strongest(password, push) == push
    assert strongest(push, password) == push
