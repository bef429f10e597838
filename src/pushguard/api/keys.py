"""API keys with scopes, stored hashed.

A key is ``pg_<id>_<secret>``: the id names it in logs and lists, the secret (32 random bytes) is shown
once at creation. The file keeps SHA-256(secret) only. A slow password hash (bcrypt, argon2) is for
low-entropy secrets people choose; a 256-bit random secret cannot be brute-forced from its SHA-256, and a
fast hash keeps every request cheap. Comparison is constant-time (``hmac.compare_digest``).

The server and ``pushguard keys`` share the file: the server notices a change (a stat per check) and
reloads it, so a revoked key stops working without a restart. Every change (create, revoke) reads the
file and writes it back under an exclusive lock (``<keys_file>.lock``), so two processes changing keys at
once lose neither change: a revocation is never undone by a concurrent create."""

from __future__ import annotations

import enum
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from pushguard.model import ConfigError

log = logging.getLogger("pushguard.api.keys")


class Scope(enum.StrEnum):
    DECIDE = "decide"
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"  # every scope


class StoredKey(msgspec.Struct, kw_only=True):
    id: str
    name: str
    scopes: list[Scope]
    sha256: str
    created: str
    revoked: bool = False


class KeyFile(msgspec.Struct, kw_only=True):
    keys: list[StoredKey] = []


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._keys: dict[str, StoredKey] = {}
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime) of the file last read
        self.reload()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def reload(self) -> None:
        stamp = self._stamp()
        if stamp is None:
            self._keys, self._seen = {}, None
            return
        try:
            data = msgspec.json.decode(self.path.read_bytes(), type=KeyFile)
        except (OSError, msgspec.DecodeError) as exc:
            raise ConfigError(f"{self.path}: not a pushguard key file: {exc}") from exc
        self._keys, self._seen = {key.id: key for key in data.keys}, stamp

    def refresh(self) -> None:
        """Reload when the file changed since it was read. A file that became unreadable keeps the keys
        last read (writes are atomic replacements, so this is an operator's mistake, logged loudly)."""
        if self._stamp() == self._seen:
            return
        try:
            self.reload()
        except ConfigError as exc:
            log.error("key file not reloaded, keeping the keys read before", extra={"reason": str(exc)})

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Read the file afresh and write it back, with no other change in between (any process)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.reload()
            yield
            self._save()
        finally:
            os.close(fd)  # releases the lock

    def _save(self) -> None:
        body = msgspec.json.format(msgspec.json.encode(KeyFile(keys=list(self._keys.values()))))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)  # atomic: a crash leaves the old file or the new one
        self._seen = self._stamp()

    def create(self, name: str, scopes: list[Scope]) -> tuple[StoredKey, str]:
        """A new key; the returned token is the only time the secret is seen."""
        if not name.strip():
            raise ValueError("a key needs a name (who or what uses it)")
        if not scopes:
            raise ValueError("a key needs at least one scope")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        stored = StoredKey(
            id=key_id,
            name=name,
            scopes=sorted(set(scopes)),
            sha256=_digest(secret),
            created=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        )
        with self._changing():  # another process may have added or revoked keys since
            self._keys[key_id] = stored
        return stored, f"pg_{key_id}_{secret}"

    def revoke(self, key_id: str) -> StoredKey:
        with self._changing():
            key = self._keys.get(key_id)
            if key is None:
                raise KeyError(key_id)
            key.revoked = True
        return key

    def list(self) -> list[StoredKey]:
        self.refresh()
        return sorted(self._keys.values(), key=lambda k: k.created)

    def verify(self, token: str) -> StoredKey | None:
        """The key this token is, if it is valid and not revoked (constant-time on the secret)."""
        self.refresh()
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "pg":
            return None
        key = self._keys.get(parts[1])
        candidate = _digest(parts[2])
        expected = key.sha256 if key is not None else _digest("")  # same work for unknown ids
        if not hmac.compare_digest(candidate, expected) or key is None or key.revoked:
            return None
        return key


def allows(key: StoredKey, scope: Scope) -> bool:
    return scope in key.scopes or Scope.ADMIN in key.scopes
