"""Event-time order for what the service ingests over HTTP (``/v1/events``, the Okta event hook).

Deliveries arrive in any order and may be replayed (Okta retries, a sender resends a batch). Events are
held until the newest event time seen has moved ``reorder_window_s`` past them, then released to the
Engine in (time, provider, id) order, the order ``analyze`` uses. An event behind what was already
released (a replay, or one later than the window) is not applied and is counted as late, as ``analyze``
counts and skips the records beyond its reorder buffer; a second copy of an event still held is kept
once. So detectors never see time go backwards, and a replayed delivery adds nothing, however old.

The Engine's replay guard (the partition's committed position) makes a release applied twice (a crash
between the commit and ``applied``) count once. With a SQLite state the held events are kept in the
state file: a delivery answered 204 is not lost when the process dies before its events are released.
When nothing new arrives for ``reorder_window_s`` of wall-clock time, what is held is released anyway
(``due(everything=True)``): the window orders, it never withholds events from decide for long."""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable

import msgspec

from pushguard.flow import position_key
from pushguard.model import Event
from pushguard.store import SqliteStore, StateStore

PARTITION = "http"  # the Engine partition of everything ingested over HTTP

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Event)


class HeldEvents:
    """The reorder buffer of HTTP ingestion. Not thread-safe: the service calls it under its lock."""

    def __init__(self, store: StateStore, window_s: float) -> None:
        self.window_s = window_s
        self._durable = store if isinstance(store, SqliteStore) else None
        self._heap: list[tuple[str, Event]] = []
        self._keys: set[str] = set()
        self.released: str | None = store.position(PARTITION)  # last position handed to the Engine
        self.watermark = 0.0  # newest event time accepted
        self.last_arrival = time.monotonic()
        if self._durable is not None:
            for key, blob in self._durable.held(PARTITION):
                self._push(key, _decoder.decode(blob))

    def __len__(self) -> int:
        return len(self._heap)

    def _push(self, key: str, event: Event) -> None:
        heapq.heappush(self._heap, (key, event))
        self._keys.add(key)
        if event.ts > self.watermark:
            self.watermark = event.ts

    def add(self, events: Iterable[Event]) -> tuple[int, int]:
        """Hold the events not seen yet; returns (late, duplicates): events behind the ones released,
        and second copies of events still held. Durable before it returns (with a SQLite state)."""
        fresh: list[tuple[str, bytes]] = []
        late = duplicates = 0
        for event in events:
            key = position_key(event)
            if self.released is not None and key <= self.released:
                late += 1
            elif key in self._keys:
                duplicates += 1
            else:
                self._push(key, event)
                fresh.append((key, _encoder.encode(event)))
        if fresh:
            self.last_arrival = time.monotonic()
            if self._durable is not None:
                self._durable.hold(PARTITION, fresh)
        return late, duplicates

    def due(self, everything: bool = False) -> list[tuple[str, Event]]:
        """Take the events the window has passed (all of them with ``everything``), in order."""
        mark = self.watermark - self.window_s
        out: list[tuple[str, Event]] = []
        heap = self._heap
        while heap and (everything or heap[0][1].ts <= mark):
            key, event = heapq.heappop(heap)
            self._keys.discard(key)
            out.append((key, event))
        if out:
            self.released = out[-1][0]
        return out

    def idle(self) -> bool:
        """Nothing new arrived for a window's worth of wall-clock time."""
        return time.monotonic() - self.last_arrival >= self.window_s

    def applied(self, upto: str) -> None:
        """The effect of the released events up to ``upto`` is committed: forget them."""
        if self._durable is not None:
            self._durable.unhold(PARTITION, upto)
