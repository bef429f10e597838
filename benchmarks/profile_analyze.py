"""A sampling profile of `pushguard analyze` (pyinstrument), to see where the time goes before changing
the hot path:

    python benchmarks/profile_analyze.py DIR_OR_FILES... [--html profile.html] [--interval 0.0005]

Prints the call tree as text (and writes an HTML tree with ``--html``). Sampling, not tracing: the
proportions are close to the real ones, which cProfile's per-call overhead distorts for a loop of small
functions like the detectors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pyinstrument import Profiler

from pushguard.enrich import build_enrichers
from pushguard.flow import analyze


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path)
    parser.add_argument("--html", type=Path, help="also write the tree as an HTML page")
    parser.add_argument("--interval", type=float, default=0.0005, help="seconds between samples")
    args = parser.parse_args()
    build_enrichers()  # the geo database opened before sampling starts
    profiler = Profiler(interval=args.interval)
    profiler.start()
    result = analyze(args.inputs)
    profiler.stop()
    print(f"{result.stats.records:,} records, {len(result.findings)} findings")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html is not None:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
        print(f"HTML profile written to {args.html}")


if __name__ == "__main__":
    main()
