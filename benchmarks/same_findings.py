"""Findings as JSONL, to compare byte for byte before and after a change to the hot path:

    python benchmarks/same_findings.py OUT_DIR DIR_OR_FILES...   (one JSONL per input, `cmp` them)

Every revision of every finding (in report order), then the final findings, then the run's counters: a
change that reorders, drops or alters one detection shows up as a different file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec

from pushguard.flow import analyze


def dump(inputs: list[Path], out: Path) -> int:
    result = analyze(inputs, keep_revisions=True)
    encoder = msgspec.json.Encoder()
    stats = result.stats
    counters = {
        "records": stats.records,
        "events": stats.events,
        "errors": stats.errors,
        "unmapped": dict(sorted(stats.unmapped.items())),
        "by_provider": dict(sorted(stats.by_provider.items())),
        "replayed": stats.replayed,
        "duplicates": stats.duplicates,
        "late": stats.late,
        "not_a_user": stats.not_a_user,
    }
    with out.open("wb") as handle:
        for finding in result.revisions or []:
            handle.write(b"R " + encoder.encode(finding) + b"\n")
        for finding in result.findings:
            handle.write(b"F " + encoder.encode(finding) + b"\n")
        handle.write(b"S " + encoder.encode(counters) + b"\n")
    return len(result.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("inputs", nargs="+", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.inputs:
        target = args.out / (path.name + ".jsonl")
        print(f"{path}: {dump([path], target)} findings → {target}")


if __name__ == "__main__":
    main()
