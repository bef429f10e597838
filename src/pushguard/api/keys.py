"""API keys with scopes, stored hashed.

A key is ``pg_<id>_<secret>``: the id names it in logs and lists, the secret (32 random bytes) is shown
once at creation. The file keeps SHA-256(secret) only. A slow password hash (bcrypt, argon2) is for
low-entropy secrets people choose; a 256-bit random secret cannot be brute-forced from its SHA-256, and a
fast hash keeps every request cheap. Comparison is constant-time (``hmac.compare_digest``)."""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from pushguard.model import ConfigError


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
        self.reload()

    def reload(self) -> None:
        if not self.path.exists():
            self._keys = {}
            return
        try:
            data = msgspec.json.decode(self.path.read_bytes(), type=KeyFile)
        except (OSError, msgspec.DecodeError) as exc:
            raise ConfigError(f"{self.path}: not a pushguard key file: {exc}") from exc
        self._keys = {key.id: key for key in data.keys}

    def _save(self) -> None:
        body = msgspec.json.format(msgspec.json.encode(KeyFile(keys=list(self._keys.values()))))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)  # atomic: a crash leaves the old file or the new one

    def create(self, name: str, scopes: list[Scope]) -> tuple[StoredKey, str]:
        """A new key; the returned token is the only time the secret is seen."""
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
        self._keys[key_id] = stored
        self._save()
        return stored, f"pg_{key_id}_{secret}"

    def revoke(self, key_id: str) -> StoredKey:
        key = self._keys.get(key_id)
        if key is None:
            raise KeyError(key_id)
        key.revoked = True
        self._save()
        return key

    def list(self) -> list[StoredKey]:
        return sorted(self._keys.values(), key=lambda k: k.created)

    def verify(self, token: str) -> StoredKey | None:
        """The key this token is, if it is valid and not revoked (constant-time on the secret)."""
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
