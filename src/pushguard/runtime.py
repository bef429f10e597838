"""Interpreter settings for the long passes over logs and state (analyze, the workers, the service).

The cyclic GC: detection keeps a large heap of small objects (decoded states, profiles, events waiting in
the reorder buffer) that hold no reference cycles, and at CPython's default thresholds (700, 10, 10) the
collector walks it again and again for nothing: 10-15% of an analyze run on a simulated tenant
(benchmarks/perf_ratios.py). A young generation of 50,000 allocations keeps collection rare, and garbage
with cycles is still collected."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLDS = (50_000, 50, 1000)


@contextmanager
def gc_tuned() -> Iterator[None]:
    """``GC_THRESHOLDS`` for the duration of one pass, the caller's own settings restored after (a library
    caller keeps its process as it was)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def tune_for_a_long_life() -> None:
    """``GC_THRESHOLDS`` for good, with the objects made at startup (modules, tables, databases) frozen out
    of collection altogether: for a process that runs until stopped (the service, a stream worker)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection while a burst of decoding runs: it makes no reference cycles, but its many new
    containers would start full collections that scan everything already held (``analyze --jobs``)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
