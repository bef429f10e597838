"""The evaluation as tables: one seed in full (recall per kind, per provider and per attacker
infrastructure; false alarms per detector and per benign behaviour), and several seeds side by side so
that tuning seeds and held-out seeds can be compared."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.console import Console
from rich.table import Table

from pushguard.simulate.evaluate import Evaluation, GroupScore


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)  # a detector may fire on the campaign's first record, a moment early
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _table(title: str, columns: list[str], left: int = 1) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index < left or column == "detectors" else "right")
    return table


def _groups(title: str, groups: list[GroupScore]) -> Table:
    table = _table(title, ["", "campaigns", "detected", "recall"])
    for group in groups:
        table.add_row(group.name or "-", str(group.campaigns), str(group.detected), f"{group.recall:.0%}")
    return table


def print_evaluation(console: Console, evaluation: Evaluation, heading: str = "") -> None:
    prefix = f"{heading}: " if heading else ""
    history = f", after {evaluation.history_days} days of history" if evaluation.history_days else ""
    kinds = _table(
        f"{prefix}detection by campaign kind: {evaluation.detected}/{evaluation.campaigns} campaigns "
        f"(recall {evaluation.recall:.0%}; alarms = medium or worse{history})",
        [
            "kind",
            "campaigns",
            "detected",
            "recall",
            "low only",
            "pushes med",
            "pushes max",
            "ttd med",
            "ttd max",
            "detectors",
        ],
    )
    for row in evaluation.by_kind:
        kinds.add_row(
            row.kind,
            str(row.campaigns),
            str(row.detected),
            f"{row.recall:.0%}",
            str(row.detected_low),
            _num(row.pushes_to_detect_median, 1),
            _num(row.pushes_to_detect_max),
            _duration(row.seconds_to_detect_median),
            _duration(row.seconds_to_detect_max),
            ", ".join(row.detectors),
        )
    console.print(kinds)
    console.print(_groups(f"{prefix}recall by provider", evaluation.by_provider))
    console.print(_groups(f"{prefix}recall by attacker infrastructure", evaluation.by_infrastructure))
    detectors = _table(
        f"{prefix}findings by detector: {evaluation.findings} findings, {evaluation.false_positives} false "
        f"alarms ({evaluation.fp_per_1k_users_day:.2f} per 1,000 benign people per day), "
        f"{evaluation.low_false_positives} low/info ({evaluation.low_fp_per_1k_users_day:.2f}), "
        f"{evaluation.related_findings} related; {evaluation.benign_users} benign people, "
        f"{evaluation.days} days",
        [
            "detector",
            "findings",
            "alarms",
            "true pos.",
            "false alarms",
            "FP/1k/day",
            "low/info FP",
            "campaigns",
        ],
    )
    for score in evaluation.by_detector:
        detectors.add_row(
            score.detector,
            str(score.findings),
            str(score.alarms),
            str(score.true_positives),
            str(score.false_positives),
            f"{score.fp_per_1k_users_day:.2f}",
            str(score.low_false_positives),
            str(score.campaigns_detected),
        )
    console.print(detectors)
    behaviours = _table(
        f"{prefix}false alarms by benign behaviour",
        ["behaviour", "episodes", "alarmed", "false alarms", "FP/1k/day", "low/info FP", "detectors"],
    )
    for behaviour in evaluation.by_behaviour:
        behaviours.add_row(
            behaviour.behaviour,
            str(behaviour.episodes),
            str(behaviour.episodes_alarmed),
            str(behaviour.false_positives),
            f"{behaviour.fp_per_1k_users_day:.2f}",
            str(behaviour.low_false_positives),
            ", ".join(f"{d} {n}" for d, n in behaviour.detectors.items()),
        )
    console.print(behaviours)


def _side(
    console: Console,
    title: str,
    evaluations: Mapping[str, Evaluation],
    rows: Callable[[Evaluation], dict[str, str]],
) -> None:
    names = sorted({name for e in evaluations.values() for name in rows(e)})
    table = _table(title, ["", *evaluations])
    for name in names:
        table.add_row(name, *(rows(e).get(name, "-") for e in evaluations.values()))
    console.print(table)


def print_side_by_side(console: Console, evaluations: Mapping[str, Evaluation]) -> None:
    """Columns: one per seed (and the pooled total), rows: kinds, providers, detectors, behaviours."""

    def recall(groups: list[GroupScore]) -> dict[str, str]:
        return {g.name: f"{g.detected}/{g.campaigns}" for g in groups}

    _side(
        console,
        "recall per campaign kind (detected/campaigns)",
        evaluations,
        lambda e: {
            **{k.kind: f"{k.detected}/{k.campaigns}" for k in e.by_kind},
            "ALL": f"{e.detected}/{e.campaigns} ({e.recall:.0%})",
        },
    )
    _side(
        console,
        "median pushes before detection",
        evaluations,
        lambda e: {k.kind: _num(k.pushes_to_detect_median, 1) for k in e.by_kind if k.pushes_to_detect_max},
    )
    _side(console, "recall per provider", evaluations, lambda e: recall(e.by_provider))
    _side(console, "recall per attacker infrastructure", evaluations, lambda e: recall(e.by_infrastructure))
    _side(
        console,
        "false alarms per 1,000 benign people per day, per detector",
        evaluations,
        lambda e: {
            **{d.detector: f"{d.fp_per_1k_users_day:.2f}" for d in e.by_detector},
            "ALL": f"{e.fp_per_1k_users_day:.2f}",
            "ALL low/info": f"{e.low_fp_per_1k_users_day:.2f}",
        },
    )
    _side(
        console,
        "false alarms per 1,000 benign people per day, per benign behaviour (alarmed/episodes)",
        evaluations,
        lambda e: {
            b.behaviour: f"{b.fp_per_1k_users_day:.2f} ({b.episodes_alarmed}/{b.episodes})"
            for b in e.by_behaviour
        },
    )
