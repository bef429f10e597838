"""Entra ID source: sign-ins (Graph and Azure Monitor), audit logs and risk detections.

Fixtures are in tests/fixtures/entra (PROVENANCE.md there says where each line comes from). The
``*-panther.jsonl`` records are copies of Apache-2.0 Panther test events. Everything else is hand-made in
the shape of the Sekoia / Elastic samples, which may not be copied. Records that have no public sample at
all (the 500121 denial, timeout, wrong-number and fraud sign-ins, push approval with beta
``authenticationDetails``, security-info registration audits, the Temporary Access Pass) were written by
hand from Microsoft's documentation: "Microsoft Entra authentication and authorization error codes",
"Use the sign-in logs to review Microsoft Entra multifactor authentication events", the Graph beta
``authenticationDetail`` / ``directoryAudit`` pages and the "Microsoft Entra audit activity reference".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pushguard.model import (
    Event,
    EventKind,
    Factor,
    GeoSource,
    PrincipalType,
    Provider,
    RawRef,
    UserKind,
)
from pushguard.sources import detect_source
from pushguard.sources.base import ParseResult, Record, RecordError, Unmapped
from pushguard.sources.entra import SOURCE
from pushguard.sources.readers import read_file
from tests.helpers import folder_outcomes, tally, undetected

FIXTURES = Path(__file__).parent / "fixtures" / "entra"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
TENANT = "6a1d0f52-3c7e-4b8a-9e21-5d4c3b2a1f00"
MARA = "0f3e9a7c-1b2d-4c5e-8f90-a1b2c3d4e5f6"


def _parse(path: Path) -> list[ParseResult | RecordError]:
    results: list[ParseResult | RecordError] = []
    for item in read_file(path):
        assert item.record is not None, item.error
        try:
            results.append(SOURCE.parse(item.record, RawRef(source=item.source, position=item.position)))
        except RecordError as exc:
            results.append(exc)
    return results


def _records(name: str) -> list[Record]:
    return [item.record for item in read_file(FIXTURES / name) if item.record is not None]


def _event(name: str, line: int) -> Event:
    result = _parse(FIXTURES / name)[line - 1]
    assert isinstance(result, list), result
    assert len(result) == 1
    return result[0]


def _at(year: int, month: int, day: int, hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# -- shape detection --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json*")))
def test_every_fixture_record_is_detected_as_entra(name: str) -> None:
    for record in _records(name):
        assert SOURCE.matches(record)
        source = detect_source(record)
        assert source is not None
        assert source.provider is Provider.ENTRA


@pytest.mark.parametrize(
    "record",
    [
        {
            "uuid": "u1",
            "published": "2024-05-07T02:10:31.000Z",
            "eventType": "user.session.start",
            "actor": {},
        },
        {"txid": "t1", "isotimestamp": "2024-05-07T02:10:31+00:00", "access_device": {}, "result": "success"},
        {"action": "admin_login", "isotimestamp": "2024-05-07T02:10:31+00:00", "username": "a"},
        {"class_uid": 3002, "time": 1715047831, "activity_id": 1, "user": {"name": "a"}},
        {"hello": "world"},
    ],
)
def test_matches_rejects_other_vendors(record: Record) -> None:
    assert not SOURCE.matches(record)


# -- sign-ins, Azure Monitor shape ------------------------------------------------------------------


def test_azure_monitor_push_approved_maps_every_field() -> None:
    event = _event("signin-azure-monitor-handmade.jsonl", 1)
    assert event.provider is Provider.ENTRA
    assert event.event_id == "a1000001-0000-4000-8000-000000000001"
    assert event.kind is EventKind.PUSH_APPROVED
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH
    assert event.number_challenge is None
    assert event.time == _at(2024, 5, 6, 8, 14, 58, 765432)  # properties.createdDateTime, 7 digits
    assert event.identity == "mara.lind@contoso-example.com"
    assert event.subject is not None
    assert event.subject.id == MARA
    assert event.subject.login == "mara.lind@contoso-example.com"
    assert event.subject.display_name == "Mara Lind"
    assert event.subject.tenant == TENANT
    assert event.subject.type is PrincipalType.USER
    assert event.actor == event.subject
    assert event.user_kind is UserKind.HUMAN
    assert event.ip == "198.51.100.23"
    assert event.responder_ip is None
    assert event.geo is not None
    assert (event.geo.country, event.geo.region, event.geo.city) == ("SE", "Stockholm", "Stockholm")
    assert (event.geo.lat, event.geo.lon) == (59.3293, 18.0686)
    assert event.geo.accuracy_km == 50.0
    assert event.geo.asn == 3301
    assert event.geo.source is GeoSource.VENDOR
    assert event.device is not None
    assert event.device.id == "d7e6f5a4-b3c2-4d1e-9f08-172635445362"
    assert event.device.name == "LT-MARA-01"
    assert (event.device.managed, event.device.compliant, event.device.registered) == (True, True, True)
    assert (event.device.os, event.device.browser) == ("Windows10", "Edge 124.0.0")
    assert event.device.user_agent == "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/124.0"
    assert event.app == "OfficeHome"
    assert event.session_id == "5f4e3d2c-0000-4000-8000-00000000aaaa"  # sessionId before correlationId
    assert event.reason == "MFA completed in Azure AD"
    assert event.vendor_risk is None  # "none"
    assert event.raw == RawRef(
        source=str(FIXTURES / "signin-azure-monitor-handmade.jsonl"), position=1, vendor_type="SignInLogs"
    )


def test_push_still_in_progress_but_mfa_completed_is_an_approval() -> None:
    # Shape of Sekoia line 5: the push step says "Authentication in progress", mfaDetail names the push.
    event = _event("signin-azure-monitor-handmade.jsonl", 2)
    assert event.kind is EventKind.PUSH_APPROVED
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH
    assert event.vendor_risk is None  # "hidden"
    assert event.session_id == "c0a80101-0000-4000-8000-000000000002"  # no sessionId: correlationId
    assert event.device is not None
    assert event.device.id is None  # deviceId ""
    assert (event.device.managed, event.device.compliant, event.device.registered) == (None, None, None)


def test_non_interactive_sign_in_satisfied_by_claim_is_not_a_prompt() -> None:
    event = _event("signin-azure-monitor-handmade.jsonl", 3)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.factor is None
    assert event.reason == "MFA requirement satisfied by claim in the token"
    assert event.app == "Microsoft Intune Windows Agent"
    assert event.session_id == "5f4e3d2c-0000-4000-8000-00000000aaaa"
    assert event.device is not None
    assert (event.device.managed, event.device.compliant, event.device.registered) == (True, None, True)
    assert event.device.browser is None
    assert event.geo is not None
    assert event.geo.region is None
    assert event.raw is not None
    assert event.raw.vendor_type == "NonInteractiveUserSignInLogs"


def test_service_principal_sign_in_is_nhi() -> None:
    event = _event("signin-azure-monitor-handmade.jsonl", 4)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.user_kind is UserKind.NHI
    assert event.identity == "backup-exporter"
    assert event.subject is not None
    assert event.subject.type is PrincipalType.SERVICE
    assert event.subject.id == "9a8b7c6d-0000-4000-8000-00000000c0c0"
    assert event.subject.display_name == "Backup-Exporter"
    assert event.ip == "203.0.113.77"
    assert event.vendor_risk == "medium"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat) == ("NL", "Amsterdam", 52.3676)
    assert event.device is not None
    assert event.device.user_agent == "python-requests/2.31.0"
    assert event.session_id == "c0a80101-0000-4000-8000-000000000004"


def test_offset_time_and_the_keep_me_signed_in_interrupt() -> None:
    # Elastic shape: createdDateTime 07:45:48.0729893-05:00 is 12:45:48.072989 UTC.
    event = _event("signin-azure-monitor-handmade.jsonl", 5)
    assert event.time == _at(2024, 5, 6, 12, 45, 48, 72989)
    assert event.kind is EventKind.SIGNIN_INTERRUPTED  # 50140 "Stay signed in?": not a failure
    assert event.reason == (
        "50140: This error occurred due to 'Keep me signed in' interrupt when the user was signing-in."
    )
    assert event.factor is None
    assert event.ip == "192.0.2.45"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat) == ("SE", "Gothenburg", 57.7089)


def test_azure_monitor_push_denied() -> None:
    event = _event("signin-azure-monitor-handmade.jsonl", 6)
    assert event.kind is EventKind.PUSH_DENIED
    assert event.reason == "user_denied"
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH
    assert event.ip == "102.89.34.12"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat, event.geo.asn) == ("NG", "Lagos", 6.455, 29465)
    assert event.vendor_risk == "medium"
    assert event.time == _at(2024, 5, 7, 2, 10, 31, 200000)


# -- sign-ins, Graph beta page ----------------------------------------------------------------------

GRAPH = "signin-graph-beta-handmade.json"


def test_graph_page_is_unwrapped_and_every_record_parses() -> None:
    results = _parse(FIXTURES / GRAPH)
    assert len(results) == 8
    assert all(isinstance(r, list) and len(r) == 1 for r in results)


def test_graph_push_timeout() -> None:
    event = _event(GRAPH, 1)
    assert event.kind is EventKind.PUSH_TIMEOUT
    assert event.reason == "no_response"
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH
    assert event.event_id == "b2000002-0000-4000-8000-000000000001"
    assert event.time == _at(2024, 5, 7, 2, 12, 1)
    assert event.identity == "mara.lind@contoso-example.com"
    assert event.ip == "102.89.34.12"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat, event.geo.lon) == ("NG", "Lagos", 6.455, 3.3841)
    assert event.device is not None
    assert (event.device.managed, event.device.compliant, event.device.registered) == (False, False, None)
    assert event.session_id == "c0a80202-0000-4000-8000-000000000001"
    assert event.raw is not None
    assert event.raw.vendor_type == "signIn"
    assert event.raw.position == 1


def test_graph_wrong_number_is_a_denial_under_number_matching() -> None:
    event = _event(GRAPH, 2)
    assert event.kind is EventKind.PUSH_DENIED
    assert event.reason == "number_challenge_wrong"
    assert event.number_challenge is True
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH


def test_graph_fraud_report() -> None:
    event = _event(GRAPH, 3)
    assert event.kind is EventKind.FRAUD_REPORTED
    assert event.reason == "fraud_reported"
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH
    assert event.vendor_risk == "high"


def test_graph_mfa_required_is_an_interrupt_not_a_prompt() -> None:
    event = _event(GRAPH, 4)
    assert event.kind is EventKind.MFA_REQUIRED
    assert event.factor is None
    assert event.reason == "50074: Strong Authentication is required."


def test_graph_conditional_access_block() -> None:
    event = _event(GRAPH, 5)
    assert event.kind is EventKind.ACCESS_BLOCKED
    assert event.reason is not None
    assert event.reason.startswith("53003: Access has been blocked by Conditional Access policies.")


def test_graph_fido2_sign_in_is_a_success_with_its_factor() -> None:
    event = _event(GRAPH, 6)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.factor is Factor.WEBAUTHN
    assert event.device is not None
    assert (event.device.managed, event.device.compliant, event.device.registered) == (True, True, True)
    assert event.geo is not None
    assert (event.geo.country, event.geo.city) == ("SE", "Stockholm")


def test_graph_wrong_sms_code_is_an_mfa_failure_not_a_push() -> None:
    event = _event(GRAPH, 7)
    assert event.kind is EventKind.MFA_FAILURE
    assert event.factor is Factor.SMS
    assert event.reason == "500121: MFA denied; user entered incorrect code"


def test_graph_previously_satisfied_has_no_factor() -> None:
    event = _event(GRAPH, 8)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.factor is None
    assert event.vendor_risk is None  # "hidden"


# -- sign-ins, copied Panther records ---------------------------------------------------------------

PANTHER = "signin-azure-monitor-panther.jsonl"


def test_panther_service_principal_with_lowercase_top_level_keys() -> None:
    event = _event(PANTHER, 1)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.user_kind is UserKind.NHI
    assert event.identity == "very-normal-service-principal"
    assert event.subject is not None
    assert event.subject.id == "4b6986ec-c49c-40c0-89ce-b2ac51213e39"
    assert event.ip == "12.12.12.12"
    assert event.time == _at(2023, 7, 27, 13, 59, 53, 691680)  # 9 fractional digits, Panther format
    assert event.vendor_risk == "low"
    assert event.session_id == "52d1e530-786c-443c-8dc8-aa7b1317608e"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat) == ("US", "Springfield", 42.73333333333333)
    assert event.raw is not None
    assert event.raw.vendor_type == "ServicePrincipalSignInLogs"


def test_panther_service_principal_bad_secret() -> None:
    event = _event(PANTHER, 2)
    assert event.kind is EventKind.SIGNIN_FAILURE
    assert event.reason == "7000215"
    assert event.identity == "some-service-principal"
    assert event.vendor_risk is None


def test_panther_single_factor_sign_in() -> None:
    event = _event(PANTHER, 3)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.identity == "eve@lexcorp.com"
    assert event.factor is None
    assert event.subject is not None
    assert event.subject.tenant == "4328f0a8-06da-4457-b0d0-2c8e115e52cc"  # homeTenantId
    assert event.device is not None
    assert (event.device.id, event.device.os, event.device.user_agent) == (None, "MacOs", "BAV2ROPC")


def test_panther_trimmed_record_without_id_is_a_record_error() -> None:
    result = _parse(FIXTURES / PANTHER)[3]
    assert isinstance(result, RecordError)
    assert "properties.id" in str(result)


# -- malformed and unknown sign-in records ----------------------------------------------------------


def _signin(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "x1",
        "createdDateTime": "2024-05-07T02:12:01Z",
        "userPrincipalName": "a@example.com",
        "userId": "u1",
        "status": {"errorCode": 0},
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (_signin(createdDateTime="yesterday"), "createdDateTime"),
        (_signin(userPrincipalName=None, userId=None), "userPrincipalName"),
        (_signin(status={"errorCode": None}), "status.errorCode"),
        (_signin(id=None), "properties.id"),
    ],
)
def test_malformed_sign_in_names_the_field(record: Record, field: str) -> None:
    assert SOURCE.matches(record)
    with pytest.raises(RecordError, match=field.replace(".", r"\.")):
        SOURCE.parse(record, RawRef(source="t"))


def test_unknown_azure_monitor_category_is_unmapped() -> None:
    record = {"time": "2024-05-07T02:12:01Z", "category": "ProvisioningLogs", "properties": {"jobId": "j1"}}
    result = SOURCE.parse(record, RawRef(source="t"))
    assert isinstance(result, Unmapped)
    assert result.reason == "entra: category ProvisioningLogs"


# -- audit logs -------------------------------------------------------------------------------------

AUDIT = "audit-graph-handmade.jsonl"


def test_user_registered_authenticator_push() -> None:
    event = _event(AUDIT, 1)
    assert event.kind is EventKind.FACTOR_ENROLLED
    assert event.factor is Factor.MS_AUTHENTICATOR_PUSH
    assert event.identity == "mara.lind@contoso-example.com"
    assert event.actor is not None
    assert event.actor.type is PrincipalType.USER
    assert not event.by_other
    assert event.ip == "102.89.34.12"
    assert event.time == _at(2024, 5, 7, 2, 31, 12, 551237)
    assert event.reason == "User registered Authenticator App with Notification and Code"
    assert event.detail == "User registered security info"
    assert event.session_id == "c0a80303-0000-4000-8000-000000000001"
    assert event.raw is not None
    assert event.raw.vendor_type == "User registered security info"


def test_admin_issued_temporary_access_pass() -> None:
    event = _event(AUDIT, 2)
    assert event.kind is EventKind.BYPASS_ISSUED
    assert event.factor is Factor.TEMPORARY_ACCESS_PASS
    assert event.identity == "mara.lind@contoso-example.com"
    assert event.subject is not None
    assert event.subject.id == MARA
    assert event.actor is not None
    assert event.actor.type is PrincipalType.ADMIN
    assert event.actor.login == "nils.helpdesk@contoso-example.com"
    assert event.by_other
    assert event.ip == "198.51.100.80"  # the admin's address


def test_user_deleted_sms_method() -> None:
    event = _event(AUDIT, 3)
    assert event.kind is EventKind.FACTOR_REMOVED
    assert event.factor is Factor.SMS


def test_user_changed_default_method() -> None:
    event = _event(AUDIT, 4)
    assert event.kind is EventKind.FACTOR_ENROLLED
    assert event.detail == "User changed default security info"
    assert event.factor is None


def test_admin_password_reset() -> None:
    event = _event(AUDIT, 5)
    assert event.kind is EventKind.PASSWORD_RESET
    assert event.actor is not None
    assert event.actor.type is PrincipalType.ADMIN
    assert event.identity == "mara.lind@contoso-example.com"


def test_fraud_reported_audit_with_null_ip() -> None:
    event = _event(AUDIT, 6)
    assert event.kind is EventKind.FRAUD_REPORTED
    assert event.ip is None  # "<null>"
    assert event.identity == "mara.lind@contoso-example.com"


def test_update_user_clearing_strong_auth_methods_is_a_reset() -> None:
    event = _event(AUDIT, 7)
    assert event.kind is EventKind.FACTORS_RESET
    assert event.by_other
    assert event.detail == "Update user"


def test_add_member_to_role_targets_the_new_member() -> None:
    event = _event(AUDIT, 8)
    assert event.kind is EventKind.PRIVILEGED_ACTION
    assert event.detail == "Add member to role"
    assert event.identity == "shadow.ops@contoso-example.com"
    assert event.actor is not None
    assert event.actor.login == "mara.lind@contoso-example.com"
    assert event.actor.type is PrincipalType.ADMIN


def test_consent_to_application_names_the_app() -> None:
    event = _event(AUDIT, 9)
    assert event.kind is EventKind.PRIVILEGED_ACTION
    assert event.app == "Mail Sync Pro"
    assert event.identity == "mara.lind@contoso-example.com"  # no user target: the actor


def test_service_principal_adding_its_own_credentials_is_nhi() -> None:
    event = _event(AUDIT, 10)
    assert event.kind is EventKind.PRIVILEGED_ACTION
    assert event.detail == "Add service principal credentials"
    assert event.user_kind is UserKind.NHI
    assert event.actor is not None
    assert event.actor.type is PrincipalType.SERVICE
    assert event.identity == "9a8b7c6d-0000-4000-8000-00000000c0c0"
    assert event.app == "Backup-Exporter"


def test_unmapped_and_failed_audits_give_reasons() -> None:
    results = _parse(FIXTURES / AUDIT)
    assert isinstance(results[10], Unmapped)
    assert results[10].reason == "entra: audit activity Update device"
    assert isinstance(results[11], Unmapped)
    assert results[11].reason == "entra: audit activity User registered security info with result failure"


def test_azure_monitor_audits() -> None:
    fido = _event("audit-azure-monitor-handmade.jsonl", 1)
    assert fido.kind is EventKind.FACTOR_ENROLLED
    assert fido.factor is Factor.WEBAUTHN
    assert fido.ip is None  # "<null>" on both the initiator and the wrapper
    assert fido.subject is not None
    assert fido.subject.tenant == TENANT
    sspr = _event("audit-azure-monitor-handmade.jsonl", 2)
    assert sspr.kind is EventKind.PASSWORD_RESET
    assert sspr.ip == "192.0.2.45"
    assert sspr.time == _at(2024, 5, 8, 7, 5)
    broken = _parse(FIXTURES / "audit-azure-monitor-handmade.jsonl")[2:]
    assert [type(r) for r in broken] == [RecordError, RecordError]
    assert "properties.id" in str(broken[0])
    assert "activityDateTime" in str(broken[1])


def test_panther_audits() -> None:
    results = _parse(FIXTURES / "audit-azure-monitor-panther.jsonl")
    assert isinstance(results[0], RecordError)  # trimmed: no id
    assert isinstance(results[1], Unmapped)
    assert results[1].reason == "entra: audit activity Add member to role in PIM completed (permanent)"
    event = _event("audit-azure-monitor-panther.jsonl", 3)
    assert event.kind is EventKind.PRIVILEGED_ACTION
    assert event.identity == "12345"  # the target user has an id and no UPN
    assert event.subject is not None
    assert event.subject.display_name == "Malenia"
    assert event.actor is not None
    assert event.actor.login == "radahn@starscourge.onmicrosoft.com"
    assert event.time == _at(2024, 12, 16, 16, 32, 16, 87554)


# -- risk detections --------------------------------------------------------------------------------


def test_user_risk_event_with_odd_times() -> None:
    event = _event("risk-handmade.jsonl", 1)
    assert event.kind is EventKind.RISK_DETECTED
    assert event.detail == "unfamiliarFeatures"
    assert event.time == _at(2024, 5, 7, 2, 10, 31, 200000)  # "2024-05-07T2:10:31.2Z"
    assert event.identity == "mara.lind@contoso-example.com"
    assert event.vendor_risk == "medium"
    assert event.ip == "102.89.34.12"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city, event.geo.lat) == ("NG", "Lagos", 6.455)
    assert event.behaviors == ("unfamiliar_asn", "unfamiliar_location")
    assert event.device is not None
    assert event.device.user_agent == "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"
    assert event.session_id == "c0a80101-0000-4000-8000-000000000006"


@pytest.mark.parametrize("when", ["5/7/2024 0:20:35 AM", "13/7/2024 1:20:35 AM"])
def test_us_time_that_strptime_refuses_is_a_record_error(when: str) -> None:
    """Found by fuzzing: the US-time pattern takes hours and months strptime refuses."""
    record = {**_records("risk-handmade.jsonl")[1], "detectedDateTime": when}
    with pytest.raises(RecordError, match="detectedDateTime: not a time"):
        SOURCE.parse(record, RawRef(source="t", position=1))


def test_user_reported_suspicious_activity_is_a_fraud_report() -> None:
    event = _event("risk-handmade.jsonl", 2)
    assert event.kind is EventKind.FRAUD_REPORTED
    assert event.detail == "userReportedSuspiciousActivity"
    assert event.vendor_risk == "high"
    assert event.time == _at(2024, 5, 7, 2, 16, 31)


# -- every sample: the fixtures always, the real public records too when ../shared is present ---------


def test_every_public_sample_parses_or_says_why() -> None:
    """Every fixture record (all a plain clone has) and, when ../shared is next to the repo, every collected
    public sample: each detected as Entra, then events, an Unmapped "entra: ..." or a RecordError."""
    outcomes = folder_outcomes(FIXTURES, SOURCE)
    assert undetected(FIXTURES, SOURCE) == []
    assert tally(outcomes) == {  # (records giving events, unmapped, record errors)
        "audit-azure-monitor-handmade.jsonl": (2, 0, 2),  # lines 3-4 broken on purpose
        "audit-azure-monitor-panther.jsonl": (1, 1, 1),
        "audit-graph-handmade.jsonl": (10, 2, 0),
        "risk-handmade.jsonl": (2, 0, 0),
        "signin-azure-monitor-handmade.jsonl": (9, 0, 0),
        "signin-azure-monitor-panther.jsonl": (3, 0, 1),  # line 4: Panther trimmed the id away
        "signin-graph-beta-handmade.json": (8, 0, 0),
    }
    errors = sorted(str(o) for o in outcomes.values() if isinstance(o, RecordError))
    assert errors == [
        "activityDateTime: not an ISO-8601 time: 'not a time'",
        "properties.id: missing",
        "properties.id: missing",
        "properties.id: missing",
    ]
    ews = outcomes[("signin-azure-monitor-handmade.jsonl", 8)]  # the shape of Sekoia's line 8, checked below
    assert isinstance(ews, list)
    assert (ews[0].kind, ews[0].legacy_protocol) == (EventKind.SIGNIN_SUCCESS, "Exchange Web Services")
    assert ews[0].ip == "2001:db8:4f2a:17::25" and ews[0].geo is None
    if (SAMPLES / "entra").exists():
        _check_the_shared_samples()


def _check_the_shared_samples() -> None:
    outcomes: dict[tuple[str, int], ParseResult | RecordError] = {}
    for path in sorted((SAMPLES / "entra").glob("*.jsonl")):
        for item in read_file(path):
            assert item.record is not None, item.where
            assert SOURCE.matches(item.record), item.where
            ref = RawRef(source=item.source, position=item.position)
            try:
                result: ParseResult | RecordError = SOURCE.parse(item.record, ref)
            except RecordError as exc:
                result = exc
            outcomes[(path.name, item.position)] = result
            if isinstance(result, list):
                assert result, item.where
                assert all(e.provider is Provider.ENTRA and e.identity for e in result), item.where
            elif isinstance(result, Unmapped):
                assert result.reason.startswith("entra: "), item.where
            else:
                assert str(result), item.where

    def event(name: str, line: int) -> Event:
        result = outcomes[(name, line)]
        assert isinstance(result, list), result
        return result[0]

    approved = event("signin-azure-monitor.jsonl", 3)
    assert approved.kind is EventKind.PUSH_APPROVED
    assert approved.identity == "john.doe@example.org"
    assert approved.factor is Factor.MS_AUTHENTICATOR_PUSH
    in_progress = event("signin-azure-monitor.jsonl", 5)
    assert in_progress.kind is EventKind.PUSH_APPROVED
    managed = event("signin-azure-monitor.jsonl", 4)
    assert managed.device is not None
    assert (managed.device.managed, managed.device.compliant) == (True, True)
    sp = event("signin-azure-monitor.jsonl", 7)
    assert sp.user_kind is UserKind.NHI
    assert sp.ip is None  # a GUID placeholder where the IP goes
    kmsi = event("signin-azure-monitor.jsonl", 9)
    assert kmsi.time == _at(2019, 10, 18, 9, 45, 48, 72989)
    assert kmsi.kind is EventKind.SIGNIN_INTERRUPTED
    assert event("signin-azure-monitor.jsonl", 10).kind is EventKind.SIGNIN_INTERRUPTED
    external = event("signin-azure-monitor.jsonl", 1)  # 50158: an external security challenge pending
    assert external.kind is EventKind.MFA_REQUIRED
    assert external.reason == "50158: External security challenge was not satisfied."
    assert event("signin-graph.jsonl", 1).kind is EventKind.SIGNIN_SUCCESS
    assert event("user-risk-azure-monitor.jsonl", 2).time == _at(2023, 10, 26, 5, 32, 8, 107000)
    assert event("audit-azure-monitor.jsonl", 7).kind is EventKind.PASSWORD_CHANGED
    assert event("audit-azure-monitor.jsonl", 6).kind is EventKind.PRIVILEGED_ACTION
    assert isinstance(outcomes[("audit-graph.jsonl", 6)], Unmapped)  # Update user, no method change


def test_interactive_flag_from_is_interactive_category_or_event_types() -> None:
    """isInteractive wins; otherwise the Azure Monitor category or Graph beta signInEventTypes say it."""
    from pushguard.model import RawRef
    from pushguard.sources.entra import SOURCE

    base = {
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "createdDateTime": "2026-03-02T09:00:00Z",
        "userPrincipalName": "svc-backup@corp.example",
        "userId": "11111111-2222-3333-4444-555555555555",
        "appDisplayName": "Azure Storage",
        "status": {"errorCode": 0},
    }
    ref = RawRef(source="t", position=1)

    def interactive(record: Mapping[str, object]) -> bool | None:
        out = SOURCE.parse(record, ref)
        assert isinstance(out, list)
        return out[0].interactive

    assert interactive({**base, "isInteractive": False}) is False
    assert interactive({**base, "signInEventTypes": ["nonInteractiveUser"]}) is False
    assert interactive({**base, "signInEventTypes": ["interactiveUser"]}) is True
    assert interactive(base) is None
    wrapped = {"category": "NonInteractiveUserSignInLogs", "time": "2026-03-02T09:00:00Z", "properties": base}
    assert interactive(wrapped) is False
