"""Vendor sources: raw records in, canonical Events out. One module per vendor."""

from __future__ import annotations

from typing import Any

from pushguard.model import Provider
from pushguard.sources.base import ParseResult, Record, RecordError, Source, Unmapped
from pushguard.sources.duo import SOURCE as DUO
from pushguard.sources.entra import SOURCE as ENTRA
from pushguard.sources.entra_audit_lines import AUDIT_LINES as ENTRA_AUDIT_LINES
from pushguard.sources.ocsf import SOURCE as OCSF
from pushguard.sources.okta import SOURCE as OKTA
from pushguard.sources.typed import LineSource

# Order matters only for auto-detection: the most specific shapes first.
SOURCES: tuple[Source, ...] = (OCSF, OKTA, ENTRA, DUO)
BY_PROVIDER: dict[Provider, Source] = {source.provider: source for source in SOURCES}
# Sources that decode their JSON Lines straight into typed records (sources.typed).
LINE_SOURCES: dict[Provider, LineSource] = {OKTA.provider: OKTA, ENTRA.provider: ENTRA}


def detect_source(record: Record) -> Source | None:
    """The source whose shape this record has, or None."""
    for source in SOURCES:
        if source.matches(record):
            return source
    return None


def line_source(first: Any, provider: Provider | None) -> LineSource | None:
    """The typed decoder for the lines of a JSON Lines file: the one of ``provider``, else of the vendor
    of its first record. Only a matter of speed: a typed decoder reads a line only when the plain path
    would read it the same way, so a file of mixed vendors is still read right. An Entra file whose first
    record is an audit gets the audit pre-filter (``entra_audit_lines``), the sign-in decoder otherwise."""
    if provider is None:
        found = detect_source(first) if isinstance(first, dict) else None
        if found is None:
            return None
        provider = found.provider
    if provider is Provider.ENTRA and isinstance(first, dict) and "activityDisplayName" in first:
        return ENTRA_AUDIT_LINES
    return LINE_SOURCES.get(provider)


__all__ = [
    "BY_PROVIDER",
    "LINE_SOURCES",
    "SOURCES",
    "LineSource",
    "ParseResult",
    "Record",
    "RecordError",
    "Source",
    "Unmapped",
    "detect_source",
    "line_source",
]
