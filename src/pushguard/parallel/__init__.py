"""``analyze --jobs N``: the pipeline of ``flow.Flow.run`` split across processes by identity, with the
same findings as one process (``parallel.run`` tells how)."""

from pushguard.parallel.run import (
    SPLIT_MIN_BYTES,
    JobsProcessError,
    JobsProfile,
    StageListener,
    analyze_parallel,
    default_jobs,
    merge_stats,
)

__all__ = [
    "SPLIT_MIN_BYTES",
    "JobsProcessError",
    "JobsProfile",
    "StageListener",
    "analyze_parallel",
    "default_jobs",
    "merge_stats",
]
