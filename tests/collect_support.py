"""Shared by the collector tests: a collector on a fake vendor, reading its output, simulated crashes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pushguard.collect import CollectedFile, Collector, LogOptions, PageSink, build_logs, load_checkpoint
from pushguard.collect.checkpoint import Checkpoint


class Crash(BaseException):
    """The process dies at this point: nothing after it runs (no rollback, no checkpoint)."""


@dataclass
class Run:
    collector: Collector
    files: CollectedFile
    sleeps: list[float] = field(default_factory=list)

    def poll(self) -> int:
        return self.collector.poll().records


@contextmanager
def collector(
    vendor: str,
    env: Mapping[str, str],
    folder: Path,
    since: datetime,
    *,
    logs: list[str] | None = None,
    options: LogOptions | None = None,
    clock: Callable[[], float] | None = None,
    sinks: tuple[PageSink, ...] = (),
) -> Iterator[Run]:
    """A collector writing ``folder/<vendor>.jsonl``; closed (the lock released) on leaving, even by a
    Crash, like a process that died. Every sleep asked for is recorded, none is slept."""
    sleeps: list[float] = []
    found, http = build_logs(
        vendor, logs, env, options=options, sleep=sleeps.append, clock=clock or time.time
    )
    files = CollectedFile(folder / f"{vendor}.jsonl", folder / f"{vendor}.checkpoint", vendor)
    try:
        yield Run(Collector(files, found, since, sinks), files, sleeps)
    finally:
        files.close()
        http.close()


def output(folder: Path, vendor: str) -> list[dict[str, Any]]:
    path = folder / f"{vendor}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def checkpoint(folder: Path, vendor: str) -> Checkpoint:
    found = load_checkpoint(folder / f"{vendor}.checkpoint")
    assert found is not None
    return found


def crash_at_commit(monkeypatch: pytest.MonkeyPatch, page: int) -> None:
    """Die when the ``page``-th page (counted from 1) is written and synced but not yet checkpointed."""
    real = CollectedFile.commit
    seen = [0]

    def commit(self: CollectedFile, log: str, cursor: Any, lines: int) -> None:
        seen[0] += 1
        if seen[0] == page:
            raise Crash
        real(self, log, cursor, lines)

    monkeypatch.setattr(CollectedFile, "commit", commit)


def ids(records: list[dict[str, Any]], key: str) -> list[str]:
    return [str(r[key]) for r in records]
