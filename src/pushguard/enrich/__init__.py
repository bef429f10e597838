"""Enrichment: identity linking, geo/ASN, user agents, NHI classification."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pushguard.enrich.country import CountryEnricher, country_code
from pushguard.enrich.geo import GeoEnricher
from pushguard.enrich.identity import AliasMap
from pushguard.enrich.useragent import UserAgentEnricher
from pushguard.model import Event

Enricher = Callable[[Event], Event]


def build_enrichers(
    city_db: Path | None = None, asn_db: Path | None = None, bundled: bool = True
) -> list[Enricher]:
    """The enrichers in the order they run: geo/ASN (vendor, then the user's MaxMind files, then the
    bundled offline database), country names to ISO codes, then user agents. Identity linking
    (AliasMap) is applied by the pipeline when it parses."""
    return [
        GeoEnricher(city_db=city_db, asn_db=asn_db, bundled=bundled),
        CountryEnricher(),
        UserAgentEnricher(),
    ]


__all__ = [
    "AliasMap",
    "CountryEnricher",
    "Enricher",
    "GeoEnricher",
    "UserAgentEnricher",
    "build_enrichers",
    "country_code",
]
