"""Canonical types shared by every layer. Imports nothing of ours."""

from pushguard.model.errors import ConfigError, InputError, ParseError, PushguardError
from pushguard.model.event import (
    PHISHING_RESISTANT_FACTORS,
    PROMPT_KINDS,
    PUSH_FACTORS,
    PUSH_OUTCOME_KINDS,
    Device,
    Event,
    EventKind,
    Factor,
    Geo,
    GeoSource,
    Principal,
    PrincipalType,
    Provider,
    RawRef,
    UserKind,
)
from pushguard.model.finding import Finding, FindingStatus, Severity, stable_id
from pushguard.model.profile import IdentityProfile, LastPlace

__all__ = [
    "PHISHING_RESISTANT_FACTORS",
    "PROMPT_KINDS",
    "PUSH_FACTORS",
    "PUSH_OUTCOME_KINDS",
    "ConfigError",
    "Device",
    "Event",
    "EventKind",
    "Factor",
    "Finding",
    "FindingStatus",
    "Geo",
    "GeoSource",
    "IdentityProfile",
    "InputError",
    "LastPlace",
    "ParseError",
    "Principal",
    "PrincipalType",
    "Provider",
    "PushguardError",
    "RawRef",
    "Severity",
    "UserKind",
    "stable_id",
]
