"""Enrichment: identity linking, geo/ASN, user agents, NHI classification."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pushguard.enrich.country import CountryEnricher, country_code
from pushguard.enrich.gazetteer import GazetteerEnricher
from pushguard.enrich.geo import GeoEnricher
from pushguard.enrich.identity import AliasMap
from pushguard.enrich.useragent import UserAgentEnricher
from pushguard.model import Event

Enricher = Callable[[Event], Event]


def build_enrichers(
    city_db: Path | None = None, asn_db: Path | None = None, bundled: bool = True, gazetteer: bool = True
) -> list[Enricher]:
    """The enrichers in the order they run: geo/ASN (vendor, then the user's MaxMind files, then the
    bundled offline database), country names to ISO codes, city coordinates for places named without
    a point (the bundled gazetteer: after the country step, so it looks up by ISO code, and after the
    MaxMind files, whose point for the address comes first), then user agents. Identity linking
    (AliasMap) is applied by the pipeline when it parses."""
    enrichers: list[Enricher] = [
        GeoEnricher(city_db=city_db, asn_db=asn_db, bundled=bundled),
        CountryEnricher(),
    ]
    if gazetteer:
        enrichers.append(GazetteerEnricher())
    enrichers.append(UserAgentEnricher())
    return enrichers


__all__ = [
    "AliasMap",
    "CountryEnricher",
    "Enricher",
    "GazetteerEnricher",
    "GeoEnricher",
    "UserAgentEnricher",
    "build_enrichers",
    "country_code",
]
