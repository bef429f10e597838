"""Detection quality over several simulated tenants: the table in the README and the recorded quality gate.

    python benchmarks/quality.py [--seeds 1 2 3] [--users 300] [--days 7] [--markdown] [--record FILE]

For each seed: simulate, analyze with every registered detector, score against the labels
(``simulate.evaluate.score``). Prints recall per campaign kind (detected/campaigns per seed and in all),
median pushes and time to detect, and false positives per 1,000 benign users per day per detector.
``--record`` writes the figures ``tests/test_quality_gate.py`` holds the code to (recall per kind may not
fall, false positives per detector may not rise)."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import msgspec

from pushguard.pipeline import analyze
from pushguard.simulate.evaluate import Evaluation, score
from pushguard.simulate.labels import LABELS_FILE, read_labels
from pushguard.simulate.scenario import simulate


class KindFigure(msgspec.Struct, kw_only=True):
    campaigns: int
    detected: int


class QualityRecord(msgspec.Struct, kw_only=True):
    """The recorded gate: per seed, per kind and per detector."""

    users: int
    days: int
    seeds: list[int]
    detected_by_kind: dict[str, KindFigure]  # summed over the seeds
    false_positives_by_detector: dict[str, int]  # summed over the seeds


def evaluate_seed(seed: int, users: int, days: int) -> Evaluation:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tenant"
        simulate(seed, users, days, root)
        labels = read_labels(root / LABELS_FILE)
        result = analyze([root], keep_revisions=True)
        return score(labels, result.findings, result.revisions)


def record_of(evaluations: dict[int, Evaluation], users: int, days: int) -> QualityRecord:
    kinds: dict[str, KindFigure] = {}
    false_positives: dict[str, int] = {}
    for evaluation in evaluations.values():
        for row in evaluation.by_kind:
            figure = kinds.setdefault(row.kind, KindFigure(campaigns=0, detected=0))
            figure.campaigns += row.campaigns
            figure.detected += row.detected
        for detector in evaluation.by_detector:
            false_positives[detector.detector] = (
                false_positives.get(detector.detector, 0) + detector.false_positives
            )
    return QualityRecord(
        users=users,
        days=days,
        seeds=sorted(evaluations),
        detected_by_kind=dict(sorted(kinds.items())),
        false_positives_by_detector=dict(sorted(false_positives.items())),
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def markdown(evaluations: dict[int, Evaluation], users: int, days: int) -> str:
    seeds = sorted(evaluations)
    header = " | ".join(f"seed {s}" for s in seeds)
    lines = [
        f"| campaign kind | {header} | all | median pushes to detect | median time to detect |",
        "|---|" + "---|" * (len(seeds) + 3),
    ]
    kinds = sorted({row.kind for e in evaluations.values() for row in e.by_kind})
    for kind in kinds:
        cells, total, hit, pushes, delays = [], 0, 0, [], []
        for seed in seeds:
            row = next((r for r in evaluations[seed].by_kind if r.kind == kind), None)
            if row is None:
                cells.append("-")
                continue
            cells.append(f"{row.detected}/{row.campaigns}")
            total += row.campaigns
            hit += row.detected
        for seed in seeds:
            for result in evaluations[seed].results:
                if result.kind == kind and result.detected:
                    if result.pushes_to_detect is not None:
                        pushes.append(float(result.pushes_to_detect))
                    if result.seconds_to_detect is not None:
                        delays.append(result.seconds_to_detect)
        push_cell = "-" if (m := _median(pushes)) is None else f"{m:.0f}"
        # A detector may fire on a campaign's first event, a moment before the label's start: that is 0.
        delay_cell = "-" if (d := _median(delays)) is None else f"{max(0.0, d) / 60:.0f} min"
        lines.append(f"| {kind} | {' | '.join(cells)} | {hit}/{total} | {push_cell} | {delay_cell} |")
    lines.append("")
    lines.append(f"| false positives per 1,000 benign users per day | {header} |")
    lines.append("|---|" + "---|" * len(seeds))
    detectors = sorted({d.detector for e in evaluations.values() for d in e.by_detector})
    for detector in detectors:
        cells = []
        for seed in seeds:
            score_row = next((d for d in evaluations[seed].by_detector if d.detector == detector), None)
            cells.append("0" if score_row is None else f"{score_row.fp_per_1k_users_day:.2f}")
        lines.append(f"| {detector} | {' | '.join(cells)} |")
    totals = [f"{evaluations[s].fp_per_1k_users_day:.2f}" for s in seeds]
    lines.append(f"| **all detectors** | {' | '.join(totals)} |")
    lines.append("")
    lines.append(f"({users} users, {days} days per seed; `python benchmarks/quality.py --markdown`)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--record", type=Path, help="write the quality gate's recorded figures here")
    args = parser.parse_args()
    evaluations = {seed: evaluate_seed(seed, args.users, args.days) for seed in args.seeds}
    print(markdown(evaluations, args.users, args.days))
    if args.record is not None:
        record = record_of(evaluations, args.users, args.days)
        args.record.write_bytes(msgspec.json.format(msgspec.json.encode(record)) + b"\n")
        print(f"recorded: {args.record}")


if __name__ == "__main__":
    main()
