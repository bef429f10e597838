"""SQLite state store: the embedded default. One file, no server, survives restarts.

Commits are batched by the pipeline (never one transaction per event); each batch is one transaction
holding state, positions and findings together."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from pushguard.model import Finding, InputError
from pushguard.store.base import Commit, decode_finding, encode_finding

SCHEMA_VERSION = 3  # 2: profile.recent_ids are 64-bit hashes; 3: new_context refusals in whole seconds
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS position (partition TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS finding (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    user TEXT NOT NULL,
    detector TEXT NOT NULL,
    severity TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    body BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS finding_user ON finding (user, detected_at);
"""


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a pushguard state file ({exc})") from exc
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise InputError(f"{self.path}: state schema {row[0]}, this pushguard reads {SCHEMA_VERSION}")

    def load(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, value in self._db.execute(f"SELECT key, value FROM state WHERE key IN ({marks})", chunk):
                found[key] = value
        return found

    def commit(self, batch: Commit) -> None:
        if not batch:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", batch.states.items())
            db.executemany("INSERT OR REPLACE INTO position VALUES (?, ?)", batch.positions.items())
            db.executemany(
                "INSERT INTO finding VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "revision=excluded.revision, user=excluded.user, detector=excluded.detector, "
                "severity=excluded.severity, detected_at=excluded.detected_at, body=excluded.body "
                "WHERE excluded.revision > finding.revision",
                [
                    (f.id, f.revision, f.user, f.detector, f.severity.value, f.detected_at, encode_finding(f))
                    for f in batch.findings
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def state_keys(self) -> Iterator[str]:
        # fetched up front: the caller commits while it iterates
        return iter([row[0] for row in self._db.execute("SELECT key FROM state")])

    def position(self, partition: str) -> str | None:
        row = self._db.execute("SELECT value FROM position WHERE partition=?", (partition,)).fetchone()
        return None if row is None else str(row[0])

    def findings(self) -> list[Finding]:
        rows = self._db.execute("SELECT body FROM finding ORDER BY detected_at, id")
        return [decode_finding(body) for (body,) in rows]

    def ping(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self._db.close()
