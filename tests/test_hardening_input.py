"""Hostile input that used to stall or crash (issue 19, items 1-4): a long Okta debugData map, JSON nested
too deep, times at the ends of the calendar, a line or document too big to hold."""

from __future__ import annotations

import gzip
import json
import re
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.model import RawRef
from pushguard.simulate import okta_records as okta
from pushguard.sources.limits import MAX_DEPTH, TOO_DEEP, too_deep, value_too_deep
from pushguard.sources.okta import SOURCE as OKTA
from pushguard.sources.okta_parts import _java_map
from pushguard.sources.readers import read_file

runner = CliRunner()

MOMENT = datetime(2026, 3, 2, 9, tzinfo=UTC)
LOGIN = "alice@corp.example"

# The pattern the parser used before: the reference for what a k=v map means, on short texts only (it is
# quadratic on a long run without "=").
_KV_REFERENCE = re.compile(r"([^{},=]+)=([^{},=]*)")


def with_debug(record: dict[str, Any], **debug: Any) -> dict[str, Any]:
    record["debugContext"]["debugData"].update(debug)
    return record


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="ab {},= =\t", max_size=40))
def test_the_debug_map_reads_as_the_k_v_pattern_did(text: str) -> None:
    reference = {k.strip(): v.strip() for k, v in _KV_REFERENCE.findall(text)}
    assert _java_map(text) == reference


def test_a_40000_character_behaviors_string_is_parsed_in_linear_time() -> None:
    long = "a" * 40_000
    record = with_debug(
        okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris"),
        behaviors=long,
        risk="{" + long,
        logOnlySecurityData=long,
    )
    began = time.perf_counter()
    result = OKTA.parse(record, RawRef(source="t", position=1))
    elapsed = time.perf_counter() - began
    assert isinstance(result, list) and result[0].behaviors == ()
    assert elapsed < 0.5, f"{elapsed:.2f} s for one record (the quadratic pattern took ~8 s)"
    # ten times longer, ten times the work at most (quadratic would be a hundred)
    record = with_debug(okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris"), behaviors=long * 10)
    began = time.perf_counter()
    OKTA.parse(record, RawRef(source="t", position=1))
    assert time.perf_counter() - began < 1.0


def test_a_long_behaviors_map_still_reads_its_verdicts() -> None:
    text = "{" + ", ".join([f"Filler {n}=NEGATIVE" for n in range(3000)] + ["New Device=POSITIVE"]) + "}"
    record = with_debug(okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris"), behaviors=text)
    result = OKTA.parse(record, RawRef(source="t", position=1))
    assert isinstance(result, list) and result[0].behaviors == ("new_device",)


# -- item 2: JSON nested too deep ---------------------------------------------------------------------


def nested(levels: int) -> bytes:
    return (
        b'{"x":' * (levels // 2)
        + b"[" * (levels - levels // 2)
        + b"1"
        + b"]" * (levels - levels // 2)
        + b"}" * (levels // 2)
    )


def reference_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


BRACKETY = st.text(alphabet='[]{}"\\ab', max_size=6)
JSONISH = st.recursive(
    st.one_of(st.none(), st.integers(), BRACKETY),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(BRACKETY, inner, max_size=3)),
    max_leaves=40,
)


@settings(max_examples=500, deadline=None)
@given(value=JSONISH, limit=st.integers(min_value=0, max_value=8))
def test_too_deep_counts_only_the_brackets_outside_strings(value: Any, limit: int) -> None:
    data = msgspec.json.encode(value)
    assert too_deep(data, limit) == (reference_depth(value) > limit)
    assert value_too_deep(value, limit) == (reference_depth(value) > limit)


def okta_lines(count: int) -> list[bytes]:
    return [
        msgspec.json.encode(okta.push_sent(MOMENT + timedelta(seconds=40 * n), LOGIN, "203.0.113.9", "paris"))
        for n in range(count)
    ]


def analyze(tmp_path: Path, log: Path) -> tuple[str, list[dict[str, Any]]]:
    out = tmp_path / f"{log.stem}.findings.jsonl"
    result = runner.invoke(app, ["analyze", str(log), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1_000, 100_000])
def test_a_deep_line_is_malformed_with_its_position_and_the_rest_analyzed(
    tmp_path: Path, levels: int
) -> None:
    lines = okta_lines(8)
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(lines) + b"\n")
    record = okta.push_sent(MOMENT + timedelta(seconds=15), LOGIN, "203.0.113.9", "paris")
    text = msgspec.json.encode(record)
    inside = text.replace(b'"debugData":{', b'"debugData":{"deep":' + nested(levels) + b",", 1)
    assert inside != text
    dirty = tmp_path / "dirty.jsonl"
    dirty.write_bytes(b"\n".join([*lines[:3], nested(levels), *lines[3:5], inside, *lines[5:]]) + b"\n")
    _, expected = analyze(tmp_path, clean)
    output, found = analyze(tmp_path, dirty)
    assert found == expected and expected  # the deep lines changed nothing else
    assert re.search(r"malformed records\s*│\s*2", output), output
    assert f"dirty.jsonl:4: invalid JSON: {TOO_DEEP}" in output.replace("\n", "")
    assert f"dirty.jsonl:7: invalid JSON: {TOO_DEEP}" in output.replace("\n", "")


def test_a_deep_record_of_a_document_is_refused_alone(tmp_path: Path) -> None:
    records = [msgspec.json.decode(line) for line in okta_lines(6)]
    deep_one = dict(records[2], debugContext={"debugData": msgspec.json.decode(nested(MAX_DEPTH + 5))})
    document = tmp_path / "page.json"
    document.write_bytes(msgspec.json.encode([*records[:2], deep_one, *records[2:]], order="sorted"))
    items = list(read_file(document))
    assert [(item.position, item.error) for item in items if item.record is None] == [(3, TOO_DEEP)]
    assert sum(1 for item in items if item.record is not None) == 6


def test_the_typed_decoder_refuses_what_the_plain_path_refuses() -> None:
    text = okta_lines(1)[0]
    deep = text.replace(b'"debugData":{', b'"debugData":{"deep":' + nested(MAX_DEPTH + 1) + b",", 1)
    shallow = text.replace(b'"debugData":{', b'"debugData":{"deep":' + nested(MAX_DEPTH - 4) + b",", 1)
    assert OKTA.decode_line(deep) is None
    assert OKTA.decode_line(shallow) is not None


# -- item 4: one line or one document too big to hold ---------------------------------------------------


def test_a_line_over_the_cap_is_malformed_with_its_position_and_the_rest_analyzed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUSHGUARD_MAX_LINE_BYTES", "4096")
    lines = okta_lines(8)
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(lines) + b"\n")
    huge = b'{"padding": "' + b"x" * 100_000 + b'"}'
    dirty = tmp_path / "dirty.jsonl"
    dirty.write_bytes(b"\n".join([*lines[:2], huge, *lines[2:6], huge, *lines[6:]]) + b"\n")
    _, expected = analyze(tmp_path, clean)
    output, found = analyze(tmp_path, dirty)
    assert found == expected and expected
    assert re.search(r"malformed records\s*│\s*2", output), output
    flat = output.replace("\n", "")
    assert "dirty.jsonl:3: line longer than 4096 bytes" in flat and "dirty.jsonl:8: line longer" in flat


def test_a_gzip_bomb_is_read_in_bounded_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHGUARD_MAX_LINE_BYTES", str(1024 * 1024))
    lines = okta_lines(3)
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as handle:
        handle.write(lines[0] + b"\n")
        for _ in range(64):  # 64 MiB of zeros on one line, 64 KiB on disk
            handle.write(bytes(1024 * 1024))
        handle.write(b"\n" + lines[1] + b"\n" + lines[2] + b"\n")
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    try:
        items = list(read_file(bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [item.position for item in items if item.record is not None] == [1, 3, 4]
    assert [(item.position, item.error) for item in items if item.record is None] == [
        (2, f"line longer than {1024 * 1024} bytes (PUSHGUARD_MAX_LINE_BYTES)")
    ]
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while reading a 64 MiB line"


def test_a_document_over_the_cap_is_refused_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHGUARD_MAX_DOCUMENT_BYTES", "65536")
    records = [msgspec.json.decode(line) for line in okta_lines(60)]
    document = tmp_path / "page.json"
    document.write_text(json.dumps(records, indent=2))
    assert document.stat().st_size > 65536
    items = list(read_file(document))
    assert [(item.where, item.record) for item in items] == [(f"{document}#1", None)]
    assert "JSON document larger than 65536 bytes" in (items[0].error or "")
    monkeypatch.setenv("PUSHGUARD_MAX_DOCUMENT_BYTES", str(1024 * 1024))
    assert sum(1 for item in read_file(document) if item.record is not None) == 60


@pytest.mark.parametrize("value", ["many", "12", "-5"])
def test_a_bad_size_cap_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PUSHGUARD_MAX_LINE_BYTES", value)
    log = tmp_path / "okta.jsonl"
    log.write_bytes(okta_lines(1)[0] + b"\n")
    result = runner.invoke(app, ["analyze", str(log)])
    assert result.exit_code == 2
    assert "PUSHGUARD_MAX_LINE_BYTES" in result.output and "Traceback" not in result.output


def test_a_corrupt_gzip_stream_is_a_read_error_not_a_crash(tmp_path: Path) -> None:
    lines = okta_lines(200)
    packed = bytearray(gzip.compress(b"\n".join(lines) + b"\n", mtime=0))
    packed[len(packed) // 2] ^= 0xFF  # a flipped byte inside the deflate stream (zlib.error, not OSError)
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(bytes(packed))
    items = list(read_file(corrupt))
    assert items and items[-1].record is None and "read error" in (items[-1].error or "")
