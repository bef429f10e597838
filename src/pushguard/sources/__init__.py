"""Vendor sources: raw records in, canonical Events out. One module per vendor."""

from __future__ import annotations

from pushguard.model import Provider
from pushguard.sources.base import ParseResult, Record, RecordError, Source, Unmapped
from pushguard.sources.duo import SOURCE as DUO
from pushguard.sources.entra import SOURCE as ENTRA
from pushguard.sources.ocsf import SOURCE as OCSF
from pushguard.sources.okta import SOURCE as OKTA

# Order matters only for auto-detection: the most specific shapes first.
SOURCES: tuple[Source, ...] = (OCSF, OKTA, ENTRA, DUO)
BY_PROVIDER: dict[Provider, Source] = {source.provider: source for source in SOURCES}


def detect_source(record: Record) -> Source | None:
    """The source whose shape this record has, or None."""
    for source in SOURCES:
        if source.matches(record):
            return source
    return None


__all__ = [
    "BY_PROVIDER",
    "SOURCES",
    "ParseResult",
    "Record",
    "RecordError",
    "Source",
    "Unmapped",
    "detect_source",
]
