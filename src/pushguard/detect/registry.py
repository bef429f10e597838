"""All detectors, and building the enabled set from a config mapping (id → tunables | false)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pushguard.detect.approval_after_denials import ApprovalAfterDenials
from pushguard.detect.assurance_gap import AssuranceGap
from pushguard.detect.base import Detector, DetectorMeta
from pushguard.detect.enrollment_abuse import EnrollmentAbuse
from pushguard.detect.fraud_report import FraudReport
from pushguard.detect.impossible_travel import ImpossibleTravel
from pushguard.detect.new_context import NewContext
from pushguard.detect.nhi_interactive_mfa import NhiInteractiveMfa
from pushguard.detect.password_spray import PasswordSpray
from pushguard.detect.privileged_after_risky_approval import PrivilegedAfterRiskyApproval
from pushguard.detect.push_bombing import PushBombing
from pushguard.detect.push_fatigue import PushFatigue
from pushguard.detect.push_spray import PushSpray, PushSprayAsn
from pushguard.detect.requester_responder_mismatch import RequesterResponderMismatch
from pushguard.detect.reset_enroll_chain import ResetEnrollChain

DETECTOR_TYPES: tuple[type[Any], ...] = (
    PushBombing,
    PushFatigue,
    ApprovalAfterDenials,
    RequesterResponderMismatch,
    ImpossibleTravel,
    NewContext,
    EnrollmentAbuse,
    ResetEnrollChain,
    PrivilegedAfterRiskyApproval,
    FraudReport,
    NhiInteractiveMfa,
    PushSpray,
    PushSprayAsn,
    PasswordSpray,
    AssuranceGap,
)
META_BY_ID: dict[str, DetectorMeta] = {cls.meta.id: cls.meta for cls in DETECTOR_TYPES}


def build_detectors(config: Mapping[str, Any] | None = None) -> list[Detector[Any]]:
    """Every detector, tuned by ``config``: ``{id: {tunable: value}}``; ``{id: false}`` disables one."""
    config = config or {}
    unknown = set(config) - set(META_BY_ID)
    if unknown:
        raise ValueError(f"unknown detector(s) in config: {', '.join(sorted(unknown))}")
    detectors: list[Detector[Any]] = []
    for cls in DETECTOR_TYPES:
        entry = config.get(cls.meta.id, {})
        if entry is False or (isinstance(entry, Mapping) and entry.get("enabled") is False):
            continue
        if entry is True or entry is None:
            entry = {}
        if not isinstance(entry, Mapping):
            raise ValueError(f"detector {cls.meta.id}: expected a mapping of tunables or false")
        overrides = {k: v for k, v in entry.items() if k != "enabled"}
        detectors.append(cls(overrides))
    return detectors
