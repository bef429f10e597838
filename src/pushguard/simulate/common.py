"""Shared pieces of the simulator: deterministic ids, vendor time formats, and the log collector.

Everything random comes from one ``random.Random(seed)``; nothing reads the clock."""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

# The simulated period starts on a Monday (UTC), early in January: weeks before daylight saving time starts
# or ends anywhere in the tenant, so every place keeps one UTC offset.
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)

OKTA_LOG = "okta/system-log.jsonl"
ENTRA_SIGNINS = "entra/signins.jsonl"
ENTRA_AUDIT = "entra/audit.jsonl"
DUO_AUTH = "duo/authlogs.jsonl"
DUO_ADMIN = "duo/admin.jsonl"
# With a history period: its logs, and those of the scored period, in these subdirectories.
HISTORY_DIR = "history"
SCORED_DIR = "scored"
# Okta exports oldest first; Graph and Duo API pages come newest first, and are written that way.
NEWEST_FIRST = frozenset({ENTRA_SIGNINS, ENTRA_AUDIT, DUO_AUTH, DUO_ADMIN})

_ALNUM = string.ascii_letters + string.digits
_UPPER = string.ascii_uppercase + string.digits


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def token(rng: random.Random, length: int, alphabet: str = _ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def upper_token(rng: random.Random, length: int) -> str:
    return token(rng, length, _UPPER)


def okta_time(moment: datetime) -> str:
    """Okta ``published``: milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def graph_time(moment: datetime) -> str:
    """Graph ``createdDateTime`` / ``activityDateTime``: seconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duo_iso(moment: datetime) -> str:
    """Duo ``isotimestamp``: microseconds and ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def duo_admin_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jitter(rng: random.Random, low: float, high: float) -> timedelta:
    """A random duration between ``low`` and ``high`` seconds, to the millisecond."""
    return timedelta(milliseconds=rng.randint(int(low * 1000), int(high * 1000)))


@dataclass(slots=True)
class Logs:
    """Every record written, per log file, with its time and vendor event id."""

    records: dict[str, list[tuple[datetime, str, dict[str, Any]]]] = field(default_factory=dict)

    def add(self, log: str, when: datetime, event_id: str, record: dict[str, Any]) -> str:
        self.records.setdefault(log, []).append((when, event_id, record))
        return event_id

    def count(self) -> int:
        return sum(len(items) for items in self.records.values())

    def write(self, out_dir: Path, split_at: datetime | None = None) -> dict[str, int]:
        """One JSON Lines file per log, in the vendor's order; returns records per file (relative path).

        With ``split_at``, records before it go under ``out_dir/history/`` and the rest under
        ``out_dir/scored/`` (the same log names in both)."""
        encoder = msgspec.json.Encoder()
        written: dict[str, int] = {}
        for log in sorted(self.records):
            items = sorted(self.records[log], key=lambda item: (item[0], item[1]))
            parts = [(log, items)]
            if split_at is not None:
                parts = [
                    (f"{HISTORY_DIR}/{log}", [item for item in items if item[0] < split_at]),
                    (f"{SCORED_DIR}/{log}", [item for item in items if item[0] >= split_at]),
                ]
            for name, part in parts:
                if log in NEWEST_FIRST:
                    part = part[::-1]
                path = out_dir / name
                path.parent.mkdir(parents=True, exist_ok=True)
                buffer = bytearray()
                for _, _, record in part:
                    buffer += encoder.encode(record)
                    buffer += b"\n"
                path.write_bytes(bytes(buffer))
                written[name] = len(part)
        return written
