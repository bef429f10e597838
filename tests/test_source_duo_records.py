"""Duo records as real tenants write them: addresses with ports, a phone number as an admin action's
object, one of the two timestamps garbled. Records are built from our own fixtures (``fixtures/duo``, in
the Elastic / Sekoia shapes) with the field changed; the forms of the IP field follow Duo's access-device
``ip`` as collectors have been seen to pass it on (FIELDS.md: "may carry a port")."""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any

import pytest

from pushguard.model import Event, EventKind, Factor, PrincipalType, RawRef
from pushguard.sources.base import RecordError, Unmapped, ip_or_none
from pushguard.sources.duo import SOURCE
from pushguard.sources.duo_admin import is_phone_number
from tests.conftest import FIXTURES

_AUTH = json.loads((FIXTURES / "duo" / "authlogs-v2-own.jsonl").read_text().splitlines()[0])
_ADMIN = [json.loads(line) for line in (FIXTURES / "duo" / "admin-own.jsonl").read_text().splitlines()]


def _parse(record: dict[str, Any]) -> list[Event] | Unmapped:
    return SOURCE.parse(record, RawRef(source="test.jsonl", position=1))


def _one(record: dict[str, Any]) -> Event:
    result = _parse(record)
    assert isinstance(result, list) and len(result) == 1, result
    return result[0]


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:52144", "203.0.113.7"),
        ("[2001:DB8::7]:52144", "2001:db8::7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("203.0.113.7 port 52144", "203.0.113.7"),
        ("2001:db8::7 port 52144", "2001:db8::7"),
        ("2001:0db8:0000:0000:0000:0000:0000:0007", "2001:db8::7"),  # a bare IPv6 keeps its last group
        ("-", None),
        ("REDACTED", None),
        ("host.example.org:443", None),
    ],
)
def test_duo_addresses_are_normalised_like_the_other_vendors(written: str, address: str | None) -> None:
    record = deepcopy(_AUTH)
    record["access_device"]["ip"] = written
    record["auth_device"]["ip"] = written
    event = _one(record)
    assert event.ip == address
    assert event.responder_ip == address
    assert ip_or_none(written) == address


def test_admin_activating_push_on_a_phone_files_it_under_the_administrator() -> None:
    event = _one(_ADMIN[3])  # admin_reactivates_duo_push: object is the phone
    assert event.kind is EventKind.FACTOR_ENROLLED and event.factor is Factor.DUO_PUSH
    assert event.identity == "m.rivera@example.org"
    assert event.subject is not None and event.subject.type is PrincipalType.ADMIN
    assert event.factor_id == "+351 555 0199"


@pytest.mark.parametrize(
    "action", ["admin_activate_duo_push", "activation_send_link", "activation_create_link"]
)
def test_a_phone_number_is_never_an_identity(action: str) -> None:
    """The documented shape of admin_activate_duo_push: the phone number as ``object``; without a user
    named in the description the record is counted as not mapped."""
    record = deepcopy(_ADMIN[3])
    record["action"] = action
    record["object"] = "+13135559542"
    record["description"] = json.dumps({"phone": "+13135559542"})
    result = _parse(record)
    assert isinstance(result, Unmapped)
    assert result.reason == f"duo: admin action {action} names no user"


def test_an_activation_link_naming_its_user_keeps_the_user_and_the_phone() -> None:
    record = deepcopy(_ADMIN[4])  # activation_send_link
    record["object"] = "+351 555 0199"
    record["description"] = json.dumps({"username": "m.rivera@example.org"})
    event = _one(record)
    assert event.identity == "m.rivera@example.org"
    assert event.factor_id == "+351 555 0199"


def test_a_bypass_code_for_a_numeric_username_is_still_that_user() -> None:
    record = {
        "action": "bypass_create",
        "description": json.dumps({"bypass": "", "count": 1, "valid_secs": 3600}),
        "isotimestamp": "2024-03-07T02:30:00+00:00",
        "object": "20418873",  # an employee number: digits alone are a username, not a phone
        "timestamp": 1709778600,
        "username": "Dana Helpdesk",
    }
    event = _one(record)
    assert event.kind is EventKind.BYPASS_ISSUED and event.identity == "20418873"


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("+13135559542", True),
        ("+1 313-555-9542", True),
        ("555-123-4567", True),
        ("(313) 555 9542", True),
        ("20418873", False),
        ("m.rivera@example.org", False),
        ("Staff", False),
        ("+1", False),
    ],
)
def test_what_reads_as_a_phone_number(text: str, phone: bool) -> None:
    assert is_phone_number(text) is phone


_WHEN = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("iso", "epoch"),
    [
        ("2024-03-05T08:00:00+00:00", "garbled"),
        ("2024-03-05T08:00:00+00:00", None),
        ("2024-13-45Tgarbled", 1709625600),
        ("", 1709625600),
        (None, 1709625600),
    ],
)
def test_either_timestamp_serves_when_the_other_is_garbled(iso: Any, epoch: Any) -> None:
    auth = deepcopy(_AUTH)
    auth["isotimestamp"], auth["timestamp"] = iso, epoch
    admin = deepcopy(_ADMIN[0])
    admin["isotimestamp"], admin["timestamp"] = iso, epoch
    assert _one(auth).time == _WHEN
    assert _one(admin).time == _WHEN


def test_both_timestamps_garbled_is_a_record_error_naming_the_first() -> None:
    auth = deepcopy(_AUTH)
    auth["isotimestamp"], auth["timestamp"] = "yesterday", "garbled"
    with pytest.raises(RecordError, match="isotimestamp"):
        _parse(auth)
    auth["isotimestamp"], auth["timestamp"] = None, None
    with pytest.raises(RecordError, match="isotimestamp/timestamp: missing"):
        _parse(auth)
