"""Small helpers the tests share: parse fixture files through the real readers and sources."""

from __future__ import annotations

from pathlib import Path

from pushguard.model import Event, RawRef
from pushguard.sources import RecordError, Source, Unmapped, detect_source
from pushguard.sources.readers import read_file

Outcome = list[Event] | Unmapped | RecordError | None


def parse_lines(path: Path, source: Source | None = None) -> list[Outcome]:
    """The parse outcome of every record of a file, in order (None: no vendor recognised)."""
    outcomes: list[Outcome] = []
    for item in read_file(path):
        assert item.record is not None, item.error
        chosen = source or detect_source(item.record)
        if chosen is None:
            outcomes.append(None)
            continue
        try:
            outcomes.append(chosen.parse(item.record, RawRef(source=item.source, position=item.position)))
        except RecordError as exc:
            outcomes.append(exc)
    return outcomes


def only_event(outcome: Outcome) -> Event:
    assert isinstance(outcome, list), outcome
    assert len(outcome) == 1
    return outcome[0]


SampleOutcomes = dict[tuple[str, int], list[Event] | Unmapped | RecordError]


def folder_outcomes(folder: Path, source: Source) -> SampleOutcomes:
    """Every record of every ``*.json`` / ``*.jsonl`` file of ``folder`` parsed by ``source``, keyed by (file
    name, position). Each outcome is checked: events come from ``source``'s provider and name someone, an
    Unmapped reason starts with the vendor's name; RecordErrors are kept for the caller to check."""
    prefix = f"{source.provider.value}: "
    outcomes: SampleOutcomes = {}
    for path in sorted(folder.glob("*.json*")):
        for item in read_file(path):
            assert item.record is not None, item.error
            try:
                result = source.parse(item.record, RawRef(source=item.source, position=item.position))
            except RecordError as exc:
                outcomes[(path.name, item.position)] = exc
                continue
            if isinstance(result, Unmapped):
                assert result.reason.startswith(prefix), (item.where, result.reason)
            else:
                assert result, item.where
                assert all(e.provider is source.provider and e.identity for e in result), item.where
            outcomes[(path.name, item.position)] = result
    return outcomes


def undetected(folder: Path, source: Source) -> list[tuple[str, int]]:
    """The (file name, position) of the records of ``folder`` that auto-detection does not give ``source``."""
    return [
        (path.name, item.position)
        for path in sorted(folder.glob("*.json*"))
        for item in read_file(path)
        if item.record is None or not source.matches(item.record) or detect_source(item.record) is not source
    ]


def tally(outcomes: SampleOutcomes) -> dict[str, tuple[int, int, int]]:
    """Per file: (records that gave events, Unmapped records, RecordErrors)."""
    counts: dict[str, list[int]] = {}
    for (name, _), outcome in outcomes.items():
        row = counts.setdefault(name, [0, 0, 0])
        row[0 if isinstance(outcome, list) else 1 if isinstance(outcome, Unmapped) else 2] += 1
    return {name: (row[0], row[1], row[2]) for name, row in counts.items()}
