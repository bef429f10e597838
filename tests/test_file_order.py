"""One file's events come out in event-time order: a file a little out of order (within the reorder
buffer) is put in order and nothing counts as late; a record further back than the buffer is still
processed, in the order it could be, and counted late; a newest-first file is read whole and reversed."""

from __future__ import annotations

import pytest

from pushguard import pipeline, reading
from pushguard.model import EventKind
from pushguard.pipeline import RunStats, keyed_file_events
from tests.events import ev


def _times(seconds: list[float], stats: RunStats) -> list[float]:
    events = [ev(EventKind.SIGNIN_SUCCESS, s) for s in seconds]
    out = list(keyed_file_events(iter(events), stats))
    assert all(key == pipeline.event_order(event) for key, event in out)
    return [event.ts - events[0].ts + seconds[0] for _, event in out]


def test_a_file_slightly_out_of_order_is_put_in_order() -> None:
    stats = RunStats()
    assert _times([0, 10, 5, 20, 15, 30], stats) == [0, 5, 10, 15, 20, 30]
    assert stats.late == 0


def test_a_record_older_than_the_buffer_is_kept_and_counted_late(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "REORDER_BUFFER", 2)
    stats = RunStats()
    # 1 arrives after 10, 20 and 30 have been let out of a two-event buffer
    assert _times([10, 20, 30, 40, 50, 1, 60], stats) == [10, 20, 30, 1, 40, 50, 60]
    assert stats.late == 1


def test_a_newest_first_file_is_read_whole_and_reversed() -> None:
    stats = RunStats()
    assert _times([50, 40, 30, 20, 10, 0], stats) == [0, 10, 20, 30, 40, 50]
    assert stats.late == 0
