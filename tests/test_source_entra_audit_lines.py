"""The Entra audit pre-filter (``sources.entra_audit_lines``) against the plain path: a Graph
directoryAudit line of an activity no mapping takes is counted as the same unmapped reason without the
rest of the record being built; every other line (a mapped activity, an Azure Monitor wrapper, a risk
detection, another vendor's record, an envelope, odd values) is read the plain way.

The records are our fixtures' Graph directoryAudit records (``tests/fixtures/entra/PROVENANCE.md``) with
``activityDisplayName`` set to names from Microsoft's "Microsoft Entra audit activity reference" (Core
Directory: group, application, device and policy changes), which pushguard does not map."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from pushguard.model import Provider
from pushguard.sources import line_source
from pushguard.sources.base import Unmapped
from pushguard.sources.entra import SOURCE as ENTRA
from pushguard.sources.entra_audit_lines import AUDIT_LINES
from pushguard.sources.readers import Decoded, read_file, read_records
from tests.conftest import FIXTURES
from tests.typed_paths import mutated, run, typed_equals_plain, vendor_files

GRAPH_AUDITS = [
    json.loads(line) for line in (FIXTURES / "entra" / "audit-graph-handmade.jsonl").read_text().splitlines()
]
UNMAPPED_ACTIVITIES = (
    "Add member to group",
    "Update group",
    "Update application",
    "Update conditional access policy",
    "Delete device",
    "Add user",
    "Remove member from group",
    "Add app role assignment to group",
)


def _line(record: object) -> bytes:
    return json.dumps(record).encode()


def _unmapped(index: int, activity: str) -> dict[str, Any]:
    return {**GRAPH_AUDITS[index % len(GRAPH_AUDITS)], "activityDisplayName": activity}


@pytest.mark.parametrize(
    "path", vendor_files("entra", "audit"), ids=lambda p: f"{p.parent.parent.name}-{p.name}"
)
def test_audit_files_read_the_same_both_ways(path: Path) -> None:
    assert run(read_records(path)) == run(read_file(path))
    assert run(read_records(path, Provider.ENTRA), Provider.ENTRA) == run(read_file(path), Provider.ENTRA)
    for line in path.read_bytes().splitlines():
        assert typed_equals_plain(ENTRA, AUDIT_LINES, line) in (None, True), line[:200]


@pytest.mark.parametrize("activity", UNMAPPED_ACTIVITIES)
def test_an_unmapped_activity_is_counted_from_its_name(activity: str) -> None:
    line = _line(_unmapped(0, activity))
    reason = AUDIT_LINES.decode_line(line)
    assert isinstance(reason, Unmapped) and reason.reason == f"entra: audit activity {activity}"
    assert typed_equals_plain(ENTRA, AUDIT_LINES, line) is True


def _refused() -> dict[str, bytes]:
    audit = _unmapped(0, "Update group")
    return {
        "a mapped activity": _line(GRAPH_AUDITS[0]),
        "Update user (its properties tell)": _line({**audit, "activityDisplayName": "Update user"}),
        "a privileged change": _line({**audit, "activityDisplayName": "Add member to role"}),
        "Azure Monitor wrapper": _line({"category": "AuditLogs", "properties": audit}),
        "risk detection key": _line({**audit, "riskEventType": "unfamiliarFeatures"}),
        "risk category": _line({**audit, "category": "UserRiskEvents"}),
        "Okta key": _line({**audit, "eventType": "user.session.start"}),
        "OCSF key": _line({**audit, "class_uid": 3002}),
        "Duo key": _line({**audit, "txid": "t"}),
        "Graph page": _line({"value": [audit]}),
        "activity not text": _line({**audit, "activityDisplayName": 7}),
        "activity empty": _line({**audit, "activityDisplayName": " "}),
        "no activity (operationName read instead)": _line(
            {
                **{k: v for k, v in audit.items() if k != "activityDisplayName"},
                "operationName": "Update group",
            }
        ),
        "invalid UTF-8": _line(audit).replace(b"Update group", b"Update gr\xffoup"),
        "lone surrogate": _line(audit).replace(b"Update group", b"Update \\ud800group"),
        "not JSON": _line(audit)[:-1],
        "a list": _line([audit]),
    }


REFUSED = _refused()


@pytest.mark.parametrize("name", REFUSED)
def test_lines_read_the_plain_way(name: str) -> None:
    assert AUDIT_LINES.decode_line(REFUSED[name]) is None


def test_the_en_dash_and_spacing_are_read_as_the_plain_path_reads_them() -> None:
    line = _line(_unmapped(1, "  Update \u2013  group "))
    reason = AUDIT_LINES.decode_line(line)
    assert isinstance(reason, Unmapped) and reason.reason == "entra: audit activity Update - group"
    assert typed_equals_plain(ENTRA, AUDIT_LINES, line) is True


def test_mutated_audits_parse_as_plain() -> None:
    rng = random.Random(5)
    odd: list[Any] = [None, "", "unknown", 0, 1.5, True, [], {}, "Update group", [{"x": 1}], {"user": {}}]
    taken = 0
    for n in range(600):
        record = mutated(_unmapped(n, UNMAPPED_ACTIVITIES[n % len(UNMAPPED_ACTIVITIES)]), rng, odd)
        line = _line(record)
        same = typed_equals_plain(ENTRA, AUDIT_LINES, line)
        assert same in (None, True), line[:300]
        taken += same is True
    assert taken > 300  # most mutations leave the activity alone: the pre-filter must still take them


def test_an_audit_file_gets_the_pre_filter_and_counts_the_same(tmp_path: Path) -> None:
    lines = [_line(_unmapped(n, UNMAPPED_ACTIVITIES[n % len(UNMAPPED_ACTIVITIES)])) for n in range(45)]
    lines += [_line(record) for record in GRAPH_AUDITS] + [b"{broken", REFUSED["Azure Monitor wrapper"]]
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert line_source(json.loads(lines[0]), None) is AUDIT_LINES
    assert line_source(json.loads(lines[0]), Provider.ENTRA) is AUDIT_LINES
    items = list(read_records(path))
    taken = sum(AUDIT_LINES.decode_line(line) is not None for line in lines)
    assert sum(isinstance(item, Decoded) for item in items) == taken >= 45
    typed = run(items)
    assert typed == run(list(read_file(path)))
    assert sum(typed[4].values()) >= 45 and typed[2] == 1  # the unmapped ones, and the broken line


def test_a_signin_file_keeps_the_signin_decoder() -> None:
    signin = json.loads((FIXTURES / "entra" / "signin-graph-beta-handmade.json").read_text())
    first = signin["value"][0] if isinstance(signin, dict) and "value" in signin else signin
    assert line_source(first, None) is ENTRA
