"""In-memory state store: tests, one-shot analysis, the decide benchmark."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pushguard.model import Finding
from pushguard.store.base import Commit, keep_highest, sort_findings


class MemoryStore:
    def __init__(self) -> None:
        self._states: dict[str, bytes] = {}
        self._positions: dict[str, str] = {}
        self._findings: dict[str, Finding] = {}
        self._outbox: dict[str, tuple[bytes, bool]] = {}  # key → (entry, closed), in insertion order

    def load(self, keys: Sequence[str]) -> dict[str, bytes]:
        return {key: self._states[key] for key in keys if key in self._states}

    def commit(self, batch: Commit) -> None:
        self._states.update(batch.states)
        self._positions.update(batch.positions)
        keep_highest(self._findings, batch.findings)
        for key, entry in batch.outbox.items():
            self._outbox.setdefault(key, (entry, False))

    def state_keys(self) -> Iterator[str]:
        return iter(list(self._states))

    def position(self, partition: str) -> str | None:
        return self._positions.get(partition)

    def findings(self) -> list[Finding]:
        return sort_findings(self._findings.values())

    def outbox_open(self) -> list[tuple[str, bytes]]:
        # a copy first: the closed loop reads while the Engine's thread commits
        return [(key, entry) for key, (entry, closed) in list(self._outbox.items()) if not closed]

    def outbox_entry(self, key: str) -> bytes | None:
        found = self._outbox.get(key)
        return None if found is None else found[0]

    def outbox_update(self, key: str, entry: bytes, *, closed: bool) -> None:
        self._outbox[key] = (entry, closed)

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        return None
