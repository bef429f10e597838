"""SQLite state store: the embedded default. One file, no server, survives restarts.

Commits are batched by the pipeline (never one transaction per event); each batch is one transaction
holding state, positions and findings together.

The run ledger: while a run is open (``open_run``), the id of every finding it commits is written beside
the finding, in the same transaction. A run killed and started again on the same inputs reopens its
ledger, so its findings (``run_findings``) are those of an uninterrupted run: the ones committed before
the kill as well as the ones found after it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from pushguard.model import Finding, InputError
from pushguard.model.files import create_private
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
CREATE TABLE IF NOT EXISTS run_finding (run TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (run, id))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    closed INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (closed, seq);
CREATE TABLE IF NOT EXISTS held (
    partition TEXT NOT NULL, position TEXT NOT NULL, event BLOB NOT NULL, PRIMARY KEY (partition, position)
) WITHOUT ROWID;
"""


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            with contextlib.suppress(OSError):  # a missing directory: sqlite3 says so below
                create_private(self.path)  # SQLite creates its -wal and -shm files with the same mode
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
        self._run: str | None = None

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
            if self._run is not None:
                db.executemany(
                    "INSERT OR IGNORE INTO run_finding VALUES (?, ?)",
                    [(self._run, f.id) for f in batch.findings],
                )
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
            db.executemany(
                "INSERT OR IGNORE INTO outbox (key, closed, body) VALUES (?, 0, ?)", batch.outbox.items()
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- the closed loop's outbox ------------------------------------------------------------------

    def outbox_open(self) -> list[tuple[str, bytes]]:
        rows = self._db.execute("SELECT key, body FROM outbox WHERE closed=0 ORDER BY seq")
        return [(str(key), bytes(body)) for key, body in rows]

    def outbox_entry(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT body FROM outbox WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def outbox_update(self, key: str, entry: bytes, *, closed: bool) -> None:
        self._db.execute("UPDATE outbox SET body=?, closed=? WHERE key=?", (entry, int(closed), key))

    def state_keys(self) -> Iterator[str]:
        # fetched up front: the caller commits while it iterates
        return iter([row[0] for row in self._db.execute("SELECT key FROM state")])

    def position(self, partition: str) -> str | None:
        row = self._db.execute("SELECT value FROM position WHERE partition=?", (partition,)).fetchone()
        return None if row is None else str(row[0])

    def findings(self) -> list[Finding]:
        rows = self._db.execute("SELECT body FROM finding ORDER BY detected_at, id")
        return [decode_finding(body) for (body,) in rows]

    # -- events held for ordering (the service's ingestion, api.ordering) ---------------------------

    def hold(self, partition: str, events: Sequence[tuple[str, bytes]]) -> None:
        """Keep (position, encoded event) pairs until released; a position already held is kept once."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT OR IGNORE INTO held VALUES (?, ?, ?)", [(partition, pos, blob) for pos, blob in events]
        )
        db.execute("COMMIT")

    def held(self, partition: str) -> list[tuple[str, bytes]]:
        rows = self._db.execute(
            "SELECT position, event FROM held WHERE partition=? ORDER BY position", (partition,)
        )
        return [(str(pos), bytes(blob)) for pos, blob in rows]

    def unhold(self, partition: str, upto: str) -> None:
        """Forget the held events up to ``upto`` (their effect is committed)."""
        self._db.execute("DELETE FROM held WHERE partition=? AND position<=?", (partition, upto))

    # -- the run ledger ----------------------------------------------------------------------------

    def open_run(self, run: str) -> bool:
        """Record the findings of the run ``run`` (a name for its inputs) from now on. True when it
        resumes that run, left open by a process that did not finish; another open run is forgotten."""
        db = self._db
        row = db.execute("SELECT value FROM meta WHERE name='run'").fetchone()
        resumed = row is not None and row[0] == run
        db.execute("BEGIN IMMEDIATE")
        if not resumed:
            db.execute("DELETE FROM run_finding")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('run', ?)", (run,))
        db.execute("COMMIT")
        self._run = run
        return resumed

    def run_findings(self) -> list[Finding]:
        """The open run's findings, at their highest revision, ordered by detected_at then id."""
        rows = self._db.execute(
            "SELECT body FROM finding JOIN run_finding USING (id) WHERE run=? ORDER BY detected_at, id",
            (self._run,),
        )
        return [decode_finding(body) for (body,) in rows]

    def close_run(self) -> None:
        """The run finished: its ledger is dropped (a later run of the same inputs is a new run)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM run_finding")
        db.execute("DELETE FROM meta WHERE name='run'")
        db.execute("COMMIT")
        self._run = None

    def ping(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self._db.close()
