"""OCSF source (Authentication 3002, Account Change 3001) and the OCSF 1.3 export, field by field.

Fixtures (tests/fixtures/ocsf, see PROVENANCE.md there) are our own records: the ``authentication-3002``
and ``account-change-3001`` files copy the *shape* of the ocsf/examples and Sekoia samples (which have no
licence) with our own values; ``mfa-hand-made.jsonl`` was written from the OCSF schema documentation
(``events/iam/authentication.json``, ``events/iam/account_change.json``, the ``auth_factor`` object) and
holds OCSF 1.3 Authentication records with ``auth_factors`` (push approved / declined / fraud /
unanswered, SMS, security key), since no public sample carries MFA factors.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.model import (
    Device,
    Event,
    EventKind,
    Factor,
    Geo,
    Principal,
    PrincipalType,
    Provider,
    RawRef,
    UserKind,
)
from pushguard.report.ocsf_export import event_to_ocsf
from pushguard.sources.base import RecordError, Unmapped
from pushguard.sources.ocsf import SOURCE
from pushguard.sources.readers import read_file
from tests.helpers import folder_outcomes, tally, undetected

FIXTURES = Path(__file__).parent / "fixtures" / "ocsf"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "samples" / "ocsf"
REF = RawRef(source="test", position=1)


def _records(name: str) -> list[dict[str, Any]]:
    records = []
    for item in read_file(FIXTURES / name):
        assert item.record is not None, item.error
        records.append(item.record)
    return records


def _one(record: dict[str, Any]) -> Event:
    result = SOURCE.parse(record, REF)
    assert not isinstance(result, Unmapped), result
    assert len(result) == 1
    return result[0]


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


AUTH = _records("authentication-3002.jsonl")
ACCOUNT = _records("account-change-3001.jsonl")
MFA = _records("mfa-hand-made.jsonl")


# -- detection --------------------------------------------------------------------------------------


def test_matches_ocsf_records_only() -> None:
    assert all(SOURCE.matches(r) for r in AUTH + ACCOUNT + MFA)
    assert SOURCE.provider is Provider.OCSF
    assert not SOURCE.matches({"eventType": "user.session.start", "published": "2025-01-01T00:00:00Z"})
    assert not SOURCE.matches({"class_uid": 3002})  # no metadata: not an OCSF event


# -- shaped like the public samples -----------------------------------------------------------------


def test_okta_derived_logon() -> None:
    event = _one(AUTH[0])
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.provider is Provider.OCSF
    assert event.identity == "maria.lopez@example.org"
    assert event.event_id == "5b0c7a52-1111-4c1e-9d2a-000000000001"
    assert event.time == _utc(2025, 1, 2, 10, 0, 0)  # `time` in seconds, as the Okta mappings write it
    assert event.ip == "198.51.100.23"
    assert event.geo is not None
    assert event.geo.city == "Lyon"
    assert event.geo.country == "France"
    assert event.geo.lat == pytest.approx(45.7578)
    assert event.geo.lon == pytest.approx(4.832)
    assert event.geo.asn == 64500
    assert event.geo.as_org == "EXAMPLE-NET"
    assert event.geo.accuracy_km == 50.0
    assert event.factor is None
    assert event.reason is None
    assert event.session_id == "idxExampleSession0001"
    assert event.app == "/idp/idx/identify"
    assert event.subject == Principal(
        id="00uexample0maria0001", login="maria.lopez@example.org", type=PrincipalType.USER
    )
    assert event.device is not None
    assert event.device.id == "guoexampledevice0001"
    assert event.device.os == "Mac OS X"
    assert event.device.kind == "Computer"  # device.type Unknown → src_endpoint.type
    assert event.device.user_agent is not None and "Safari" in event.device.user_agent
    assert event.raw == RawRef(source="test", position=1, vendor_type="Okta System Log: user.session.start")


def test_logon_without_status_is_unmapped() -> None:
    result = SOURCE.parse(AUTH[1], REF)
    assert isinstance(result, Unmapped)
    assert result.reason == "ocsf: class 3002 activity Logon status unknown"


@pytest.mark.parametrize(
    ("index", "when", "vendor_type"),
    [(2, _utc(2025, 1, 2, 12, 0, 0), "AwsConsoleSignIn"), (3, _utc(2025, 1, 2, 13, 0, 0), None)],
)
def test_aws_console_login_borrows_actor_name(index: int, when: datetime, vendor_type: str | None) -> None:
    event = _one(AUTH[index])
    # is_mfa (1.1) / mfa (rc.2) without a named factor: a sign-in, not an MFA verification
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.identity == "ravi"
    assert event.subject is not None and event.subject.id is not None
    assert event.actor is not None and event.actor.tenant == "210987654321"
    assert event.time == when  # milliseconds
    assert event.ip == "203.0.113.77"
    assert event.geo is None
    assert event.factor is None
    assert event.app == "https://console.aws.amazon.com/console/home"
    assert event.raw is not None and event.raw.vendor_type == vendor_type


def test_windows_logon_failure() -> None:
    event = _one(AUTH[4])
    assert event.kind is EventKind.SIGNIN_FAILURE
    assert event.identity == "backupadmin"
    assert event.ip is None  # "-"
    assert event.geo is None
    assert event.reason == "Unknown user name or bad password."
    assert event.detail == "NTLM"
    assert event.time == _utc(2025, 1, 2, 13, 0, 0)
    assert event.device is not None and event.device.name == "WS-EXAMPLE-07"
    assert event.actor is not None and event.actor.login is None  # "-" is no name
    assert event.raw is not None and event.raw.vendor_type == "Microsoft Windows"


def test_okta_derived_lock() -> None:
    event = _one(ACCOUNT[0])
    assert event.kind is EventKind.ACCOUNT_LOCKED
    assert event.identity == "sam.taylor@example.org"
    assert event.event_id == "9e8d7c6b-4444-4a3b-8c2d-000000000006"
    assert event.time == _utc(2025, 1, 2, 15, 0, 0)
    assert event.ip == "203.0.113.9"
    assert event.geo is not None
    assert (event.geo.city, event.geo.country) == ("Denver", "United States")
    assert event.geo.lat == pytest.approx(39.7392)
    assert event.reason == "LOCKED_OUT"  # Okta's outcome.reason, left in unmapped by the mapping
    assert event.factor is None
    assert event.raw is not None and event.raw.vendor_type == "Okta System Log: user.account.lock"


@pytest.mark.parametrize("index", [1, 2])
def test_account_create_is_unmapped(index: int) -> None:
    result = SOURCE.parse(ACCOUNT[index], REF)
    assert isinstance(result, Unmapped)
    assert result.reason == "ocsf: class 3001 activity Create"


# -- hand-made MFA records (auth_factors) --------------------------------------------------------------


def test_push_approved_with_responder_device() -> None:
    event = _one(MFA[0])
    assert event.kind is EventKind.PUSH_APPROVED
    assert event.factor is Factor.OKTA_VERIFY_PUSH  # the push, not the password listed first
    assert event.identity == "kim.nguyen@example.org"
    assert event.event_id == "hm-0001"
    assert event.time == _utc(2025, 1, 3, 11, 0, 0)
    assert event.ip == "198.51.100.7"
    assert event.geo is not None
    assert (event.geo.city, event.geo.country, event.geo.asn) == ("Chicago", "US", 64502)
    assert event.geo.lat == pytest.approx(41.8781)
    assert event.responder_ip == "192.0.2.55"
    assert event.responder_geo is not None and event.responder_geo.city == "Boston"
    assert event.responder_device is not None
    assert (event.responder_device.id, event.responder_device.os) == ("phone-kim-01", "iOS")
    assert event.app == "Example CRM"
    assert event.session_id == "idxExampleSession0003"
    assert event.reason is None


@pytest.mark.parametrize(
    ("index", "kind", "factor", "reason"),
    [
        (1, EventKind.PUSH_DENIED, Factor.DUO_PUSH, "user_declined"),
        (2, EventKind.FRAUD_REPORTED, Factor.DUO_PUSH, "user_marked_fraud"),
        (3, EventKind.PUSH_SENT, Factor.MS_AUTHENTICATOR_PUSH, None),
        (4, EventKind.MFA_FAILURE, Factor.SMS, "INVALID_CODE"),
        (5, EventKind.MFA_SUCCESS, Factor.WEBAUTHN, None),
    ],
)
def test_mfa_outcomes(index: int, kind: EventKind, factor: Factor, reason: str | None) -> None:
    event = _one(MFA[index])
    assert event.kind is kind
    assert event.factor is factor
    assert event.reason == reason
    assert event.identity == "kim.nguyen@example.org"
    assert event.ip == "198.51.100.7"
    assert event.time == _utc(2025, 1, 3, 11, index, 0)


def test_push_from_unknown_vendor_is_still_a_push() -> None:
    record = copy.deepcopy(MFA[1])
    record["metadata"]["product"] = {"name": "Some IdP", "vendor_name": "Example"}
    event = _one(record)
    assert event.kind is EventKind.PUSH_DENIED
    assert event.factor is Factor.PUSH  # vendor-neutral push


@pytest.mark.parametrize(
    ("index", "kind", "factor", "detail"),
    [
        (6, EventKind.FACTOR_ENROLLED, Factor.OKTA_VERIFY_PUSH, None),
        (7, EventKind.PASSWORD_RESET, None, None),
        (8, EventKind.ACCOUNT_STATUS_CHANGED, None, "Unlock"),
        (9, EventKind.FACTOR_REMOVED, Factor.SMS, None),
    ],
)
def test_account_changes_by_an_admin(
    index: int, kind: EventKind, factor: Factor | None, detail: str | None
) -> None:
    event = _one(MFA[index])
    assert event.kind is kind
    assert event.factor is factor
    assert event.detail == detail
    assert event.identity == "kim.nguyen@example.org"
    assert event.actor is not None and event.actor.type is PrincipalType.ADMIN
    assert event.by_other


# -- ids and times ---------------------------------------------------------------------------------


def test_event_id_without_metadata_uid_is_a_stable_hash() -> None:
    record = copy.deepcopy(MFA[0])
    del record["metadata"]["uid"]
    first = _one(record).event_id
    reordered = dict(reversed(list(record.items())))
    assert first.startswith("ocsf-")
    assert _one(reordered).event_id == first
    record["time"] += 1
    assert _one(record).event_id != first


@pytest.mark.parametrize("value", [1735902000, 1735902000000, 1735902000.0])
def test_time_seconds_or_milliseconds(value: float) -> None:
    record = copy.deepcopy(MFA[0])
    record["time"] = value
    assert _one(record).time == _utc(2025, 1, 3, 11, 0, 0)


def test_time_dt_when_time_is_absent() -> None:
    record = copy.deepcopy(MFA[0])
    del record["time"]
    record["time_dt"] = "2025-01-03T11:00:00Z"
    assert _one(record).time == _utc(2025, 1, 3, 11, 0, 0)


def test_activity_from_type_uid() -> None:
    record = copy.deepcopy(MFA[0])
    del record["activity_id"]
    assert _one(record).kind is EventKind.PUSH_APPROVED


def test_other_classes_are_unmapped() -> None:
    record = copy.deepcopy(MFA[0])
    record["class_uid"] = 3005
    result = SOURCE.parse(record, REF)
    assert isinstance(result, Unmapped) and result.reason == "ocsf: class 3005"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("class_uid",), "3002", "class_uid"),
        (("activity_id",), "1", "activity_id"),
        (("status_id",), "ok", "status_id"),
        (("time",), None, "time"),
        (("time",), "yesterday", "time"),
        (("auth_factors",), {"factor_type_id": 5}, "auth_factors"),
        (("auth_factors", 1, "factor_type_id"), "5", "factor_type_id"),
        (("user",), None, "user"),
    ],
)
def test_malformed_records_name_the_field(path: tuple[Any, ...], value: Any, field: str) -> None:
    record = copy.deepcopy(MFA[0])
    target: Any = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    if path == ("user",):
        record["actor"] = {}
    with pytest.raises(RecordError, match=field):
        SOURCE.parse(record, REF)


# -- export and round trip -------------------------------------------------------------------------

_ALICE = Principal(id="00ualice", login="alice@example.org", display_name="Alice Example")
_ADMIN = Principal(id="00uadmin", login="admin@example.org", type=PrincipalType.ADMIN)
_GEO = Geo(lat=51.5072, lon=-0.1276, country="GB", city="London", accuracy_km=50.0, asn=64510, as_org="EX")


def _event(kind: EventKind, factor: Factor | None, **extra: Any) -> Event:
    fields: dict[str, Any] = {
        "provider": Provider.OKTA,
        "event_id": f"ev-{kind.value}",
        "time": datetime(2025, 2, 1, 8, 30, 15, 250000, tzinfo=UTC),
        "kind": kind,
        "identity": "alice@example.org",
        "subject": _ALICE,
        "actor": _ALICE,
        "ip": "198.51.100.99",
        "geo": _GEO,
        "factor": factor,
        "raw": RawRef(source="okta.jsonl", position=3, vendor_type="user.authentication.auth_via_mfa"),
    }
    fields.update(extra)
    return Event(**fields)


ROUND_TRIP = [
    _event(EventKind.PUSH_SENT, Factor.OKTA_VERIFY_PUSH),
    _event(
        EventKind.PUSH_APPROVED,
        Factor.DUO_PUSH,
        responder_ip="192.0.2.10",
        responder_device=Device(id="ph-1", os="Android 14", kind="Mobile"),
        device=Device(id="lap-1", os="Windows 11", managed=True, user_agent="UA/1.0", kind="Laptop"),
        app="Example CRM",
        session_id="sess-1",
        number_challenge=True,
    ),
    _event(EventKind.PUSH_DENIED, Factor.MS_AUTHENTICATOR_PUSH, reason="user_denied"),
    _event(EventKind.PUSH_TIMEOUT, Factor.OKTA_VERIFY_PUSH),
    _event(EventKind.FRAUD_REPORTED, Factor.DUO_PUSH),
    _event(EventKind.MFA_SUCCESS, Factor.OKTA_VERIFY_TOTP),
    _event(EventKind.MFA_FAILURE, Factor.SMS, reason="INVALID_CODE"),
    _event(EventKind.SIGNIN_SUCCESS, Factor.PASSWORD),
    _event(EventKind.SIGNIN_FAILURE, None, reason="INVALID_CREDENTIALS"),
    _event(EventKind.FACTOR_ENROLLED, Factor.WEBAUTHN, actor=_ADMIN, factor_id="fid-1"),
    _event(EventKind.FACTOR_REMOVED, Factor.VOICE, actor=_ADMIN),
    _event(EventKind.PASSWORD_RESET, None, actor=_ADMIN),
    _event(EventKind.PASSWORD_CHANGED, None),
    _event(EventKind.ACCOUNT_LOCKED, None, reason="LOCKED_OUT"),
    _event(EventKind.ACCOUNT_STATUS_CHANGED, None, detail="Disable", actor=_ADMIN),
    # kinds OCSF has no class for: carried by unmapped.pushguard
    _event(EventKind.MFA_REQUIRED, None),
    _event(EventKind.SIGNIN_INTERRUPTED, None, reason="50140: Keep me signed in interrupt"),
    _event(EventKind.ACCESS_BLOCKED, None),
    _event(EventKind.SESSION_REVOKED, None, actor=_ADMIN),
    _event(EventKind.FACTORS_RESET, None, actor=_ADMIN),
    _event(EventKind.BYPASS_ISSUED, Factor.TEMPORARY_ACCESS_PASS, actor=_ADMIN),
    _event(EventKind.PRIVILEGED_ACTION, None, detail="user.account.privilege.grant", actor=_ADMIN),
    _event(EventKind.RISK_DETECTED, None, vendor_risk="high", user_kind=UserKind.NHI),
]
# Kinds OCSF itself carries (class + activity + status + auth_factors), without pushguard's hints.
OCSF_CARRIES = frozenset(
    {
        EventKind.PUSH_SENT,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_TIMEOUT,
        EventKind.FRAUD_REPORTED,
        EventKind.MFA_SUCCESS,
        EventKind.MFA_FAILURE,
        EventKind.SIGNIN_SUCCESS,
        EventKind.SIGNIN_FAILURE,
        EventKind.FACTOR_ENROLLED,
        EventKind.FACTOR_REMOVED,
        EventKind.PASSWORD_RESET,
        EventKind.PASSWORD_CHANGED,
        EventKind.ACCOUNT_LOCKED,
        EventKind.ACCOUNT_STATUS_CHANGED,
    }
)


def _assert_same(back: Event, event: Event) -> None:
    assert back.kind is event.kind
    assert back.identity == event.identity
    assert back.time.replace(microsecond=0) == event.time.replace(microsecond=0)
    assert back.ip == event.ip
    assert back.factor is event.factor
    assert back.event_id == event.event_id


@pytest.mark.parametrize("event", ROUND_TRIP, ids=lambda e: e.kind.value)
def test_export_shape(event: Event) -> None:
    record = event_to_ocsf(event)
    msgspec.json.encode(record)  # plain JSON types only
    assert record["class_uid"] in (3001, 3002)
    assert record["category_uid"] == 3
    assert record["type_uid"] == record["class_uid"] * 100 + record["activity_id"]
    assert record["metadata"]["version"] == "1.3.0"
    assert record["metadata"]["product"] == {"name": "pushguard", "vendor_name": "pushguard"}
    assert record["metadata"]["uid"] == event.event_id
    assert record["metadata"]["original_time"] == "2025-02-01T08:30:15.250000Z"
    assert record["time"] == 1738398615250
    assert record["severity_id"] in (1, 2, 3, 4)
    assert record["user"]["name"] == "alice@example.org"
    assert record["src_endpoint"]["ip"] == "198.51.100.99"
    assert record["src_endpoint"]["location"] == {
        "city": "London",
        "country": "GB",
        "lat": 51.5072,
        "long": -0.1276,
    }
    assert record["src_endpoint"]["autonomous_system"] == {"number": 64510, "name": "EX"}
    assert record["unmapped"]["pushguard"]["kind"] == event.kind.value
    if record["class_uid"] == 3001:
        assert "auth_factors" not in record  # Account Change.auth_factors is OCSF 1.7, not 1.3


@pytest.mark.parametrize("event", ROUND_TRIP, ids=lambda e: e.kind.value)
def test_round_trip(event: Event) -> None:
    back = _one(event_to_ocsf(event))
    _assert_same(back, event)
    assert back.provider is Provider.OCSF
    assert back.subject is not None and back.subject.id == event.subject.id if event.subject else True
    assert back.reason == (event.reason or back.reason)
    assert back.detail == (event.detail or back.detail)
    assert back.user_kind is event.user_kind
    assert back.vendor_risk == event.vendor_risk
    assert back.geo is not None and back.geo.city == "London"


@pytest.mark.parametrize(
    "event", [e for e in ROUND_TRIP if e.kind in OCSF_CARRIES], ids=lambda e: e.kind.value
)
def test_round_trip_without_pushguard_hints(event: Event) -> None:
    """What OCSF itself says is enough for these kinds: drop our unmapped hints and the product name."""
    record = event_to_ocsf(event)
    del record["unmapped"]["pushguard"]
    record["metadata"]["product"] = {"name": "Other exporter", "vendor_name": "Example"}
    _assert_same(_one(record), event)


def test_round_trip_push_details() -> None:
    event = ROUND_TRIP[1]
    record = event_to_ocsf(event)
    factor = record["auth_factors"][0]
    assert factor["factor_type_id"] == 5
    assert factor["provider"] == "Duo"
    assert factor["device"]["ip"] == "192.0.2.10"
    assert record["is_mfa"] is True
    assert record["device"]["is_managed"] is True
    assert record["service"] == {"name": "Example CRM"}
    back = _one(record)
    assert back.responder_ip == "192.0.2.10"
    assert back.responder_device is not None and back.responder_device.id == "ph-1"
    assert back.device is not None and (back.device.id, back.device.managed) == ("lap-1", True)
    assert back.device.user_agent == "UA/1.0"
    assert back.app == "Example CRM"
    assert back.session_id == "sess-1"
    assert back.number_challenge is True


# -- every sample: the fixtures always, the real public records too when ../shared is present ---------


def test_every_sample_parses_or_says_why() -> None:
    """Every fixture record (all a plain clone has) and, when ../shared is next to the repo, every public
    sample: each detected as OCSF, then events or an Unmapped "ocsf: ..." (no fixture is malformed)."""
    outcomes = folder_outcomes(FIXTURES, SOURCE)
    assert undetected(FIXTURES, SOURCE) == []
    assert tally(outcomes) == {  # (records giving events, unmapped, record errors)
        "account-change-3001.jsonl": (1, 2, 0),
        "authentication-3002.jsonl": (4, 1, 0),
        "mfa-hand-made.jsonl": (10, 0, 0),
    }
    unmapped = sorted(o.reason for o in outcomes.values() if isinstance(o, Unmapped))
    assert unmapped == [
        "ocsf: class 3001 activity Create",
        "ocsf: class 3001 activity Create",
        "ocsf: class 3002 activity Logon status unknown",  # the GitHub Logon with no status, as in the sample
    ]
    if SHARED.exists():
        _check_the_shared_samples()


def _check_the_shared_samples() -> None:
    results: dict[tuple[str, int], Any] = {}
    for path in sorted(SHARED.glob("*.jsonl")):
        for item in read_file(path):
            assert item.record is not None, item.error
            assert SOURCE.matches(item.record)
            results[(path.name, item.position)] = SOURCE.parse(
                item.record, RawRef(source=item.source, position=item.position)
            )
    okta_logon = results[("authentication-3002.jsonl", 1)]
    assert isinstance(okta_logon, list)
    event = okta_logon[0]
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.identity == "john.doe@example.com"
    assert event.ip == "10.0.0.1"
    assert event.geo is not None
    assert (event.geo.city, event.geo.country) == ("New York", "United States")
    assert event.geo.lat == pytest.approx(40.3157)
    assert event.time == _utc(2024, 8, 13, 15, 58, 20)
    assert event.event_id == "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a"
    assert isinstance(results[("authentication-3002.jsonl", 2)], Unmapped)
    for line in (3, 4, 5):
        aws = results[("authentication-3002.jsonl", line)]
        assert isinstance(aws, list)
        assert (aws[0].kind, aws[0].identity, aws[0].ip) == (EventKind.SIGNIN_SUCCESS, "anaya", "192.0.2.0")
    windows = results[("authentication-3002.jsonl", 7)]
    assert isinstance(windows, list)
    assert (windows[0].kind, windows[0].identity) == (EventKind.SIGNIN_FAILURE, "administrator")
    assert windows[0].reason == "Unknown user name or bad password."
    lock = results[("account-change-3001.jsonl", 1)]
    assert isinstance(lock, list)
    assert lock[0].kind is EventKind.ACCOUNT_LOCKED
    assert lock[0].identity == "okta@okta-test.com"
    assert lock[0].ip == "1.1.1.1"
    assert lock[0].geo is not None and lock[0].geo.city == "Paris"
    assert lock[0].reason == "LOCKED_OUT"
    assert lock[0].time == _utc(2024, 9, 30, 10, 42, 16)
    for line in (2, 3, 4, 5):
        create = results[("account-change-3001.jsonl", line)]
        assert isinstance(create, Unmapped) and create.reason == "ocsf: class 3001 activity Create"
