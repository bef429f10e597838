"""Collectors: poll the vendor log APIs (Okta, Microsoft Graph, Duo Admin API) with resumable checkpoints."""

from pushguard.collect.checkpoint import Checkpoint, CollectedFile, load_checkpoint
from pushguard.collect.collector import Collector, Page, PageSink, Record, RoundStats, VendorLog
from pushguard.collect.vendors import LOGS, LogOptions, build_logs

__all__ = [
    "LOGS",
    "Checkpoint",
    "CollectedFile",
    "Collector",
    "LogOptions",
    "Page",
    "PageSink",
    "Record",
    "RoundStats",
    "VendorLog",
    "build_logs",
    "load_checkpoint",
]
