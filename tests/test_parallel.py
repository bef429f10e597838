"""``analyze --jobs``: several processes, split by identity, give exactly the one-process findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.enrich.resolver import IdentityResolver
from pushguard.flow import analyze
from pushguard.parallel import analyze_parallel, partition_of
from pushguard.simulate import okta_records as okta
from pushguard.simulate.scenario import simulate
from pushguard.sources.readers import jsonl_ranges, read_file, read_jsonl_range


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parallel") / "tenant"
    simulate(11, 150, 4, root)
    return root


@pytest.mark.parametrize("jobs", [2, 3])
def test_jobs_give_the_one_process_findings_and_counts(tenant: Path, jobs: int) -> None:
    # --jobs links accounts by the alias map only, not from the records' fields (enrich.resolver)
    one = analyze([tenant], resolver=IdentityResolver(vendor_fields=False))
    # split_min_bytes=1: every JSON Lines file is parsed in byte ranges, the hardest case for ordering
    many = analyze_parallel([tenant], jobs, split_min_bytes=1)
    assert one.findings, "the tenant must produce findings for the comparison to mean something"
    # the second stage (IP/ASN-keyed detectors) runs in slices across processes: it must have found some
    assert {"push_spray", "push_spray_asn", "password_spray"} & {f.detector for f in one.findings}
    assert many.findings == one.findings
    assert {f.detector for f in many.findings} == {f.detector for f in one.findings}
    for counter in ("records", "events", "errors", "duplicates", "late", "not_a_user", "files"):
        assert getattr(many.stats, counter) == getattr(one.stats, counter), counter
    assert many.stats.by_provider == one.stats.by_provider
    assert many.stats.unmapped == one.stats.unmapped


def test_a_broken_line_in_a_byte_range_is_counted_with_its_line_number(tmp_path: Path) -> None:
    source = Path(__file__).parent / "fixtures" / "okta" / "panther.jsonl"
    lines = source.read_bytes().splitlines()
    broken = tmp_path / "okta.jsonl"
    broken.write_bytes(b"\n".join([*lines, b'{"eventType": "user.session', *lines]) + b"\n")
    one = analyze([broken])
    many = analyze_parallel([broken], 2, split_min_bytes=1)
    assert many.stats.errors == one.stats.errors
    assert sorted(many.stats.error_samples) == sorted(one.stats.error_samples)
    assert any(f"{broken}:{len(lines) + 1}: invalid JSON" in sample for sample in many.stats.error_samples)
    assert many.findings == one.findings


def test_byte_ranges_cover_every_line_once_with_file_line_numbers(tmp_path: Path) -> None:
    source = Path(__file__).parent / "fixtures" / "okta" / "panther.jsonl"
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n\n" + source.read_bytes() * 3)  # leading blank lines count as lines
    whole = [(item.position, item.record) for item in read_file(path)]
    ranges = jsonl_ranges(path, 5, 1)
    assert ranges is not None and len(ranges) > 1
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    pieces = [
        (item.position, item.record) for start, end in ranges for item in read_jsonl_range(path, start, end)
    ]
    assert pieces == whole
    assert whole[0][0] == 3


def test_gzip_and_json_documents_are_not_split(tmp_path: Path) -> None:
    document = Path(__file__).parent / "fixtures" / "duo" / "authlogs-envelope.json"
    assert jsonl_ranges(document, 4, 1) is None


def test_partition_is_stable_and_in_range() -> None:
    assert partition_of("ada@example.com", 4) == partition_of("ada@example.com", 4)
    assert {partition_of(f"user{i}@example.com", 3) for i in range(100)} == {0, 1, 2}


def test_cli_jobs(tenant: Path, tmp_path: Path) -> None:
    out_one, out_many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    runner = CliRunner()
    first = runner.invoke(app, ["analyze", str(tenant), "--quiet", "--no-link", "--out", str(out_one)])
    second = runner.invoke(app, ["analyze", str(tenant), "--quiet", "--jobs", "2", "--out", str(out_many)])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert out_one.read_bytes() == out_many.read_bytes()
    refused = runner.invoke(app, ["analyze", str(tenant), "--jobs", "2", "--state", str(tmp_path / "s.db")])
    assert refused.exit_code == 2
    assert "--state" in refused.output


def test_silence_speaks_at_the_run_s_end_in_every_partition(tmp_path: Path) -> None:
    """Prompts left unanswered are judged when the whole run ends (its latest event), not when the
    identity's own partition runs out of events: otherwise the finding's time depends on --jobs."""
    victim, other = "victim@example.com", "other@example.com"
    assert partition_of(victim, 2) != partition_of(other, 2)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    records = [
        okta.push_sent(start + timedelta(seconds=40 * n), victim, "203.0.113.9", "paris") for n in range(7)
    ]
    records.append(okta.session_start(start + timedelta(hours=6), other, "198.51.100.4", "lyon"))
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(record) + b"\n" for record in records))
    one = analyze([path])
    many = analyze_parallel([path], 2)
    bombing = [f for f in one.findings if f.detector == "push_bombing"]
    assert bombing and bombing[0].detected_at == "2026-03-02T15:00:00Z"  # the run's latest event
    assert many.findings == one.findings
