"""Detectors: one module each, a pure step over explicit state; the registry lists them."""

from pushguard.detect.base import Detection, Detector, DetectorMeta, Tunable, to_finding
from pushguard.detect.registry import DETECTOR_TYPES, META_BY_ID, build_detectors

__all__ = [
    "DETECTOR_TYPES",
    "META_BY_ID",
    "Detection",
    "Detector",
    "DetectorMeta",
    "Tunable",
    "build_detectors",
    "to_finding",
]
