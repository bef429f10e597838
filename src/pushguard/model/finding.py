"""The Finding contract (DESIGN.md): one JSON object per line in every sink."""

from __future__ import annotations

import enum
import hashlib

import msgspec


class Severity(enum.StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class FindingStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    SUPPRESSED = "suppressed"


class FindingRevision(msgspec.Struct, frozen=True, kw_only=True):
    """An earlier revision of a finding: when it reached which severity, and what it said then."""

    revision: int
    severity: Severity
    detected_at: str
    title: str


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    revision: int
    status: FindingStatus
    incident: str
    detector: str
    title: str
    severity: Severity
    confidence: float
    user: str
    provider: str
    first_seen: str
    last_seen: str
    detected_at: str
    techniques: list[str]
    frameworks: dict[str, list[str]]
    evidence: list[str]
    source_ips: list[str]
    reasons: list[str]
    actions: list[str]
    # when revision 1 fired: the moment a responder could first have known ("" before the field existed)
    first_detected_at: str = ""
    history: list[FindingRevision] = []  # earlier revisions, oldest first
    # The accounts a finding about a source (a spray from one IP / ASN) targeted, bounded (its reasons
    # give the total). Unset, and so not written, on every other finding.
    targets: list[str] | msgspec.UnsetType = msgspec.UNSET

    def with_history_of(self, earlier: Finding) -> Finding:
        """This revision, carrying ``earlier``'s first detection and history plus ``earlier`` itself."""
        entry = FindingRevision(
            revision=earlier.revision,
            severity=earlier.severity,
            detected_at=earlier.detected_at,
            title=earlier.title,
        )
        return msgspec.structs.replace(
            self,
            first_detected_at=earlier.first_detected_at or earlier.detected_at,
            history=[*earlier.history, entry],
        )


def stable_id(*parts: str) -> str:
    """A short, stable identifier from its parts (same parts, same id, any process)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()
    return digest
