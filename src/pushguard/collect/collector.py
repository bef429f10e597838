"""Polling vendor logs page by page into one output file, with a checkpoint after every page.

A ``VendorLog`` knows one vendor log's protocol: where to start (``start``) and how to fetch the page after
a cursor (``fetch``). Cursors are plain JSON values, so they live in the checkpoint as they are. The
``Collector`` owns the order of effects that makes a restart exact (see ``collect.checkpoint``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import msgspec

from pushguard.collect.checkpoint import CollectedFile
from pushguard.vendorapi.http import VendorApiError

T = TypeVar("T")
_any_json = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Record:
    """One vendor record: its JSON text as the vendor sent it (line breaks, which JSON allows only as
    whitespace between tokens, removed so it fits on one line) and its decoded value."""

    line: bytes
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    cursor: Any  # JSON value: where the log stands once these records are written
    caught_up: bool  # nothing more to fetch now; the next round asks again


class VendorLog(Protocol):
    name: str  # key of its cursor in the checkpoint, e.g. "entra.signins"

    def start(self, since: datetime) -> Any: ...

    def fetch(self, cursor: Any) -> Page: ...


# (log name, records of one page, line number of the first in the output file) -> None
PageSink = Callable[[str, Sequence[Record], int], None]


def decode_page(vendor: str, label: str, body: bytes, shape: type[T]) -> T:
    """A response body in the shape the vendor documents, or a VendorApiError saying what came instead."""
    try:
        return msgspec.json.decode(body, type=shape)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise VendorApiError(f"{vendor}: {label}: unexpected answer ({exc})") from None


def records_of(vendor: str, label: str, raws: Sequence[msgspec.Raw]) -> list[Record]:
    records = []
    for raw in raws:
        text = bytes(raw)
        try:
            value = _any_json.decode(text)
        except RecursionError:
            raise VendorApiError(f"{vendor}: {label}: a log entry nests too deep to read") from None
        if not isinstance(value, dict):
            raise VendorApiError(f"{vendor}: {label}: a log entry is not a JSON object")
        records.append(Record(text.replace(b"\n", b"").replace(b"\r", b""), value))
    return records


@dataclass
class LogStats:
    pages: int = 0
    records: int = 0


@dataclass
class RoundStats:
    logs: dict[str, LogStats] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.logs.values())


class Collector:
    """Every log of one vendor into one output file (``CollectedFile``), and to the sinks page by page."""

    def __init__(
        self,
        files: CollectedFile,
        logs: Sequence[VendorLog],
        since: datetime,
        sinks: Sequence[PageSink] = (),
    ) -> None:
        self.files = files
        self.logs = list(logs)
        self.sinks = list(sinks)
        for log in self.logs:
            if files.cursor(log.name) is None:  # first run, or a log added to an existing checkpoint
                files.set_cursor(log.name, log.start(since))

    def poll(self, should_stop: Callable[[], bool] = lambda: False) -> RoundStats:
        """One round: each log until it is caught up (or until ``should_stop``, checked between pages)."""
        stats = RoundStats()
        for log in self.logs:
            counts = stats.logs.setdefault(log.name, LogStats())
            while not should_stop():
                page = log.fetch(self.files.cursor(log.name))
                self._write(log.name, page)
                counts.pages += 1
                counts.records += len(page.records)
                if page.caught_up:
                    break
        return stats

    def _write(self, name: str, page: Page) -> None:
        try:
            first = self.files.append([r.line for r in page.records])
            for sink in self.sinks:
                if page.records:
                    sink(name, page.records, first)
        except BaseException:
            self.files.rollback()  # the page is fetched again from the unchanged cursor
            raise
        self.files.commit(name, page.cursor, len(page.records))
