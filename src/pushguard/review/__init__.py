"""Periodic reviews over analyzed logs: enrollment (and removal) provenance."""
