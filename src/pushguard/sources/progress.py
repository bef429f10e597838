"""Bytes of input read so far, for a progress bar: the readers report, the command line listens.

Nothing listens by default (and the readers then do no counting). A gzip file counts its compressed
bytes, so the sum of the input files' sizes is the total. ``analyze --jobs`` listens in each worker
process and adds to a counter the parent reads (``parallel``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

Listener = Callable[[int], None]
_listener: Listener | None = None
REPORT_EVERY_LINES = 1024


def listen(listener: Listener | None) -> Listener | None:
    """Send the byte counts of this process's reads to ``listener`` (None: nobody); the previous one."""
    global _listener
    previous, _listener = _listener, listener
    return previous


def listening() -> bool:
    return _listener is not None


class Meter:
    """One file's reading position, reported as it advances (up to ``end`` for a byte range)."""

    __slots__ = ("end", "last", "raw")

    def __init__(self, handle: IO[bytes], start: int = 0, end: int | None = None) -> None:
        fileobj: Any = getattr(handle, "fileobj", None)  # a gzip file: the compressed file under it
        self.raw: IO[bytes] = fileobj if fileobj is not None else handle
        self.last = start
        self.end = end

    def update(self) -> None:
        listener = _listener
        if listener is None:
            return
        try:
            position = self.raw.tell()
        except (OSError, ValueError):  # closed or unseekable: nothing more to say
            return
        if self.end is not None:
            position = min(position, self.end)
        if position > self.last:
            listener(position - self.last)
            self.last = position


def metered(lines: Iterator[bytes], meter: Meter) -> Iterator[bytes]:
    """The lines as they come, the meter updated every REPORT_EVERY_LINES lines and at the end."""
    try:
        for count, line in enumerate(lines, start=1):
            if count % REPORT_EVERY_LINES == 0:
                meter.update()
            yield line
    finally:
        meter.update()
