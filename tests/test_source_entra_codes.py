"""Entra sign-in error codes: interrupts are not failures, only credential failures feed password spray.

Records are Graph ``signIn`` resources in the shape of ``fixtures/entra/signin-graph-beta-handmade.json``
(itself the shape of the Sekoia Graph sample) with the code and wording Microsoft's AADSTS table gives;
the Microsoft service-principal record follows Azure Monitor's table reference (no public sample)."""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.enrich import AliasMap
from pushguard.flow import analyze
from pushguard.model import EventKind, PrincipalType, RawRef, UserKind
from pushguard.sources.base import Unmapped
from pushguard.sources.entra import SOURCE
from pushguard.sources.entra_codes import SIGNIN_CODES
from tests.conftest import FIXTURES

_GRAPH = json.loads((FIXTURES / "entra" / "signin-graph-beta-handmade.json").read_text())["value"]
_INTERRUPT_KINDS = {EventKind.MFA_REQUIRED, EventKind.SIGNIN_INTERRUPTED}


def _signin(
    code: int, reason: str, *, user: str = "mara.lind@contoso-example.com", n: int = 0
) -> dict[str, Any]:
    record: dict[str, Any] = deepcopy(_GRAPH[3])  # the 50074 record: no MFA steps of its own
    record["id"] = f"c3000003-0000-4000-8000-{n:012d}"
    record["userPrincipalName"] = user
    record["userId"] = f"0f3e9a7c-0000-4000-8000-{n:012d}"
    record["status"] = {"errorCode": code, "failureReason": reason, "additionalDetails": None}
    record.pop("authenticationDetails", None)
    record.pop("mfaDetail", None)
    return record


def _kind(code: int, reason: str = "a reason") -> EventKind | str:
    result = SOURCE.parse(_signin(code, reason), RawRef(source="test", position=1))
    return result.reason if isinstance(result, Unmapped) else result[0].kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (50140, EventKind.SIGNIN_INTERRUPTED),  # "Stay signed in?"
        (50199, EventKind.SIGNIN_INTERRUPTED),
        (50125, EventKind.SIGNIN_INTERRUPTED),
        (50058, EventKind.SIGNIN_INTERRUPTED),
        (50097, EventKind.SIGNIN_INTERRUPTED),
        (81010, EventKind.SIGNIN_INTERRUPTED),
        (50074, EventKind.MFA_REQUIRED),
        (50076, EventKind.MFA_REQUIRED),
        (50072, EventKind.MFA_REQUIRED),
        (50079, EventKind.MFA_REQUIRED),
        (50158, EventKind.MFA_REQUIRED),  # external security challenge
        (50126, EventKind.SIGNIN_FAILURE),
        (50053, EventKind.SIGNIN_FAILURE),
        (50055, EventKind.SIGNIN_FAILURE),
        (50056, EventKind.SIGNIN_FAILURE),
        (50034, EventKind.SIGNIN_FAILURE),
        (53003, EventKind.ACCESS_BLOCKED),
        (53000, EventKind.ACCESS_BLOCKED),
        (53001, EventKind.ACCESS_BLOCKED),
        (530032, EventKind.ACCESS_BLOCKED),
        (50057, EventKind.ACCESS_BLOCKED),  # account disabled: refused by state, not by the password
    ],
)
def test_each_code_means_what_microsoft_documents(code: int, kind: EventKind) -> None:
    assert _kind(code) is kind


def test_an_unknown_code_is_counted_not_taken_for_a_password_failure() -> None:
    assert _kind(65001) == "entra: sign-in error code 65001 (not in pushguard's table)"


def test_the_table_says_what_each_code_means() -> None:
    allowed = {
        EventKind.SIGNIN_FAILURE,
        EventKind.MFA_REQUIRED,
        EventKind.SIGNIN_INTERRUPTED,
        EventKind.ACCESS_BLOCKED,
    }
    for code, (kind, meaning) in SIGNIN_CODES.items():
        assert kind in allowed, code
        assert len(meaning) > 10, code
    assert 0 not in SIGNIN_CODES and 500121 not in SIGNIN_CODES  # success, and MFA failed by its wording


def _office(tmp_path: Path, code: int, reason: str) -> Path:
    """Twelve people behind one office address, each hitting ``code`` once within the hour."""
    start = datetime(2024, 5, 7, 8, 0, tzinfo=UTC)
    lines = []
    for n in range(12):
        record = _signin(code, reason, user=f"user{n}@contoso-example.com", n=n)
        record["createdDateTime"] = (start + timedelta(minutes=4 * n)).isoformat().replace("+00:00", "Z")
        record["ipAddress"] = "198.51.100.40"
        lines.append(json.dumps(record))
    path = tmp_path / f"signins-{code}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_office_hitting_keep_me_signed_in_is_no_password_spray(tmp_path: Path) -> None:
    kmsi = analyze([_office(tmp_path, 50140, "'Keep me signed in' interrupt")], aliases=AliasMap())
    assert kmsi.stats.events == 12
    assert not [f for f in kmsi.findings if f.detector == "password_spray"]
    # the same twelve with wrong passwords is a spray: the test above can fail
    wrong = analyze([_office(tmp_path, 50126, "Invalid username or password")], aliases=AliasMap())
    assert [f for f in wrong.findings if f.detector == "password_spray"]


def test_microsoft_service_principal_sign_ins_are_workloads() -> None:
    """MicrosoftServicePrincipalSignInLogs: Microsoft's own first-party service principals; the record
    carries no status, only ``resultSignature``."""
    from tests.test_source_entra import _event

    event = _event("signin-azure-monitor-handmade.jsonl", 7)
    assert event.kind is EventKind.SIGNIN_SUCCESS
    assert event.user_kind is UserKind.NHI
    assert event.subject is not None and event.subject.type is PrincipalType.SERVICE
    assert event.subject.id == "3c4d5e6f-0000-4000-8000-00000000a0a0"
    assert event.identity == "office 365 exchange online"
    assert event.interactive is False
    assert event.event_id == "TW9ja1Rva2VuSWQwMDAwMDAwMDA3"  # no id: the unique token identifier
