"""Where `pushguard analyze` spends its time, stage by stage, in one run on one core:

    python benchmarks/analyze_stages.py DIR_OR_FILES... [--repeat 3]

Each line runs the pipeline one stage further than the one above it over the same files, and prints
microseconds per record and the stage's own share (its line minus the line above): raw JSON parsing
(msgspec into plain objects, the limit the analysis is measured against), reading (typed decoding where
a vendor has a decoder), mapping to Events, enrichment, event-time ordering, then the engine (every
detector, the profile, the replay guard) and the end of the run. The best of ``--repeat`` runs is kept
for each line, which takes most of the machine's noise out of a ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pushguard.enrich import AliasMap, build_enrichers
from pushguard.flow import analyze
from pushguard.pipeline import RunStats, merged_events, parse_items
from pushguard.sources.readers import expand_paths, read_records

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from benchmarks.analyze import raw_parse


def _raw(paths: Sequence[Path]) -> int:
    return raw_parse(list(paths))[1]


def _read(paths: Sequence[Path]) -> int:
    return sum(1 for path in paths for _ in read_records(path))


def _map(paths: Sequence[Path]) -> int:
    stats = RunStats()
    for path in paths:
        for _ in parse_items(read_records(path), stats, None, AliasMap(), ()):
            pass
    return stats.records


def _enrich(paths: Sequence[Path]) -> int:
    stats = RunStats()
    enrichers = build_enrichers()
    for path in paths:
        for _ in parse_items(read_records(path), stats, None, AliasMap(), enrichers):
            pass
    return stats.records


def _order(paths: Sequence[Path]) -> int:
    stats = RunStats()
    for _ in merged_events(paths, stats, None, AliasMap(), build_enrichers()):
        pass
    return stats.records


def _analyze(paths: Sequence[Path]) -> int:
    return analyze(paths).stats.records


STAGES: list[tuple[str, Callable[[Sequence[Path]], int]]] = [
    ("raw JSON parse (the limit)", _raw),
    ("read (typed decode where possible)", _read),
    ("+ map to events", _map),
    ("+ enrich (geo, ASN, user agent)", _enrich),
    ("+ order by event time", _order),
    ("+ engine: detectors, profile, end", _analyze),
]


def best_of(repeat: int, stage: Callable[[Sequence[Path]], int], paths: Sequence[Path]) -> tuple[float, int]:
    """(seconds, records): the fastest of ``repeat`` runs."""
    best, records = float("inf"), 0
    for _ in range(repeat):
        began = time.process_time()
        records = stage(paths)
        best = min(best, time.process_time() - began)
    return best, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = expand_paths(args.inputs)
    build_enrichers()  # the geo database opened once, before any line is timed
    rows: list[tuple[str, float, int]] = []
    for label, stage in STAGES:
        seconds, records = best_of(args.repeat, stage, paths)
        rows.append((label, seconds, records))
    raw_s, raw_records = rows[0][1], rows[0][2]
    print(f"{raw_records:,} records in {len(paths)} files; CPU time, best of {args.repeat}")
    print(f"{'stage':38} {'µs/record':>10} {'own µs':>8} {'records/s':>12} {'x raw':>7}")
    previous = 0.0
    for label, seconds, records in rows:
        per = seconds / max(records, 1) * 1e6
        own = per - previous if label.startswith("+") else per
        print(f"{label:38} {per:10.2f} {own:8.2f} {records / seconds:12,.0f} {raw_s / seconds:7.3f}")
        previous = per


if __name__ == "__main__":
    main()
