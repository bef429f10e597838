"""Input readers: every shape, streaming, and bad input reported by position without losing the rest."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pushguard.model import InputError
from pushguard.sources.readers import expand_paths, read_file

RECORD = {"eventType": "user.session.start", "uuid": "u1", "published": "2026-03-02T08:00:00Z"}


def _records(path: Path) -> list[tuple[int, dict[str, object] | None, str | None]]:
    return [(item.position, item.record, item.error) for item in read_file(path)]


def test_json_lines_with_a_corrupt_line_reports_it_and_reads_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    lines = [json.dumps({**RECORD, "uuid": f"u{i}"}) for i in range(5)]
    lines[2] = lines[2][:-7]  # truncated mid-record
    path.write_text("\n".join(lines) + "\n\n")
    items = _records(path)
    assert [pos for pos, rec, _ in items if rec is not None] == [1, 2, 4, 5]
    bad = [(pos, err) for pos, rec, err in items if rec is None]
    assert len(bad) == 1 and bad[0][0] == 3 and "invalid JSON" in (bad[0][1] or "")


def test_first_line_broken_is_still_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"eventType": "user.sess\n' + json.dumps(RECORD) + "\n" + json.dumps(RECORD) + "\n")
    items = _records(path)
    assert [rec is None for _, rec, _ in items] == [True, False, False]
    assert items[0][0] == 1 and items[2][0] == 3


def test_json_array_api_page_and_pretty_printed_document(tmp_path: Path) -> None:
    page = tmp_path / "page.json"  # the /api/v1/logs response body is a JSON array
    page.write_text(json.dumps([RECORD, {**RECORD, "uuid": "u2"}], indent=2))
    assert [(pos, rec["uuid"]) for pos, rec, _ in _records(page) if rec] == [(1, "u1"), (2, "u2")]
    single = tmp_path / "one.json"
    single.write_text(json.dumps(RECORD, indent=2))
    assert [rec for _, rec, _ in _records(single)] == [RECORD]


@pytest.mark.parametrize(
    ("envelope", "expected"),
    [
        ({"@odata.context": "x", "value": [RECORD, RECORD]}, 2),  # Graph list response
        ({"records": [RECORD, RECORD, RECORD]}, 3),  # Azure Monitor blob
        ({"stat": "OK", "response": {"authlogs": [RECORD], "metadata": {"next_offset": None}}}, 1),  # Duo v2
        ({"stat": "OK", "response": [RECORD, RECORD]}, 2),  # Duo v1 / admin logs
        ({"eventType": "com.okta.event_hook", "data": {"events": [RECORD]}}, 1),  # Okta event hook
    ],
)
def test_envelopes_are_unwrapped(tmp_path: Path, envelope: dict[str, object], expected: int) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps(envelope))
    assert [rec for _, rec, _ in _records(path)] == [RECORD] * expected


def test_gzip_by_magic_bytes_not_by_name(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(gzip.compress((json.dumps(RECORD) + "\n").encode() * 3))
    assert len(_records(path)) == 3


def test_non_object_records_and_bad_documents_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "arr.json"
    path.write_text(json.dumps([RECORD, 5, "x"]))
    errors = [err for _, rec, err in _records(path) if rec is None]
    assert len(errors) == 2 and "not an object" in (errors[0] or "")
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"a": 1},\n  {"b": \n')
    assert [err is not None for _, _, err in _records(broken)] == [True]


def test_empty_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    assert _records(path) == []


def test_a_directory_gives_every_file_whose_content_is_json_whatever_its_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "okta.jsonl").write_text(json.dumps(RECORD) + "\n")
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(b"[" + json.dumps(RECORD).encode() + b"]"))
    (tmp_path / "c.ocsf").write_text("\n  " + json.dumps({"class_uid": 3002}) + "\n")
    (tmp_path / "d").write_bytes(gzip.compress(json.dumps(RECORD).encode()))  # no suffix at all
    (tmp_path / "e.txt").write_bytes(
        b"\xef\xbb\xbf" + json.dumps(RECORD).encode()
    )  # a BOM: read, then judged
    (tmp_path / "labels.json").write_text("{}")
    (tmp_path / "README.md").write_text("# logs\n")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8bnot gzip at all")
    skipped: list[str] = []
    found = expand_paths([tmp_path], skipped)
    assert [p.name for p in found] == ["okta.jsonl", "b.json.gz", "c.ocsf", "d", "e.txt"]
    reasons = dict(line.split(": ", 1) for line in skipped)
    assert reasons[str(tmp_path / "README.md")] == "not JSON or JSON Lines (starts with b'# logs\\n')"
    assert reasons[str(tmp_path / "labels.json")] == "a simulation's labels or manifest, not logs"
    assert reasons[str(tmp_path / "empty.jsonl")] == "empty"
    assert reasons[str(tmp_path / "broken.gz")].startswith("unreadable: ")
    assert len(skipped) == 4
    assert expand_paths([tmp_path]) == found  # the list of skipped files is optional
    # a file named directly is read whatever it holds: its bad records are reported there
    assert expand_paths([tmp_path / "README.md"], skipped) == [tmp_path / "README.md"]
    with pytest.raises(InputError, match="no such file"):
        expand_paths([tmp_path / "missing"])
