"""The typed Okta path (JSON line → OktaLogEvent Struct → Event) against the plain one (JSON line → dict
→ Event): the same events, errors and unmapped reasons for every record, and the lines the typed decoder
must refuse are read the plain way."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.model import Provider
from pushguard.simulate.scenario import simulate
from pushguard.sources.base import Unmapped
from pushguard.sources.okta import SOURCE as OKTA
from pushguard.sources.okta_log_event import OktaLogEventLine
from pushguard.sources.readers import (
    Decoded,
    decode_json,
    jsonl_ranges,
    read_file,
    read_jsonl_range,
    read_records,
    read_records_range,
)
from tests.conftest import FIXTURES
from tests.typed_paths import mutated, run, typed_equals_plain, vendor_files

PUSH_SENT = json.loads((FIXTURES / "okta" / "handmade.jsonl").read_text().splitlines()[0])


def _typed_equals_plain(line: bytes) -> bool | None:
    return typed_equals_plain(OKTA, OKTA, line)


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "tenant"
    simulate(11, 60, 4, out)
    return out / "okta" / "system-log.jsonl"


@pytest.mark.parametrize(
    "path", vendor_files("okta"), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
)
def test_fixture_and_sample_files_read_the_same_both_ways(path: Path) -> None:
    assert run(list(read_records(path, Provider.OKTA)), Provider.OKTA) == run(
        list(read_file(path)), Provider.OKTA
    )
    assert run(list(read_records(path))) == run(list(read_file(path)))
    for line in path.read_bytes().splitlines():
        assert _typed_equals_plain(line) in (None, True), line[:200]


def test_simulated_tenant_reads_the_same_and_all_of_it_typed(tenant: Path) -> None:
    items = list(read_records(tenant))
    lines = tenant.read_bytes().count(b"\n")
    assert lines > 500
    assert all(isinstance(item, Decoded) for item in items)  # a silent fall back would fail here
    assert len(items) == lines
    typed, plain = run(items), run(list(read_file(tenant)))
    assert typed == plain
    assert typed[2] == 0 and not typed[4]  # every record an event, as the simulator promises


def test_handmade_records_take_the_typed_path() -> None:
    items = list(read_records(FIXTURES / "okta" / "handmade.jsonl"))
    assert items and all(isinstance(item, Decoded) for item in items)


def test_parallel_ranges_read_the_same_both_ways(tenant: Path) -> None:
    ranges = jsonl_ranges(tenant, 3, 1)
    assert ranges is not None and len(ranges) == 3
    typed = [item for start, end in ranges for item in read_records_range(tenant, start, end)]
    plain = [item for start, end in ranges for item in read_jsonl_range(tenant, start, end)]
    # The first line of a range is read the plain way: it names the decoder of the rest.
    assert sum(isinstance(item, Decoded) for item in typed) == len(plain) - len(ranges)
    assert run(typed) == run(plain)


def _line(record: object) -> bytes:
    return json.dumps(record).encode()


FALLBACKS: dict[str, bytes] = {
    "broken JSON": _line(PUSH_SENT)[:-9],
    "client is a string": _line({**PUSH_SENT, "client": "10.0.0.1"}),
    "target is an object": _line({**PUSH_SENT, "target": {"type": "User"}}),
    "a target is a string": _line({**PUSH_SENT, "target": ["x", *PUSH_SENT["target"]]}),
    "debugData is a list": _line({**PUSH_SENT, "debugContext": {"debugData": [1]}}),
    "lower-cased top-level keys": _line({key.lower(): value for key, value in PUSH_SENT.items()}),
    "eventType not a string": _line({**PUSH_SENT, "eventType": 5}),
    "eventType empty": _line({**PUSH_SENT, "eventType": ""}),
    "no published": _line({k: v for k, v in PUSH_SENT.items() if k != "published"}),
    "empty actor": _line({**PUSH_SENT, "eventType": "user.session.start", "actor": {}}),
    "actor of unknown keys": _line({**PUSH_SENT, "actor": {"detail": 1}}),
    "event hook envelope": _line({"eventType": "com.okta.event_hook", "data": {"events": [PUSH_SENT]}}),
    "Graph list envelope": _line({"value": [PUSH_SENT], "eventType": "x", "published": "y"}),
    "OCSF record": _line({**PUSH_SENT, "class_uid": 3002, "metadata": {"version": "1.3.0"}}),
    "array of records": _line([PUSH_SENT, PUSH_SENT]),
    "lone surrogate escape": _line(PUSH_SENT).replace(b'"Salesforce"', b'"Sales\\ud800force"'),
    "surrogate pair escape": _line(PUSH_SENT).replace(b'"Salesforce"', b'"Sales\\ud83d\\ude00force"'),
    "invalid UTF-8 in a skipped field": _line({**PUSH_SENT, "severity": "@"}).replace(b"@", b"\xff"),
    "an Entra sign-in": _line({"createdDateTime": "2026-03-02T08:00:00Z", "userPrincipalName": "a@b.c"}),
    "a number": b"5",
    "no vendor's shape": b'{"eventName": "x"}',
}
# Records the typed decoder takes, whose odd values the mapping reads as the dict code did.
TAKEN: dict[str, bytes] = {
    "odd leaves": _line({**PUSH_SENT, "uuid": 12, "outcome": {"result": True, "reason": 0}}),
    "null parts": _line({**PUSH_SENT, "client": None, "target": None, "securityContext": None}),
    "actor with a null id": _line({**PUSH_SENT, "actor": {"id": None, "type": "User"}}),
    "published a number": _line({**PUSH_SENT, "published": 1772442000}),
    "published null": _line({**PUSH_SENT, "published": None}),
    "duplicate key": _line(PUSH_SENT)[:-1] + b', "uuid": "other"}',
    "unmapped eventType": _line({**PUSH_SENT, "eventType": "system.org.rate_limit.warning"}),
    "unmapped outcome": _line({**PUSH_SENT, "eventType": "user.session.start", "outcome": {"result": 1}}),
    # the pre-filter takes these by their type alone, where the full decode would refuse the record
    "unmapped, empty actor": _line({**PUSH_SENT, "eventType": "app.oauth2.as.token.grant", "actor": {}}),
    "unmapped, odd client": _line({**PUSH_SENT, "eventType": "app.user_membership.add", "client": "x"}),
    "unmapped policy outcome": _line(
        {**PUSH_SENT, "eventType": "policy.evaluate_sign_on", "outcome": {"result": "ALLOW"}}
    ),
}


@pytest.mark.parametrize("name", FALLBACKS)
def test_lines_the_typed_decoder_refuses(name: str) -> None:
    assert OKTA.decode_line(FALLBACKS[name]) is None


@pytest.mark.parametrize("name", TAKEN)
def test_odd_lines_the_typed_decoder_takes_parse_as_plain(name: str) -> None:
    assert _typed_equals_plain(TAKEN[name]) is True


def test_unmapped_types_are_decoded_by_their_type_alone() -> None:
    """The pre-filter: a record no mapping takes is decoded as its type and outcome only; one a mapping
    takes (an MFA verification, a sign-on policy's challenge) as the whole record."""
    assert isinstance(OKTA.decode_line(TAKEN["unmapped eventType"]), Unmapped)
    assert isinstance(OKTA.decode_line(TAKEN["unmapped policy outcome"]), Unmapped)
    challenge = {**PUSH_SENT, "eventType": "policy.evaluate_sign_on", "outcome": {"result": "CHALLENGE"}}
    for mapped in (PUSH_SENT, challenge, {**PUSH_SENT, "eventType": "user.authentication.auth_via_mfa"}):
        assert isinstance(OKTA.decode_line(_line(mapped)), OktaLogEventLine)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_file_of_odd_lines_counts_the_same_both_ways(tmp_path: Path, compress: bool) -> None:
    good = _line(PUSH_SENT)
    body = b"\n".join([good, b"", *FALLBACKS.values(), b"  ", *TAKEN.values(), good]) + b"\n"
    path = tmp_path / "odd.jsonl"
    path.write_bytes(gzip.compress(body) if compress else body)
    items = list(read_records(path))
    typed_lines = [item.position for item in items if isinstance(item, Decoded)]
    first_taken = 2 + len(FALLBACKS) + 2
    assert typed_lines == [1, *range(first_taken, first_taken + len(TAKEN)), first_taken + len(TAKEN)]
    typed, plain = run(items), run(list(read_file(path)))
    assert typed == plain
    assert typed[2] > 5 and typed[4]  # errors and unmapped records are there, counted the same


def test_another_provider_asked_for_gets_no_typed_lines(tenant: Path) -> None:
    assert not any(isinstance(item, Decoded) for item in read_records(tenant, Provider.ENTRA))
    assert run(list(read_records(tenant, Provider.ENTRA)), Provider.ENTRA) == run(
        list(read_file(tenant)), Provider.ENTRA
    )


def test_a_file_led_by_another_vendor_is_read_plain(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(FALLBACKS["an Entra sign-in"] + b"\n" + _line(PUSH_SENT) + b"\n")
    assert [isinstance(item, Decoded) and item.parser is OKTA for item in read_records(path)] == [
        False,
        False,
    ]
    assert [isinstance(item, Decoded) for item in read_records(path, Provider.OKTA)] == [False, True]


_ODD_VALUES: list[Any] = [
    None,
    {},
    [],
    0,
    1,
    2.5,
    True,
    False,
    "",
    " ",
    "unknown",
    "User",
    "AppInstance",
    "AuthenticatorEnrollment",
    "SUCCESS",
    "DENY",
    {"id": None},
    [{}],
    [{"type": "User", "alternateId": "X@Y"}],
    "{New IP=POSITIVE}",
    '{"level":"HIGH"}',
    "OKTA_VERIFY_PUSH",
    "ip address",
    2**40,
    "2026-03-02T08:00:00Z",
]


def test_mutated_records_parse_the_same_both_ways() -> None:
    """Fields replaced by values of every JSON type, or dropped: whenever the typed decoder takes the
    line, it parses as the dict does."""
    rng = random.Random(7)
    lines = [line for path in vendor_files("okta") for line in path.read_bytes().splitlines() if line.strip()]
    records = [decode_json(line) for line in lines]
    encoder = msgspec.json.Encoder()
    taken = Counter[bool]()
    for _ in range(3000):
        line = encoder.encode(mutated(rng.choice(records), rng, _ODD_VALUES))
        same = _typed_equals_plain(line)
        taken[same is not None] += 1
        assert same in (None, True), line
    assert taken[True] > 1000  # most mutations keep the shape the typed decoder reads


def test_depth_is_checked_only_where_the_content_is_read() -> None:
    """The known difference (``sources.typed``): a record of a type no mapping takes is counted as
    unmapped however deep the fields it never reads nest; one a mapping takes still goes the plain way,
    which refuses it as too deep, and so does nesting deep enough to threaten the stack."""
    deep: dict[str, Any] = {"x": []}
    for _ in range(70):
        deep = {"x": [deep]}
    unmapped = _line({**PUSH_SENT, "eventType": "app.oauth2.as.token.grant", "debugContext": deep})
    mapped = _line({**PUSH_SENT, "debugContext": deep})
    assert json.dumps(deep).count("[") > 64
    reason = OKTA.decode_line(unmapped)
    assert isinstance(reason, Unmapped) and reason.reason == "okta: eventType app.oauth2.as.token.grant"
    assert OKTA.decode_line(mapped) is None
    with pytest.raises(ValueError, match="deep"):
        decode_json(mapped)
    abyss = PUSH_SENT | {"eventType": "app.oauth2.as.token.grant"}
    line = _line(abyss)[:-1] + b',"z":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert OKTA.decode_line(line) is None
