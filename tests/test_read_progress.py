"""The bytes the readers report for a progress bar add up to the inputs' sizes: JSON Lines, gzip
(compressed bytes), a JSON document read whole, byte ranges, and ``--jobs`` workers."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushguard.flow import analyze
from pushguard.parallel import analyze_parallel
from pushguard.simulate.scenario import simulate
from pushguard.sources import progress
from pushguard.sources.readers import expand_paths, read_records_range


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    simulate(5, 40, 2, root / "tenant")
    logs = root / "logs"
    logs.mkdir()
    files = expand_paths([root / "tenant"])
    shutil.copy(files[0], logs / "plain.jsonl")
    (logs / "packed.jsonl.gz").write_bytes(gzip.compress(files[1].read_bytes()))
    records = [json.loads(line) for line in files[2].read_text().splitlines() if line.strip()]
    (logs / "document.json").write_text(json.dumps(records, indent=1))  # one array, read whole
    return logs


@pytest.fixture
def heard() -> Iterator[list[int]]:
    counts: list[int] = []
    previous = progress.listen(counts.append)
    try:
        yield counts
    finally:
        progress.listen(previous)


def _size(logs: Path) -> int:
    return sum(path.stat().st_size for path in logs.iterdir())


def test_one_process_reports_every_byte_of_every_shape(
    logs: Path, heard: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "REPORT_EVERY_LINES", 64)
    result = analyze([logs])
    assert result.stats.files == 3 and result.stats.events > 0
    assert sum(heard) == _size(logs)
    assert len(heard) > 3  # reported as the reading goes, not once a file


def test_byte_ranges_add_up_to_the_file(logs: Path, heard: list[int]) -> None:
    path = logs / "plain.jsonl"
    size = path.stat().st_size
    cuts = [0, size // 3, 2 * size // 3, size]
    for start, end in itertools.pairwise(cuts):
        list(read_records_range(path, start, end))
    assert sum(heard) == size


def test_jobs_workers_report_to_the_parent(logs: Path) -> None:
    counts: list[int] = []
    stages: list[tuple[str, int, int]] = []
    result = analyze_parallel(
        [logs], 2, split_min_bytes=4096, on_bytes=counts.append, on_stage=lambda *told: stages.append(told)
    )
    assert result.stats.events > 0
    assert sum(counts) == _size(logs)
    # after the reading, the detection: every event of the run, counted up to the total
    assert stages and {name for name, _, _ in stages} == {"detecting"}
    assert stages[-1] == ("detecting", result.stats.events, result.stats.events)
    assert [done for _, done, _ in stages] == sorted(done for _, done, _ in stages)


def test_nobody_listening_costs_no_counting(logs: Path) -> None:
    assert not progress.listening()
    assert analyze([logs]).stats.events > 0
