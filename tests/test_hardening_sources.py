"""Property tests for the parsers and readers (issue 9): whatever the input, a parser returns Events or
an ``Unmapped`` reason, or raises ``RecordError``; a reader yields records or per-record errors. Never
another exception, never a hang (the hypothesis deadline catches a slow path).

The records start from the real fixtures of every vendor and are mutated one field at a time: wrong
types, huge strings, deep nesting, odd Unicode, out-of-range and foreign time formats. The coverage-guided
counterpart (atheris) is ``fuzz/fuzz_sources.py``."""

from __future__ import annotations

import copy
import math
import os
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pushguard.model import Event, PushguardError, RawRef
from pushguard.sources import SOURCES, RecordError, Unmapped, detect_source
from pushguard.sources.base import parse_time
from pushguard.sources.readers import read_file

FIXTURES = Path(__file__).parent / "fixtures"
# PUSHGUARD_FUZZ_SCALE=20 runs twenty times the examples (a longer local run; CI uses 1).
SCALE = max(1, int(os.environ.get("PUSHGUARD_FUZZ_SCALE", "1")))
SEEDS: list[dict[str, Any]] = []
for fixture in sorted(FIXTURES.glob("*/*.json*")):
    for item in read_file(fixture):
        if item.record is not None:
            SEEDS.append(item.record)

# Valid Unicode only: the readers refuse lone surrogates before any parser sees a record (tested below).
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "null",
        "\x00",
        "\ud7ff\ue000\U0010ffff",
        "e\u0301",
        "\u202e.exe",
        "\U0001d518\U0001d52b\U0001d526",  # mathematical Fraktur letters
        "9999-12-31T23:59:59.9999999Z",
        "0001-01-01T00:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-03-02 10:00:00.123",
        "Mon, 02 Mar 2026 10:00:00 GMT",
        "1772445600",
        "-1",
        "NaN",
        "1e309",
        "x" * 100_000,
    ]
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**63, 253402300800, 253402300800000, 1e300, -1e300]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=40), ODD_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for level in range(levels):
        value = {"x": value} if level % 2 else [value]
    return value


REPLACEMENTS = st.one_of(JSON_VALUES, st.integers(min_value=50, max_value=400).map(deep))


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(paths_of(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(paths_of(child, (*prefix, index)))
    return found


def replace_at(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(record)
    target: Any = mutated
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return mutated


def check_contract(record: dict[str, Any]) -> None:
    """Every source, whether or not the record is its shape: Events, Unmapped or RecordError."""
    ref = RawRef(source="fuzz", position=1)
    for source in SOURCES:
        try:
            result = source.parse(record, ref)
        except RecordError as exc:
            assert str(exc), "a RecordError must say why"  # noqa: PT017 - either outcome is allowed; only its form is checked
            continue
        assert isinstance(result, Unmapped | list), type(result)
        if isinstance(result, Unmapped):
            assert result.reason
            continue
        for event in result:
            assert isinstance(event, Event)
            assert math.isfinite(event.ts)
            assert event.time.tzinfo is not None and event.time.utcoffset() == timedelta(0)
            msgspec.msgpack.decode(msgspec.msgpack.encode(event), type=Event)  # storable as is


@settings(max_examples=400 * SCALE, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_field_never_breaks_a_parser(data: st.DataObject) -> None:
    record = data.draw(st.sampled_from(SEEDS))
    path = data.draw(st.sampled_from(paths_of(record)))
    check_contract(replace_at(record, path, data.draw(REPLACEMENTS)))


@settings(max_examples=200 * SCALE, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_field_removed_or_several_mutated_never_breaks_a_parser(data: st.DataObject) -> None:
    record = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        path = data.draw(st.sampled_from(paths_of(record) or [("eventType",)]))
        if data.draw(st.booleans()):
            parent: Any = record
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
                continue
        record = replace_at(record, path, data.draw(REPLACEMENTS))
    check_contract(record)


@settings(max_examples=300 * SCALE, deadline=1000)
@given(record=st.dictionaries(st.text(max_size=20), JSON_VALUES, max_size=8))
def test_arbitrary_objects_are_refused_or_parsed(record: dict[str, Any]) -> None:
    check_contract(record)
    detect_source(record)  # auto-detection never raises either


@settings(max_examples=300 * SCALE, deadline=1000)
@given(value=st.one_of(SCALARS, JSON_VALUES))
def test_parse_time_returns_utc_or_refuses(value: Any) -> None:
    try:
        parsed = parse_time(value, "published")
    except RecordError as exc:
        assert "published" in str(exc)  # noqa: PT017 - either outcome is allowed; only its form is checked
        return
    assert parsed.tzinfo is UTC or parsed.utcoffset() == timedelta(0)


@settings(
    max_examples=200 * SCALE, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(str.encode)))
def test_reader_yields_records_or_per_record_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(content)
    try:
        items = list(read_file(path))
    except PushguardError as exc:  # an unreadable file as a whole: named, with the reason
        assert str(path) in str(exc)  # noqa: PT017 - either outcome is allowed; only its form is checked
        return
    for item in items:
        assert (item.record is None) != (item.error is None)
        if item.record is not None:
            assert isinstance(item.record, dict)
        assert item.position >= 1


@pytest.mark.parametrize("cut", [1, 17, 100, 513])
def test_truncated_lines_are_counted_and_the_rest_read(tmp_path: Path, cut: int) -> None:
    good = [msgspec.json.encode(record) for record in SEEDS[:20]]
    broken = good[5][: min(cut, len(good[5]) - 1)]
    path = tmp_path / "truncated.jsonl"
    path.write_bytes(b"\n".join([*good[:5], broken, *good[6:]]) + b"\n")
    items = list(read_file(path))
    errors = [item for item in items if item.record is None]
    assert [item.position for item in errors] == [6]
    assert "invalid JSON" in (errors[0].error or "")
    assert sum(1 for item in items if item.record is not None) >= 19


@pytest.mark.parametrize(
    "content",
    [
        # found by fuzz/fuzz_sources.py: a pretty-printed document with invalid UTF-8 inside a string
        b'{\n  "stat": "OK",\n  "response": {"authlogs": [{"user": {"name": "\xf5"}}]}\n}\n',
        b'{"eventType": "user.session.start", "actor": {"alternateId": "\xff\xfe"}}\n{"a": 1}\n',
        # a lone surrogate escape: decodes to a str that no encoder can write back (the store would fail)
        b'{"eventType": "user.session.start", "actor": {"alternateId": "\\ud800x"}}\n{"a": 1}\n',
        b'[{"action": "admin_login", "description": "{\\"ip\\": \\"\\uDFFF\\"}"}]',
    ],
)
def test_invalid_utf8_is_a_counted_record_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad-utf8.json"
    path.write_bytes(content)
    items = list(read_file(path))
    assert items and items[0].record is None
    assert "invalid JSON" in (items[0].error or "")
    assert all(item.record is not None for item in items[1:])


def test_a_valid_surrogate_pair_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "emoji.jsonl"
    path.write_bytes(b'{"displayMessage": "\\ud83d\\ude00 ok"}\n')
    (item,) = read_file(path)
    assert item.record == {"displayMessage": "\U0001f600 ok"}


def _asn_paths(record: Any) -> list[tuple[Any, ...]]:
    """Where the vendors put an AS number: Okta securityContext.asNumber, OCSF ...autonomous_system.number,
    Entra autonomousSystemNumber."""
    return [
        path
        for path in paths_of(record)
        if path[-1] in ("asNumber", "autonomousSystemNumber")
        or (path[-1] == "number" and len(path) > 1 and path[-2] == "autonomous_system")
    ]


@pytest.mark.parametrize("value", [2**70, -5, 2**32])
def test_an_as_number_out_of_range_is_dropped_not_fatal(value: int) -> None:
    # Found by the atheris run: Okta asNumber 1.4e62 reached Geo.asn and broke the state encoder.
    checked = 0
    for record in SEEDS:
        for path in _asn_paths(record):
            mutated = replace_at(record, path, value)
            check_contract(mutated)
            for source in SOURCES:
                try:
                    result = source.parse(mutated, RawRef(source="t", position=1))
                except RecordError:
                    continue
                for event in [] if isinstance(result, Unmapped) else result:
                    assert event.geo is None or event.geo.asn is None
            checked += 1
    assert checked >= 3, "the fixtures must hold AS numbers for this test to mean something"
