"""The append-only audit log: JSON Lines, each line hash-chained to the one before it.

Every line carries ``seq``, ``prev`` (the previous line's hash; 64 zeros for the first) and ``hash``
over ``prev`` and the line's canonical JSON without ``hash``. Editing, deleting or reordering any line
breaks the chain from there on, and ``verify`` names the first broken line. The log is never rewritten:
it is opened for append under an exclusive lock, and each line is fsynced.

A chain alone does not stop someone who can write the file: they can cut its tail, empty it, or edit a
line and hash it again. Two anchors do. With a key (``PUSHGUARD_AUDIT_KEY``) the hash is an
HMAC-SHA256 (``"mac": "hmac-sha256"`` on each line), which nobody without the key can compute; a keyed
log refuses unkeyed lines and the reverse, so it cannot be downgraded. And the head (the last line's
``seq`` and ``hash``) goes out with every notification, so a receiver holds a copy the writer of the
file cannot take back: ``audit-verify --head SEQ:HASH`` fails when that line is gone or differs."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from pushguard.model import ConfigError, InputError
from pushguard.model.files import open_private, private_dir

GENESIS = "0" * 64
KEY_ENV = "PUSHGUARD_AUDIT_KEY"
MAC = "hmac-sha256"
MIN_KEY_LENGTH = 16


class Head(NamedTuple):
    """The last line of a log (seq 0 and the genesis hash when it is empty)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"a head is SEQ:HASH (a line number and 64 hex digits), not {text!r}")
        return cls(int(seq), digest)


def audit_key(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The audit key from the environment, or None when it is not set."""
    value = (os.environ if environ is None else environ).get(KEY_ENV, "")
    if not value:
        return None
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(f"{KEY_ENV} must be at least {MIN_KEY_LENGTH} characters (a guessable key is none)")
    return value.encode()


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev: str, entry: dict[str, Any], key: bytes | None = None) -> str:
    """SHA-256 over the previous hash and the line without its hash; an HMAC-SHA256 with ``key``."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    message = prev.encode() + b"\n" + _canonical(body)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ChainError(InputError):
    """The audit log was altered: the message names the first line that does not chain."""


class AuditKeyError(ConfigError):
    """The log is keyed and no key was given (not an alteration: the check cannot be made)."""


def read_chain(path: Path, key: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The log's entries in order, checking the chain as it goes (ChainError at the first break). With
    ``key`` every line must be keyed; without it, a keyed log is an AuditKeyError."""
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
            mac = entry.get("mac")
            if mac is not None and mac != MAC:
                raise ChainError(f"{path}:{number}: unknown mac {mac!r}")
            if mac is not None and key is None:
                raise AuditKeyError(f"{path}: the log is keyed: set {KEY_ENV} to verify it or append to it")
            if mac is None and key is not None:
                raise ChainError(
                    f"{path}:{number}: not keyed (written without {KEY_ENV}, or hashed again by someone "
                    "without the key)"
                )
            stated = entry.get("hash")
            if not isinstance(stated, str) or not hmac.compare_digest(stated, chain_hash(prev, entry, key)):
                raise ChainError(f"{path}:{number}: hash mismatch (the line was edited)")
            prev = stated
            yield entry


def verify(path: Path, key: bytes | None = None) -> int:
    """Number of entries in an intact log; ChainError otherwise."""
    return verify_head(path, key).seq


def verify_head(path: Path, key: bytes | None = None, anchor: Head | None = None) -> Head:
    """The head of an intact log; ChainError when the chain is broken, or when ``anchor`` (a head sent
    with a notification) is not a line of it: the log was cut, emptied or rewritten since."""
    head = Head(0, GENESIS)
    anchored = anchor is None or anchor == head
    for entry in read_chain(path, key):
        head = Head(entry["seq"], entry["hash"])
        if anchor is not None and head.seq == anchor.seq:
            if head.hash != anchor.hash:
                raise ChainError(f"{path}:{head.seq}: not the line the head {anchor} names (rewritten)")
            anchored = True
    if not anchored:
        raise ChainError(f"{path}: ends at line {head.seq}, before the head {anchor} (cut or emptied)")
    return head


class AuditLog:
    """Appends entries to the chain. Opening verifies the existing chain and refuses a broken one."""

    def __init__(self, path: Path, clock: Callable[[], str] = _now, key: bytes | None = None) -> None:
        self.path = path
        self._clock = clock
        self._key = key
        self.entries: list[dict[str, Any]] = []
        if path.exists():
            self.entries = list(read_chain(path, key))
        else:
            private_dir(path.parent)

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        with open_private(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                # Another process may have appended since we read: re-read the tail under the lock.
                if self.path.stat().st_size and self._stale():
                    self.entries = list(read_chain(self.path, self._key))
                prev = self.entries[-1]["hash"] if self.entries else GENESIS
                entry: dict[str, Any] = {"seq": len(self.entries) + 1, "at": self._clock(), "prev": prev}
                entry.update(record)
                entry.pop("mac", None)
                if self._key is not None:
                    entry["mac"] = MAC
                entry["hash"] = chain_hash(prev, entry, self._key)
                handle.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        self.entries.append(entry)
        return entry

    @property
    def head(self) -> Head:
        """The last line written or read: what a notification carries as the log's anchor."""
        if not self.entries:
            return Head(0, GENESIS)
        return Head(self.entries[-1]["seq"], self.entries[-1]["hash"])

    def _stale(self) -> bool:
        with self.path.open("rb") as handle:
            lines = sum(1 for _ in handle)
        return lines != len(self.entries)
