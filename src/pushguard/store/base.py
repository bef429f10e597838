"""The state interface: per-key state blobs, input positions and findings, committed together.

Exactly-once effect (DESIGN.md): the position of the last applied record per partition is written in
the same transaction as the state it produced, so a crash between two commits replays records whose
effect was lost with them, and skips the ones whose effect was kept."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from pushguard.model import Finding

_finding_encoder = msgspec.json.Encoder()
_finding_decoder = msgspec.json.Decoder(Finding)


@dataclass
class Commit:
    states: dict[str, bytes] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # The closed loop's outbox: intent key → entry, written with the findings that planned them; a key
    # already there is left as it is (a replayed finding does not re-open an intent applied since).
    outbox: dict[str, bytes] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.states or self.positions or self.findings or self.outbox)


class StateStore(Protocol):
    def load(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored blobs of those keys that exist."""
        ...

    def commit(self, batch: Commit) -> None:
        """Apply states, positions and findings atomically (findings keep their highest revision)."""
        ...

    def state_keys(self) -> Iterator[str]:
        """Every stored state key (identities and second-stage keys), in no particular order."""
        ...

    def position(self, partition: str) -> str | None: ...

    def findings(self) -> list[Finding]:
        """Every stored finding at its highest revision, ordered by detected_at then id."""
        ...

    def ping(self) -> bool: ...

    def outbox_open(self) -> list[tuple[str, bytes]]:
        """The outbox entries not yet closed (applied and acknowledged, or given up), oldest first."""
        ...

    def outbox_entry(self, key: str) -> bytes | None:
        """One outbox entry, open or closed; None when there is none."""
        ...

    def outbox_update(self, key: str, entry: bytes, *, closed: bool) -> None:
        """Replace an entry (an attempt, its outcome); ``closed`` takes it off the open list."""
        ...

    def close(self) -> None: ...


def encode_finding(finding: Finding) -> bytes:
    return _finding_encoder.encode(finding)


def decode_finding(data: bytes) -> Finding:
    return _finding_decoder.decode(data)


def keep_highest(current: dict[str, Finding], incoming: Iterable[Finding]) -> None:
    for finding in incoming:
        old = current.get(finding.id)
        if old is None or finding.revision > old.revision:
            current[finding.id] = finding


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.detected_at, f.id))
