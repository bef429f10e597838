"""Enrichment: identity linking, geo/ASN, user agents, NHI classification."""

from pushguard.enrich.identity import AliasMap

__all__ = ["AliasMap"]
