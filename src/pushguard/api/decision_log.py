"""The decision log: every decision with its request, one JSON line each (``decide.record.DecisionRecord``),
for ``pushguard enforce`` and the join to the vendor's record of the prompt.

Written off the event loop: decide hands the pair to a queue and a thread encodes and appends it, so a
slow disk never stalls a decision. Bounded three ways: each text field of the request is cut to
``MAX_FIELD_CHARS`` (a 4 MB identity would otherwise make a 4 MB line), the queue holds at most
``MAX_QUEUED`` lines (beyond, lines are dropped and counted: decide never waits for the log), and the file
is rotated at ``max_bytes`` (``decisions.jsonl`` → ``.1`` → … → ``.<keep>``, the oldest deleted)."""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import IO, Any, TypeVar

import msgspec

from pushguard.model import Decision, DecisionRequest
from pushguard.model.files import open_private

log = logging.getLogger("pushguard.api.decisions")
MAX_FIELD_CHARS = 1024
MAX_QUEUED = 10_000
_STOP = object()
T = TypeVar("T", bound=msgspec.Struct)


def bounded(request: DecisionRequest) -> DecisionRequest:
    """The request with every text field (its place's too) cut to MAX_FIELD_CHARS, marked with an
    ellipsis."""
    bounded_request = _cut(request)
    if request.geo is not None:
        geo = _cut(request.geo)
        if geo is not request.geo:
            bounded_request = msgspec.structs.replace(bounded_request, geo=geo)
    return bounded_request


def _cut(value: T) -> T:
    changes: dict[str, Any] = {}
    for name in value.__struct_fields__:
        text = getattr(value, name)
        if isinstance(text, str) and len(text) > MAX_FIELD_CHARS:
            changes[name] = text[: MAX_FIELD_CHARS - 1] + "…"
    return msgspec.structs.replace(value, **changes) if changes else value


class DecisionLog:
    def __init__(self, path: Path, max_bytes: int, keep: int) -> None:
        self.path, self.max_bytes, self.keep = path, max_bytes, keep
        self.dropped = 0
        self._queue: queue.Queue[Any] = queue.Queue(MAX_QUEUED)
        self._encoder = msgspec.json.Encoder()
        self._handle: IO[bytes] | None = None
        self._size = 0
        self._thread = threading.Thread(target=self._run, name="pushguard-decision-log", daemon=True)
        self._thread.start()

    def record(self, request: DecisionRequest, decision: Decision) -> None:
        """Queue one line; never blocks (a full queue drops the line and counts it)."""
        try:
            self._queue.put_nowait((request, decision))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("decision log behind: lines dropped", extra={"dropped": self.dropped})

    def flush(self) -> None:
        """Wait until every line queued so far is written."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    if self._handle is not None:
                        self._handle.close()
                    return
                request, decision = item
                line = self._encoder.encode({"request": bounded(request), "decision": decision}) + b"\n"
                self._write(line)
            except OSError:
                log.exception("decision log not written", extra={"path": str(self.path)})
            finally:
                self._queue.task_done()

    def _write(self, line: bytes) -> None:
        if self._handle is None:
            self._handle = open_private(self.path, "ab", buffering=0)
            self._size = self._handle.seek(0, os.SEEK_END)
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._handle.write(line)
        self._size += len(line)

    def _rotate(self) -> None:
        assert self._handle is not None
        self._handle.close()
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        oldest.unlink(missing_ok=True)
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.rename(self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.keep > 0:
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._handle = open_private(self.path, "ab", buffering=0)
        self._size = 0
