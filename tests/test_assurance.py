"""Factor class and AAL of a sign-in (``model.assurance``), through each vendor's parser and field.

Records: fixture records (tests/fixtures/<vendor>/PROVENANCE.md), so the tests run on a plain clone. Panther
records (Apache-2.0) are copied byte for byte; every other record is hand-made, our own values in the shape of
a public sample we may not copy (Sekoia, Elastic, ocsf/examples), named at each test. Where a test changes
one documented field of such a record, the document is the one listed here:
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
from tests.conftest import FIXTURES
from tests.events import ev


def _fixture(path: str, line: int) -> dict[str, Any]:
    for item in read_file(FIXTURES / path):
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

SIGNINS = "entra/signin-azure-monitor-handmade.jsonl"
PUSH_LINE = 1  # hand-made in the shape of Sekoia's signin-azure-monitor.jsonl line 3
EWS_LINE = 8  # hand-made in the shape of Sekoia's line 8
SSO_LINE = 9  # hand-made in the shape of Sekoia's line 2


def test_entra_authenticated_smtp_sample_is_a_legacy_password_alone() -> None:
    # Panther's azure_legacyauth test event (shared signin-azure-monitor-panther.jsonl line 25), copied
    event = _parse(_fixture("entra/signin-azure-monitor-panther.jsonl", 3))
    assert event.legacy_protocol == "Authenticated SMTP"
    assert event.single_factor is True
    assert assess(event) == Assurance(FactorClass.PASSWORD_ONLY, Aal.AAL1)


def test_entra_exchange_web_services_sample_single_factor_with_a_password_step() -> None:
    """clientAppUsed "Exchange Web Services", singleFactorAuthentication, one "Password" step: a record
    hand-made in the shape of Sekoia's EWS sign-in (Graph signIn ``clientAppUsed``,
    ``authenticationRequirement``, ``authenticationDetails``)."""
    event = _parse(_fixture(SIGNINS, EWS_LINE))
    assert event.legacy_protocol == "Exchange Web Services"
    assert event.single_factor is True
    assert assess(event) == Assurance(FactorClass.PASSWORD_ONLY, Aal.AAL1)


def test_entra_single_factor_sso_sample_is_not_a_password_alone() -> None:
    """singleFactorAuthentication whose only step is "Previously satisfied" (nothing presented now): hand-made
    in the shape of Sekoia's SSO sign-in (shared line 2)."""
    record = _fixture(SIGNINS, SSO_LINE)
    assert record["properties"]["authenticationRequirement"] == "singleFactorAuthentication"
    event = _parse(record)
    assert event.single_factor is None
    assert assess(event).factor_class is FactorClass.UNKNOWN


def test_entra_push_sample_is_number_matched_aal2() -> None:
    """multiFactorAuthentication, Password then "Mobile app notification" (Authenticator enforces number
    matching on every push since May 2023): hand-made in the shape of Sekoia's push sign-in (its line 3)."""
    event = _parse(_fixture(SIGNINS, PUSH_LINE))
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
    record = _fixture(SIGNINS, PUSH_LINE)
    record["properties"]["authenticationDetails"][1]["authenticationMethod"] = method
    record["properties"]["mfaDetail"] = {"authMethod": method}
    assert assess(_parse(record)).factor_class is expected


def test_entra_legacy_client_names() -> None:
    for name in ("IMAP4", "POP3", "Exchange ActiveSync", "Other clients", "Authenticated SMTP"):
        assert is_legacy_client(name)
    assert not is_legacy_client("Browser")
    assert not is_legacy_client("Mobile Apps and Desktop clients")


def test_entra_imap_overrides_any_factor() -> None:
    record = _fixture(SIGNINS, PUSH_LINE)
    record["properties"]["clientAppUsed"] = "IMAP4"
    assert assess(_parse(record)).factor_class is FactorClass.PASSWORD_ONLY


# -- Okta ------------------------------------------------------------------------------------------

# OIE auth_via_mfa SUCCESS with no debugContext, the password named only by the AuthenticatorEnrollment
# target: hand-made in the shape of Sekoia's okta/push-and-mfa.jsonl line 2
OKTA_PASSWORD = ("okta/oie-password-federation-handmade.jsonl", 6)


def test_okta_password_authenticator_sample_is_password_alone() -> None:
    record = _fixture(*OKTA_PASSWORD)
    assert "debugContext" not in record
    event = _parse(record)
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
    record = _fixture(*OKTA_PASSWORD)
    record["target"] = [t for t in record["target"] if t.get("type") != "AuthenticatorEnrollment"]
    record.setdefault("debugContext", {}).setdefault("debugData", {})["factor"] = factor
    event = _parse(record)
    assert event.kind is EventKind.MFA_SUCCESS
    assert assess(event).factor_class is expected


# -- Duo -------------------------------------------------------------------------------------------

# A duo_push / user_approved success, hand-made in the shape of Elastic's cisco_duo auth record (shared
# duo/authlogs-v2.jsonl line 1); the tests change only ``factor`` (Admin API authentication log v2 values)
DUO_PUSH = ("duo/authlogs-v2-own.jsonl", 1)


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
    record = _fixture(*DUO_PUSH)
    record["factor"] = factor
    assert assess(_parse(record)) == Assurance(expected, aal)


def test_duo_push_sample_is_approve_only() -> None:
    record = _fixture(*DUO_PUSH)
    assert (record["factor"], record["reason"]) == ("duo_push", "user_approved")
    assert assess(_parse(record)).factor_class is FactorClass.PUSH_APPROVE


# -- OCSF ------------------------------------------------------------------------------------------

# tests/fixtures/ocsf/authentication-3002.jsonl, hand-made in the shapes of ocsf/examples: line 1 an
# Okta-derived Logon (no ``is_mfa``, no ``auth_factors``), line 3 an AWS ConsoleLogin in the OCSF 1.1.0
# shape with ``is_mfa: true``
OCSF = "ocsf/authentication-3002.jsonl"


def test_ocsf_is_mfa_true_sample_reaches_aal2() -> None:
    record = _fixture(OCSF, 3)
    assert record["is_mfa"] is True
    event = _parse(record)
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
    record = _fixture(OCSF, 1)
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
