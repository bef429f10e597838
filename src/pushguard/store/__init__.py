"""State backends: memory, SQLite (embedded default), Redis (shared)."""

from pushguard.store.base import Commit, StateStore
from pushguard.store.memory import MemoryStore
from pushguard.store.sqlite import SqliteStore

__all__ = ["Commit", "MemoryStore", "SqliteStore", "StateStore"]
