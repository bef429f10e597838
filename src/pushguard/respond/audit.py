"""The append-only audit log: JSON Lines, each line hash-chained to the one before it.

Every line carries ``seq``, ``prev`` (the previous line's hash; 64 zeros for the first) and ``hash`` =
SHA-256 over ``prev`` and the line's canonical JSON without ``hash``. Editing, deleting or reordering
any line breaks the chain from there on, and ``verify`` names the first broken line. The log is never
rewritten: it is opened for append under an exclusive lock, and each line is fsynced."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pushguard.model import InputError

GENESIS = "0" * 64


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev: str, entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(prev.encode() + b"\n" + _canonical(body)).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ChainError(InputError):
    """The audit log was altered: the message names the first line that does not chain."""


def read_chain(path: Path) -> Iterator[dict[str, Any]]:
    """The log's entries in order, checking the chain as it goes (ChainError at the first break)."""
    prev = GENESIS
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ChainError(f"{path}:{number}: not UTF-8 text") from None
            if not line.strip():
                raise ChainError(f"{path}:{number}: blank line inside the audit log")
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise ChainError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(entry, dict):
                raise ChainError(f"{path}:{number}: not a JSON object")
            if entry.get("seq") != number or entry.get("prev") != prev:
                raise ChainError(f"{path}:{number}: out of sequence (a line was removed or reordered)")
            if entry.get("hash") != chain_hash(prev, entry):
                raise ChainError(f"{path}:{number}: hash mismatch (the line was edited)")
            prev = entry["hash"]
            yield entry


def verify(path: Path) -> int:
    """Number of entries in an intact log; ChainError otherwise."""
    return sum(1 for _ in read_chain(path))


class AuditLog:
    """Appends entries to the chain. Opening verifies the existing chain and refuses a broken one."""

    def __init__(self, path: Path, clock: Callable[[], str] = _now) -> None:
        self.path = path
        self._clock = clock
        self.entries: list[dict[str, Any]] = []
        if path.exists():
            self.entries = list(read_chain(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        with self.path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                # Another process may have appended since we read: re-read the tail under the lock.
                if self.path.stat().st_size and self._stale():
                    self.entries = list(read_chain(self.path))
                prev = self.entries[-1]["hash"] if self.entries else GENESIS
                entry: dict[str, Any] = {"seq": len(self.entries) + 1, "at": self._clock(), "prev": prev}
                entry.update(record)
                entry["hash"] = chain_hash(prev, entry)
                handle.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        self.entries.append(entry)
        return entry

    def _stale(self) -> bool:
        with self.path.open("rb") as handle:
            lines = sum(1 for _ in handle)
        return lines != len(self.entries)
