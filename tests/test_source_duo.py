"""Duo source: authentication logs (v2, v1, API envelope), administrator, offline and telephony logs.

Where the records come from (details in tests/fixtures/duo/PROVENANCE.md):
- ``panther-*.jsonl`` are Panther's Apache-2.0 test events, copied unchanged;
- ``*-own.jsonl`` are our own records written in exactly the shape of the Elastic and Sekoia samples
  (those records themselves are not copied: their licences do not allow it);
- ``*-handmade.*`` are hand-made from Duo's Admin API documentation because no public sample exists:
  Verified Push with a wrong code, ``no_response`` timeouts, ``user_cancelled``, ``frequent_attempts``,
  ``locked_out``, ``event_type: enrollment``, the API response envelope, and the v1 records, which are
  hand-made from Duo's v1 (legacy) authentication log documentation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pushguard.model import Event, EventKind, Factor, GeoSource, PrincipalType, Provider, RawRef, UserKind
from pushguard.sources import detect_source
from pushguard.sources.base import RecordError, Unmapped
from pushguard.sources.duo import SOURCE, classify
from pushguard.sources.readers import read_file
from tests.helpers import folder_outcomes, tally, undetected

FIXTURES = Path(__file__).parent / "fixtures" / "duo"
SHARED = (
    Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "duo"
)  # ../shared next to the repo


def _records(name: str) -> list[dict[str, Any]]:
    records = []
    for item in read_file(FIXTURES / name):
        assert item.record is not None, item.error
        records.append(item.record)
    return records


def _line(name: str, line: int) -> dict[str, Any]:
    return _records(name)[line - 1]


def _one(record: dict[str, Any], position: int = 1) -> Event:
    assert SOURCE.matches(record)
    result = SOURCE.parse(record, RawRef(source="test.jsonl", position=position))
    assert isinstance(result, list), result
    assert len(result) == 1
    return result[0]


def _unmapped(record: dict[str, Any]) -> str:
    result = SOURCE.parse(record, RawRef(source="test.jsonl", position=1))
    assert isinstance(result, Unmapped), result
    return result.reason


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# -- authentication log v2 -------------------------------------------------------------------------


def test_v2_approved_push_maps_requester_and_responder() -> None:
    event = _one(_line("authlogs-v2-own.jsonl", 1), position=7)
    assert event.provider is Provider.DUO
    assert event.kind is EventKind.PUSH_APPROVED
    assert event.event_id == "7b1f0c2e-5a34-4c8e-9d21-0f6a1b2c3d01"
    assert event.time == _utc("2024-03-05T09:14:07.512300+00:00")
    assert event.identity == "m.rivera@example.org"
    assert event.subject is not None
    assert event.subject.id == "DUEXAMPLEUSERKEY0001"
    assert event.subject.login == "m.rivera@example.org"
    assert event.actor == event.subject
    assert event.user_kind is UserKind.HUMAN
    assert event.ip == "198.51.100.23"
    assert event.geo is not None
    assert (event.geo.country, event.geo.region, event.geo.city) == ("Portugal", "Lisbon", "Lisbon")
    assert (event.geo.lat, event.geo.lon, event.geo.accuracy_km) == (None, None, None)
    assert event.geo.source is GeoSource.VENDOR
    assert event.responder_ip == "203.0.113.77"
    assert event.responder_geo is not None
    assert (event.responder_geo.country, event.responder_geo.city) == ("Portugal", "Porto")
    assert event.device is not None
    assert (event.device.os, event.device.browser, event.device.managed) == ("Windows 11", "Edge", True)
    assert event.responder_device is not None
    assert event.responder_device.name == "Pixel 7 (+351 555 0100)"
    assert event.factor is Factor.DUO_PUSH
    assert event.reason == "user_approved"
    assert event.number_challenge is None  # plain Duo Push: Duo does not say whether a code was asked
    assert event.app == "Example Okta SSO"
    assert event.raw == RawRef(source="test.jsonl", position=7, vendor_type="authentication")


def test_v2_fraud_report() -> None:
    event = _one(_line("authlogs-v2-own.jsonl", 2))
    assert event.kind is EventKind.FRAUD_REPORTED
    assert event.identity == "tkowalski"
    assert event.ip == "192.0.2.200"
    assert event.geo is not None
    assert (event.geo.country, event.geo.city) == ("Nigeria", "Lagos")
    assert event.responder_ip == "203.0.113.90"
    assert event.responder_geo is not None
    assert (event.responder_geo.country, event.responder_geo.city) == ("Poland", "Krakow")
    assert event.factor is Factor.DUO_PUSH
    assert event.reason == "user_marked_fraud"
    assert event.device is not None
    assert (event.device.os, event.device.browser, event.device.managed) == ("Linux 6.1", "Firefox", None)
    assert event.app == "Example VPN"


def test_v2_user_mistake_is_a_denied_push() -> None:
    event = _one(_line("authlogs-v2-own.jsonl", 3))
    assert event.kind is EventKind.PUSH_DENIED
    assert event.reason == "user_mistake"
    assert event.factor is Factor.DUO_PUSH
    assert event.time == _utc("2024-03-05T09:19:02.250000+00:00")


def test_v2_trust_assessment_and_auth_device_key() -> None:
    event = _one(_line("authlogs-v2-own.jsonl", 4))
    assert event.kind is EventKind.PUSH_APPROVED
    assert event.identity == "m.rivera@example.org"  # user.name was mixed case
    assert event.vendor_risk == "high"  # more_secure_auth.trust_level LOW
    assert event.responder_device is not None
    assert event.responder_device.id == "DPEXAMPLEPHONEKEY001"
    assert event.factor_id == "DPEXAMPLEPHONEKEY001"
    assert event.device is not None
    assert (event.device.os, event.device.browser, event.device.managed) == ("Mac OS X 14.3", "Safari", False)


def test_v2_remembered_device_is_not_a_push() -> None:
    event = _one(_line("authlogs-v2-own.jsonl", 5))
    assert event.kind is EventKind.MFA_SUCCESS
    assert event.factor is Factor.REMEMBERED_DEVICE
    assert event.reason == "remembered_device"
    assert event.identity == "amartin"
    assert event.subject is not None
    assert event.subject.tenant == "tenant-example.duosecurity.com"
    assert event.responder_ip is None
    assert event.responder_geo is None
    assert event.responder_device is None
    assert event.device is not None
    assert event.device.id == "EPEXAMPLEENDPOINT001"
    assert event.geo is not None
    assert (event.geo.region, event.geo.city) == ("Auvergne-Rhône-Alpes", "Lyon")
    assert event.vendor_risk == "low"


@pytest.mark.parametrize(
    ("line", "kind", "factor", "reason", "challenge"),
    [
        (1, EventKind.PUSH_DENIED, Factor.DUO_PUSH, "number_challenge_wrong", True),
        (2, EventKind.PUSH_TIMEOUT, Factor.DUO_PUSH, "no_response", None),
        (3, EventKind.PUSH_TIMEOUT, Factor.DUO_PUSH, "user_cancelled", None),
        (4, EventKind.MFA_FAILURE, Factor.DUO_PUSH, "frequent_attempts", None),
        (5, EventKind.ACCESS_BLOCKED, Factor.DUO_PUSH, "locked_out", None),
        (6, EventKind.FACTOR_ENROLLED, Factor.DUO_PUSH, None, None),
        (7, EventKind.MFA_SUCCESS, Factor.VOICE, "user_approved", None),
        (8, EventKind.MFA_FAILURE, Factor.SMS, "invalid_passcode", None),
        (9, EventKind.MFA_SUCCESS, Factor.WEBAUTHN, "user_approved", None),
        (10, EventKind.MFA_SUCCESS, Factor.BYPASS_CODE, "valid_passcode", None),
        (11, EventKind.PUSH_APPROVED, Factor.DUO_PUSH, "user_approved", True),
        (12, EventKind.MFA_FAILURE, Factor.DUO_PUSH, "error", None),
        (13, EventKind.MFA_FAILURE, Factor.DUO_PUSH, "anomalous_push", None),
    ],
)
def test_v2_documented_outcomes(
    line: int, kind: EventKind, factor: Factor, reason: str | None, challenge: bool | None
) -> None:
    record = _line("authlogs-v2-handmade.jsonl", line)
    event = _one(record)
    assert event.kind is kind
    assert event.factor is factor
    assert event.reason == reason
    assert event.number_challenge is challenge
    assert event.event_id == record["txid"]
    assert event.identity == "m.rivera@example.org"
    assert event.app == "Example Okta SSO"


def test_v2_wrong_verified_push_code_keeps_both_sides() -> None:
    event = _one(_line("authlogs-v2-handmade.jsonl", 1))
    assert event.ip == "192.0.2.200"
    assert event.geo is not None
    assert event.geo.country == "Nigeria"
    assert event.responder_ip == "203.0.113.77"
    assert event.responder_geo is not None
    assert event.responder_geo.country == "Portugal"
    assert event.time == _utc("2024-03-07T02:10:00+00:00")


def test_v2_enrollment_event_type() -> None:
    event = _one(_line("authlogs-v2-handmade.jsonl", 6))
    assert event.kind is EventKind.FACTOR_ENROLLED
    assert event.raw is not None
    assert event.raw.vendor_type == "enrollment"


def test_api_envelope_is_unwrapped_by_the_reader() -> None:
    items = list(read_file(FIXTURES / "authlogs-envelope.json"))
    assert [item.position for item in items] == [1, 2]
    events = [_one(item.record) for item in items if item.record is not None]
    assert [e.kind for e in events] == [EventKind.PUSH_TIMEOUT, EventKind.PUSH_DENIED]
    assert events[1].reason == "number_challenge_wrong"
    assert events[1].number_challenge is True


def test_panther_trimmed_records_need_a_time() -> None:
    for record in _records("panther-authlogs.jsonl"):
        assert SOURCE.matches(record)
        with pytest.raises(RecordError, match="timestamp"):
            SOURCE.parse(record, RawRef(source="test.jsonl"))


@pytest.mark.parametrize(
    ("line", "kind", "factor", "reason"),
    [
        (1, EventKind.FRAUD_REPORTED, Factor.DUO_PUSH, "user_marked_fraud"),
        (2, EventKind.MFA_SUCCESS, None, "bypass_user"),
        (3, EventKind.PUSH_APPROVED, Factor.DUO_PUSH, "user_approved"),
        (4, EventKind.ACCESS_BLOCKED, Factor.DUO_PUSH, "out_of_date"),
        (5, EventKind.MFA_FAILURE, Factor.DUO_PUSH, "anomalous_push"),
        (6, EventKind.ACCESS_BLOCKED, Factor.DUO_PUSH, "endpoint_is_not_in_management_system"),
        (10, EventKind.ACCESS_BLOCKED, Factor.DUO_PUSH, "invalid_device"),
    ],
)
def test_panther_records_with_a_time_added(
    line: int, kind: EventKind, factor: Factor | None, reason: str
) -> None:
    record = {**_line("panther-authlogs.jsonl", line), "timestamp": 1671048597}
    event = _one(record)
    assert (event.kind, event.factor, event.reason) == (kind, factor, reason)
    assert event.identity == "example@example.io"
    assert (event.ip, event.responder_ip) == ("12.12.112.25", "12.12.12.12")
    assert event.device is not None
    assert event.device.os == "Mac OS X"
    assert event.time == datetime(2022, 12, 14, 20, 9, 57, tzinfo=UTC)
    assert event.event_id.startswith("duo-")  # no txid: a content hash


# -- authentication log v1 (hand-made from Duo's v1 documentation) ----------------------------------


@pytest.mark.parametrize(
    ("line", "kind", "factor", "reason"),
    [
        (1, EventKind.PUSH_APPROVED, Factor.DUO_PUSH, "user_approved"),
        (2, EventKind.PUSH_DENIED, Factor.DUO_PUSH, "user_mistake"),
        (3, EventKind.FRAUD_REPORTED, Factor.DUO_PUSH, "user_marked_fraud"),
        (4, EventKind.PUSH_TIMEOUT, Factor.DUO_PUSH, "no_response"),
        (5, EventKind.MFA_SUCCESS, Factor.VOICE, "user_approved"),
        (6, EventKind.FACTOR_ENROLLED, Factor.DUO_PUSH, None),
    ],
)
def test_v1_flat_records(line: int, kind: EventKind, factor: Factor, reason: str | None) -> None:
    event = _one(_line("authlogs-v1-handmade.jsonl", line))
    assert (event.kind, event.factor, event.reason) == (kind, factor, reason)
    assert event.identity == "jdoe"
    assert event.ip == "198.51.100.40"
    assert event.geo is not None
    assert (event.geo.country, event.geo.region, event.geo.city) == ("US", "Colorado", "Denver")
    assert event.responder_ip is None
    assert event.responder_device is not None
    assert event.responder_device.name == "303-555-0147"
    assert event.app == "Example VPN"
    assert event.time == datetime(2024, 3, 8, 10, line - 1, tzinfo=UTC)
    assert event.raw is not None
    assert event.raw.vendor_type == "authentication_v1"


def test_ids_without_txid_are_stable_and_distinct() -> None:
    first, second = _line("authlogs-v1-handmade.jsonl", 1), _line("authlogs-v1-handmade.jsonl", 2)
    assert _one(first).event_id == _one(dict(first)).event_id
    assert _one(first).event_id != _one(second).event_id


# -- administrator and offline enrollment logs ------------------------------------------------------


def test_admin_login_is_the_admins_sign_in() -> None:
    event = _one(_line("admin-own.jsonl", 1))
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.identity == "dana helpdesk"
    assert event.actor is not None
    assert event.actor.type is PrincipalType.ADMIN
    assert event.actor.display_name == "Dana Helpdesk"
    assert event.actor.tenant == "tenant-example.duosecurity.com"
    assert event.subject == event.actor
    assert event.ip == "192.0.2.10"
    assert event.factor is Factor.DUO_PUSH
    assert event.time == _utc("2024-03-05T08:00:00+00:00")
    assert event.raw is not None
    assert event.raw.vendor_type == "admin_login"


def test_admin_login_error_uses_the_email() -> None:
    event = _one(_line("admin-own.jsonl", 2))
    assert event.kind is EventKind.SIGNIN_FAILURE
    assert event.identity == "dana.helpdesk@example.org"
    assert event.ip == "192.0.2.99"
    assert event.reason == "Invalid password"


@pytest.mark.parametrize(
    ("line", "kind", "identity", "reason", "factor", "actor_type"),
    [
        (4, EventKind.FACTOR_ENROLLED, "m.rivera@example.org", None, Factor.DUO_PUSH, PrincipalType.ADMIN),
        (5, EventKind.FACTOR_ENROLLED, "m.rivera@example.org", None, Factor.DUO_PUSH, PrincipalType.ADMIN),
        (7, EventKind.ACCOUNT_STATUS_CHANGED, "tkowalski", "locked_out", None, PrincipalType.SYSTEM),
        (8, EventKind.ACCOUNT_STATUS_CHANGED, "old.account", "deleted", None, PrincipalType.SERVICE),
    ],
)
def test_admin_actions_on_users(
    line: int,
    kind: EventKind,
    identity: str,
    reason: str | None,
    factor: Factor | None,
    actor_type: PrincipalType,
) -> None:
    event = _one(_line("admin-own.jsonl", line))
    assert (event.kind, event.identity, event.reason, event.factor) == (kind, identity, reason, factor)
    assert event.actor is not None
    assert event.actor.type is actor_type
    assert event.by_other


def test_admin_records_that_are_not_mapped() -> None:
    assert (
        _unmapped(_line("admin-own.jsonl", 3)) == "duo: admin action user_update (no status or phones change)"
    )
    assert _unmapped(_line("admin-own.jsonl", 6)) == "duo: admin action phone_delete names no user"
    assert _unmapped(_line("admin-own.jsonl", 9)) == "duo: admin action group_update"
    assert _unmapped(_line("panther-admin.jsonl", 2)) == "duo: admin action application_install"
    assert _unmapped(_line("panther-admin.jsonl", 21)) == "duo: admin action bypass_detele"


def test_panther_bypass_code_created() -> None:
    event = _one(_line("panther-admin.jsonl", 11))
    assert event.kind is EventKind.BYPASS_ISSUED
    assert event.identity == "target@example.io"
    assert event.subject is not None
    assert (event.subject.id, event.subject.login) == ("D12345", "target@example.io")
    assert event.actor is not None
    assert event.actor.login == "homer simpson"
    assert event.factor is Factor.BYPASS_CODE
    assert event.factor_id == "A12345"
    assert event.time == datetime(2022, 12, 14, 21, 17, 39, tzinfo=UTC)


LOCKED = "Admin temporarily locked out due to too many passcode attempts."


@pytest.mark.parametrize(
    ("line", "kind", "identity", "reason"),
    [
        (5, EventKind.FRAUD_REPORTED, "example@example.io", "Login request reported as fraudulent."),
        (9, EventKind.ACCOUNT_LOCKED, "homer simpson", f'"message": "{LOCKED}"'),  # description not JSON
        (10, EventKind.ACCOUNT_LOCKED, "homer simpson", LOCKED),
        (16, EventKind.ACCOUNT_STATUS_CHANGED, "bart.simpson@simpsons.com", "active"),
        (17, EventKind.ACCOUNT_STATUS_CHANGED, "bart.simpson@simpsons.com", "disabled"),
        (18, EventKind.BYPASS_ISSUED, "bart.simpson@simpsons.com", "bypass_status"),
        (19, EventKind.FACTOR_REMOVED, "homer.simpson@simpsons.com", "phones_cleared"),
    ],
)  # fmt: skip
def test_panther_admin_events(line: int, kind: EventKind, identity: str, reason: str) -> None:
    event = _one(_line("panther-admin.jsonl", line))
    assert (event.kind, event.identity, event.reason) == (kind, identity, reason)


def test_panther_privileged_actions() -> None:
    details = {line: _one(_line("panther-admin.jsonl", line)).detail for line in (1, 3, 6, 7, 12, 20, 22, 23)}
    assert details == {
        1: "integration_skey_view: Example Integration Name",
        3: "update_admin_factor_restrictions",
        6: "admin_update",
        7: "admin_create: Homer Simpson",
        12: "admin_single_sign_on_update",
        20: "policy_update: Global Policy",
        22: "bypass_view: target@example.io",
        23: "integration_create: Admin API",
    }
    event = _one(_line("panther-admin.jsonl", 7))
    assert event.kind is EventKind.PRIVILEGED_ACTION
    assert event.identity == "bart simpson"


def test_offline_enrollment() -> None:
    enrolled = _one(_line("telephony-offline-own.jsonl", 3))
    assert enrolled.kind is EventKind.FACTOR_ENROLLED
    assert enrolled.identity == "mrivera"
    assert enrolled.factor is Factor.TOTP
    assert enrolled.app == "Example Windows Logon"
    assert enrolled.device is not None
    assert enrolled.device.name == "LAPTOP-EX01"
    assert enrolled.time == _utc("2024-03-05T10:00:00+00:00")
    removed = _one(_line("telephony-offline-own.jsonl", 4))
    assert (removed.kind, removed.factor) == (EventKind.FACTOR_REMOVED, Factor.WEBAUTHN)


def test_telephony_is_counted_not_mapped() -> None:
    for line in (1, 2):
        record = _line("telephony-offline-own.jsonl", line)
        assert SOURCE.matches(record)
        assert _unmapped(record) == "duo: telephony log"


# -- detection and malformed records -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "panther-authlogs.jsonl",
        "panther-admin.jsonl",
        "authlogs-v2-own.jsonl",
        "authlogs-v2-handmade.jsonl",
        "authlogs-v1-handmade.jsonl",
        "admin-own.jsonl",
        "telephony-offline-own.jsonl",
    ],
)
def test_every_fixture_is_detected_as_duo(name: str) -> None:
    for record in _records(name):
        assert SOURCE.matches(record)
        source = detect_source(record)
        assert source is not None
        assert source.provider is Provider.DUO


@pytest.mark.parametrize(
    "record",
    [
        {"uuid": "u1", "published": "2024-01-01T00:00:00Z", "eventType": "user.session.start", "actor": {}},
        {"uuid": "u1", "published": "2024-01-01 00:00:00.000", "eventtype": "user.session.start"},
        {
            "category": "SignInLogs",
            "properties": {"userPrincipalName": "a@b.c"},
            "time": "2024-01-01T00:00:00Z",
        },
        {"id": "x", "createdDateTime": "2024-01-01T00:00:00Z", "userPrincipalName": "a@b.c", "status": {}},
        {"id": "x", "activityDisplayName": "Update user", "activityDateTime": "2024-01-01T00:00:00Z"},
        {"class_uid": 3002, "time": 1704067200000, "user": {"name": "a"}, "txid": "t"},
        {"message": "not a vendor record"},
    ],
)
def test_other_vendors_do_not_match(record: dict[str, Any]) -> None:
    assert not SOURCE.matches(record)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"txid": "t1", "user": {"key": "DU1"}, "result": "success", "timestamp": 1}, "user.name"),
        ({"txid": "t1", "user": {"name": "a"}, "result": "success", "factor": "duo_push"}, "timestamp"),
        (
            {"txid": "t1", "user": {"name": "a"}, "result": "success", "isotimestamp": "yesterday"},
            "isotimestamp",
        ),
        ({"action": "", "username": "x", "timestamp": 1}, "action"),
        ({"action": "bypass_create", "username": "x", "timestamp": 1, "description": "{}"}, "names no user"),
        ({"action": "o2fa_user_provisioned", "username": "", "timestamp": 1}, "username"),
        ({"txid": "t1", "user": "not an object", "access_device": None}, "none of"),
    ],
)
def test_malformed_records_name_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(RecordError, match=field):
        SOURCE.parse(record, RawRef(source="test.jsonl"))


def test_classify_failed_enrollment_and_unknown_result() -> None:
    assert isinstance(classify("duo_push", "denied", None, enrollment=True), Unmapped)
    assert isinstance(classify("duo_push", "pending", None, enrollment=False), Unmapped)


# -- every sample: the fixtures always, the real public records too when ../shared is present ---------


def test_every_sample_parses_or_says_why() -> None:
    """Every fixture record (all a plain clone has) and, when ../shared is next to the repo, every real public
    sample: each detected as Duo, then events, an Unmapped "duo: ..." or a RecordError naming its field."""
    outcomes = folder_outcomes(FIXTURES, SOURCE)
    assert undetected(FIXTURES, SOURCE) == []
    assert tally(outcomes) == {  # (records giving events, unmapped, record errors)
        "admin-own.jsonl": (6, 3, 0),
        "authlogs-envelope.json": (2, 0, 0),
        "authlogs-v1-handmade.jsonl": (6, 0, 0),
        "authlogs-v2-handmade.jsonl": (13, 0, 0),
        "authlogs-v2-own.jsonl": (5, 0, 0),
        "panther-admin.jsonl": (23, 2, 0),
        "panther-authlogs.jsonl": (0, 0, 10),  # Panther trimmed the times away
        "telephony-offline-own.jsonl": (2, 2, 0),
    }
    assert {str(o) for o in outcomes.values() if isinstance(o, RecordError)} == {
        "isotimestamp/timestamp: missing"
    }
    approved = outcomes[("authlogs-v2-own.jsonl", 1)]  # the shape of the Elastic record checked below
    assert isinstance(approved, list)
    assert (approved[0].kind, approved[0].identity) == (EventKind.PUSH_APPROVED, "m.rivera@example.org")
    assert (approved[0].ip, approved[0].responder_ip) == ("198.51.100.23", "203.0.113.77")
    assert approved[0].time == _utc("2024-03-05T09:14:07.512300+00:00")
    telephony = outcomes[("telephony-offline-own.jsonl", 2)]
    assert isinstance(telephony, Unmapped) and telephony.reason == "duo: telephony log"
    if SHARED.exists():
        _check_the_shared_samples()


def _check_the_shared_samples() -> None:
    outcomes: dict[tuple[str, int], Event | str] = {}
    for path in sorted(SHARED.glob("*.jsonl")):
        for item in read_file(path):
            assert item.record is not None, item.error
            assert SOURCE.matches(item.record), f"{item.where}: not detected as Duo"
            try:
                result = SOURCE.parse(item.record, RawRef(source=item.source, position=item.position))
            except RecordError as exc:
                outcomes[(path.name, item.position)] = f"error: {exc}"
                continue
            if isinstance(result, Unmapped):
                assert result.reason.startswith("duo: "), item.where
                outcomes[(path.name, item.position)] = result.reason
            else:
                assert len(result) == 1
                outcomes[(path.name, item.position)] = result[0]
    assert len(outcomes) == 15 + 28 + 4
    assert all(outcome != "error: " for outcome in outcomes.values())  # every error names its field

    approved = outcomes[("authlogs-v2.jsonl", 1)]
    assert isinstance(approved, Event)
    assert approved.kind is EventKind.PUSH_APPROVED
    assert (approved.ip, approved.responder_ip) == ("89.160.20.156", "192.168.225.254")
    assert approved.geo is not None
    assert (approved.geo.country, approved.geo.city) == ("United States", "Ann Arbor")
    assert approved.identity == "narroway@example.com"
    assert approved.time == _utc("2020-02-13T18:56:20.351346+00:00")
    fraud = outcomes[("authlogs-v2.jsonl", 2)]
    assert isinstance(fraud, Event)
    assert (fraud.kind, fraud.identity) == (EventKind.FRAUD_REPORTED, "narroway")
    denied = outcomes[("authlogs-v2.jsonl", 3)]
    assert isinstance(denied, Event)
    assert (denied.kind, denied.reason) == (EventKind.PUSH_DENIED, "user_mistake")
    remembered = outcomes[("authlogs-v2.jsonl", 5)]
    assert isinstance(remembered, Event)
    assert (remembered.kind, remembered.factor) == (EventKind.MFA_SUCCESS, Factor.REMEMBERED_DEVICE)
    assert outcomes[("authlogs-v2.jsonl", 6)] == "error: isotimestamp/timestamp: missing"
    login = outcomes[("administrator.jsonl", 1)]
    assert isinstance(login, Event)
    assert (login.kind, login.ip, login.factor) == (EventKind.SIGNIN_SUCCESS, "1.2.3.4", Factor.DUO_PUSH)
    login_error = outcomes[("administrator.jsonl", 2)]
    assert isinstance(login_error, Event)
    assert (login_error.kind, login_error.identity) == (EventKind.SIGNIN_FAILURE, "narroway@example.com")
    assert outcomes[("telephony-and-offline.jsonl", 2)] == "duo: telephony log"
    offline = outcomes[("telephony-and-offline.jsonl", 4)]
    assert isinstance(offline, Event)
    assert (offline.kind, offline.identity) == (EventKind.FACTOR_ENROLLED, "narroway")
