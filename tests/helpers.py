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
