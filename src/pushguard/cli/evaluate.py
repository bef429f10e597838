"""``pushguard evaluate``: detection quality on simulated tenants.

``pushguard evaluate DIR`` scores a directory written by ``pushguard simulate``. When it has a history
part (``DIR/history/``), the history is analyzed first into a state store, then the scored part
(``DIR/scored/``) with that state, and only the scored part's findings are scored: the detectors meet
the scored period knowing the people, as they would in production.

``pushguard evaluate --seeds 1,2,3 --users U --days D --history-days H`` simulates and evaluates each
seed, then prints each seed's tables, the pooled totals and all of them side by side (tuning seeds next
to held-out seeds)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console

from pushguard.cli.conventions import FormatOption, OutputFormat, examples
from pushguard.flow import RunResult, analyze
from pushguard.model import PushguardError
from pushguard.simulate.common import HISTORY_DIR, SCORED_DIR
from pushguard.simulate.evaluate import Evaluation, pooled, score, to_json
from pushguard.simulate.evaluate_containment import (
    DEFAULT_ENFORCEMENT_S,
    ContainmentScore,
    containment_by_kind,
    parse_delays,
    print_containment,
)
from pushguard.simulate.evaluate_report import print_evaluation, print_side_by_side
from pushguard.simulate.labels import LABELS_FILE, read_labels
from pushguard.simulate.scenario import simulate
from pushguard.store import MemoryStore


def register(app: typer.Typer) -> None:
    app.command(
        "evaluate",
        epilog=examples(
            "pushguard evaluate tenant/   # a directory written by pushguard simulate",
            "pushguard evaluate --seeds 1-3 --users 300 --days 7 --format json",
        ),
    )(evaluate_command)


def _console() -> Console:
    # Piped output gets room for the tables' columns instead of rich's default 80.
    return Console() if sys.stdout.isatty() else Console(width=180)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(2)


def analyze_simulated(directory: Path, detector_config: dict[str, Any] | None = None) -> RunResult:
    """The scored period's findings (with every revision), the history analyzed first when there is one."""
    history, scored = directory / HISTORY_DIR, directory / SCORED_DIR
    if not history.is_dir():
        return analyze([directory], detector_config=detector_config, keep_revisions=True)
    if not scored.is_dir():
        raise PushguardError(f"{scored}: missing (the history has no scored period beside it)")
    store = MemoryStore()
    analyze([history], store=store, detector_config=detector_config)
    return analyze([scored], store=store, detector_config=detector_config, keep_revisions=True)


def evaluate_directory(directory: Path, detector_config: dict[str, Any] | None = None) -> Evaluation:
    labels_path = directory / LABELS_FILE
    if not labels_path.is_file():
        raise PushguardError(
            f"{directory}: no {LABELS_FILE} here. evaluate scores findings against the labels "
            "`pushguard simulate` writes beside the logs it makes, so it needs a directory written by "
            "simulate (or --seeds to make them). For your own logs use `pushguard analyze` or "
            "`pushguard report`."
        )
    labels = read_labels(labels_path)
    if labels.assurance_exceptions and detector_config is None:
        # the tenant's approved exceptions, as its operator's config would list them
        exempt = ",".join(labels.assurance_exceptions)
        detector_config = {"assurance_gap": {"exempt_accounts": exempt}}
    result = analyze_simulated(directory, detector_config)
    return score(labels, result.findings, result.revisions)


def evaluate_seed(
    seed: int, users: int, days: int, history_days: int = 0, out: Path | None = None
) -> Evaluation:
    """Simulate one seed (into ``out/seed-N`` when given, else a temporary directory) and evaluate it."""
    if out is not None:
        root = out / f"seed-{seed}"
        simulate(seed, users, days, root, history_days=history_days)
        return evaluate_directory(root)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tenant"
        simulate(seed, users, days, root, history_days=history_days)
        return evaluate_directory(root)


def parse_seeds(text: str) -> list[int]:
    """``1,2,3`` or ``1-5`` or a mix (``1-3,7``)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            seeds.extend(range(int(low), int(high) + 1) if dash else [int(low)])
        except ValueError:
            raise ValueError(f"seeds: {part!r} is not a number or a range like 1-3") from None
    if not seeds:
        raise ValueError("seeds: none given")
    return sorted(set(seeds))


class SeedsReport(msgspec.Struct, kw_only=True):
    users: int
    days: int
    history_days: int
    seeds: dict[str, Evaluation]
    all: Evaluation
    containment: list[ContainmentScore] = []  # over all seeds: control in place before the approval


def evaluate_command(
    directory: Annotated[
        Path | None,
        typer.Argument(metavar="DIR", help="A directory written by `pushguard simulate` (or use --seeds)."),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="Deprecated: the same as --format json.")
    ] = False,
    seeds: Annotated[
        str | None, typer.Option(help="Simulate and evaluate these seeds (e.g. 1,2,3 or 1-5) instead.")
    ] = None,
    users: Annotated[int, typer.Option(help="With --seeds: people per tenant.")] = 300,
    days: Annotated[int, typer.Option(help="With --seeds: scored days.")] = 7,
    history_days: Annotated[int, typer.Option(help="With --seeds: days of history before them.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="With --seeds: keep the tenants here (seed-N/), not in a temp dir.")
    ] = None,
    delivery_delay: Annotated[
        str,
        typer.Option(
            help="Containment: seconds from an IdP event to pushguard, per provider (over okta=10,duo=120,"
            "entra=300)."
        ),
    ] = "",
    enforcement_s: Annotated[
        float, typer.Option(help="Containment: seconds from a finding to its control in effect.")
    ] = DEFAULT_ENFORCEMENT_S,
) -> None:
    """Analyze simulated tenants and score the findings against their labels."""
    as_json = as_json or output is OutputFormat.JSON
    if (directory is None) == (seeds is None):
        raise _fail("give a directory written by `pushguard simulate`, or --seeds (not both)")
    try:
        delays = parse_delays(delivery_delay)
        if enforcement_s < 0:
            raise ValueError(f"--enforcement-s: not negative, got {enforcement_s:g}")
        if directory is not None:
            evaluation = evaluate_directory(directory)
            if as_json:
                sys.stdout.write(to_json(evaluation).decode() + "\n")
            else:
                print_evaluation(_console(), evaluation)
                contained = containment_by_kind(evaluation.results, delays, enforcement_s)
                print_containment(_console(), contained, delays, enforcement_s)
            return
        assert seeds is not None
        chosen = parse_seeds(seeds)
        per_seed = {
            seed: evaluate_seed(seed, users, days, history_days=history_days, out=out) for seed in chosen
        }
    except (PushguardError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    total = pooled(list(per_seed.values()))
    contained = containment_by_kind(total.results, delays, enforcement_s)
    if as_json:
        report = SeedsReport(
            users=users,
            days=days,
            history_days=history_days,
            seeds={str(seed): evaluation for seed, evaluation in per_seed.items()},
            all=total,
            containment=contained,
        )
        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
        return
    console = _console()
    for seed, evaluation in per_seed.items():
        print_evaluation(console, evaluation, heading=f"seed {seed}")
    print_evaluation(console, total, heading=f"all seeds ({seeds})")
    columns = {f"seed {seed}": evaluation for seed, evaluation in per_seed.items()}
    columns["all"] = total
    print_side_by_side(console, columns)
    print_containment(console, contained, delays, enforcement_s)
