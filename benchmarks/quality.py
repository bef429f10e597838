"""Detection quality over several simulated tenants: the table in the README and the recorded quality gate.

    python benchmarks/quality.py [--seeds 1 2 3] [--users 300] [--days 7] [--history-days 7] [--markdown]
                                 [--record FILE]

For each seed: simulate (a history period, then the scored days), analyze the history into a state and
the scored days with it, score the scored findings against the labels (``cli.evaluate.evaluate_seed``).
Prints recall per campaign kind (detected/campaigns per seed and in all), median pushes and time to
detect, and false alarms (medium or worse) per 1,000 benign people per day per detector and per benign
behaviour. ``--record`` writes the figures ``tests/test_quality_gate.py`` holds the code to: recall per
kind may not fall, false alarms per detector (per 1,000 benign people per day) may not rise."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import msgspec

from pushguard.cli.evaluate import evaluate_seed
from pushguard.simulate.evaluate import Evaluation, pooled


class QualityRecord(msgspec.Struct, kw_only=True):
    """The recorded gate, over the seeds pooled."""

    users: int
    days: int
    history_days: int
    seeds: list[int]
    campaigns_by_kind: dict[str, int]  # the simulator's campaigns: a change here means re-record
    recall_by_kind: dict[str, float]  # the least recall each kind may have
    fp_per_1k_by_detector: dict[str, float]  # the most false alarms per 1,000 benign people per day
    fp_per_1k: float = 0.0  # all detectors' false alarms per 1,000 benign people per day
    pushes_to_detect_median: dict[str, float] = {}  # per prompt-driven kind, pooled over the seeds


def record_of(evaluations: dict[int, Evaluation], users: int, days: int, history_days: int) -> QualityRecord:
    total = pooled(list(evaluations.values()))
    return QualityRecord(
        users=users,
        days=days,
        history_days=history_days,
        seeds=sorted(evaluations),
        campaigns_by_kind={row.kind: row.campaigns for row in total.by_kind},
        recall_by_kind={row.kind: round(row.recall, 4) for row in total.by_kind},
        fp_per_1k_by_detector={row.detector: round(row.fp_per_1k_users_day, 3) for row in total.by_detector},
        fp_per_1k=round(total.fp_per_1k_users_day, 3),
        pushes_to_detect_median={
            row.kind: row.pushes_to_detect_median
            for row in total.by_kind
            if row.pushes_to_detect_median is not None
        },
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def markdown(evaluations: dict[int, Evaluation], users: int, days: int, history_days: int) -> str:
    seeds = sorted(evaluations)
    total = pooled([evaluations[s] for s in seeds])
    header = " | ".join(f"seed {s}" for s in seeds)
    lines = [
        f"| campaign kind | {header} | all | median pushes to detect | median time to detect |",
        "|---|" + "---|" * (len(seeds) + 3),
    ]
    for row in total.by_kind:
        cells = []
        for seed in seeds:
            mine = next((r for r in evaluations[seed].by_kind if r.kind == row.kind), None)
            cells.append("-" if mine is None else f"{mine.detected}/{mine.campaigns}")
        pushes = "-" if row.pushes_to_detect_median is None else f"{row.pushes_to_detect_median:.0f}"
        # A detector may fire on a campaign's first record, a moment before the label's start: that is 0.
        delay = row.seconds_to_detect_median
        delay_cell = "-" if delay is None else f"{max(0.0, delay) / 60:.0f} min"
        lines.append(
            f"| {row.kind} | {' | '.join(cells)} | {row.detected}/{row.campaigns} | {pushes} | {delay_cell} |"
        )
    for title, rows in (
        (
            "false alarms per 1,000 benign people per day",
            {d.detector: d.fp_per_1k_users_day for d in total.by_detector},
        ),
        (
            "false alarms per 1,000 benign people per day, by benign behaviour",
            {b.behaviour: b.fp_per_1k_users_day for b in total.by_behaviour},
        ),
    ):
        lines += ["", f"| {title} | {header} | all |", "|---|" + "---|" * (len(seeds) + 1)]
        for name in rows:
            cells = []
            for seed in seeds:
                scores = {d.detector: d.fp_per_1k_users_day for d in evaluations[seed].by_detector}
                scores |= {b.behaviour: b.fp_per_1k_users_day for b in evaluations[seed].by_behaviour}
                cells.append(f"{scores.get(name, 0.0):.2f}")
            lines.append(f"| {name} | {' | '.join(cells)} | {rows[name]:.2f} |")
    totals = [f"{evaluations[s].fp_per_1k_users_day:.2f}" for s in seeds]
    lines.append(f"| **all** | {' | '.join(totals)} | {total.fp_per_1k_users_day:.2f} |")
    lines.append("")
    lines.append(
        f"({users} people, {history_days} days of history then {days} scored days per seed; "
        "`python benchmarks/quality.py --markdown`)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--history-days", type=int, default=14)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--record", type=Path, help="write the quality gate's recorded figures here")
    args = parser.parse_args()
    evaluations = {
        seed: evaluate_seed(seed, args.users, args.days, history_days=args.history_days)
        for seed in args.seeds
    }
    print(markdown(evaluations, args.users, args.days, args.history_days))
    if args.record is not None:
        record = record_of(evaluations, args.users, args.days, args.history_days)
        args.record.write_bytes(msgspec.json.format(msgspec.json.encode(record)) + b"\n")
        print(f"recorded: {args.record}")


if __name__ == "__main__":
    main()
