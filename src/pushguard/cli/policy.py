"""``pushguard policy lint|test|backtest`` and ``pushguard decide --request JSON``."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushguard.backtest import BacktestResult, backtest
from pushguard.backtest import to_json as backtest_json
from pushguard.decide import Policy, PolicyError, decide, lint, load_policy, run_tests
from pushguard.model import Decision, DecisionAction, DecisionRequest, IdentityProfile, PushguardError
from pushguard.pipeline import Engine
from pushguard.simulate.labels import LABELS_FILE, read_labels
from pushguard.store import SqliteStore

console = Console(highlight=False, soft_wrap=True)

policy_app = typer.Typer(help="Lint and test decision policies (YAML + CEL).", no_args_is_help=True)


class DecisionFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.command("decide")(decide_command)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(code)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from None


@policy_app.command("lint")
def lint_command(file: Annotated[Path, typer.Argument(help="Policy file (YAML).")]) -> None:
    """Parse, compile and type-check every rule; exit 1 on any error."""
    issues = lint(_read(file), str(file))
    for issue in issues:
        typer.echo(str(issue), err=issue.severity == "error")
    errors = sum(1 for i in issues if i.severity == "error")
    if errors:
        raise typer.Exit(1)
    policy = load_policy(file)
    typer.echo(
        f"{file}: ok: {len(policy.rules)} rules, {len(policy.tests)} test cases, version {policy.version}"
    )


@policy_app.command("test")
def test_command(file: Annotated[Path, typer.Argument(help="Policy file with a 'tests:' list.")]) -> None:
    """Run the policy's own test cases; exit 1 when one fails or is malformed."""
    try:
        policy = load_policy(file)
    except PolicyError as exc:
        raise _fail(str(exc), 1) from None
    report = run_tests(policy)
    for case in report.cases:
        where = f"{file}:{case.line}" if case.line else str(file)
        status = "PASS" if case.passed else "FAIL"
        typer.echo(f"{status} {where}: {case.name}")
        for problem in case.problems:
            typer.echo(f"     {problem}")
    for name in report.uncovered:
        typer.echo(f"{file}: warning: rule '{name}' is matched by no test case")
    failed = sum(1 for c in report.cases if not c.passed)
    typer.echo(f"{len(report.cases) - failed} passed, {failed} failed")
    if not report.cases:
        typer.echo(f"{file}: warning: no test cases")
    if failed:
        raise typer.Exit(1)


def _request_text(value: str) -> bytes:
    if value == "-":
        return sys.stdin.buffer.read()
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    return value.encode()


def decide_command(
    request: Annotated[
        str, typer.Option("--request", help="The request as JSON text, @FILE, or - for stdin.")
    ],
    policy_file: Annotated[
        Path | None, typer.Option("--policy", help="Policy file; the bundled default policy otherwise.")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="SQLite state file (from analyze --state): the identity's history.")
    ] = None,
    fallback: Annotated[
        DecisionAction | None,
        typer.Option(help="Answer on a store or rule failure; the policy's 'fallback' otherwise."),
    ] = None,
    output: Annotated[DecisionFormat, typer.Option("--format", help="text or json")] = DecisionFormat.TEXT,
) -> None:
    """Decide one push or enrollment request and explain the decision."""
    try:
        req = msgspec.json.decode(_request_text(request), type=DecisionRequest)
    except msgspec.DecodeError as exc:
        raise _fail(f"invalid request: {exc}") from None
    try:
        policy = load_policy(policy_file)
    except PolicyError as exc:
        raise _fail(str(exc)) from None
    store: SqliteStore | None = None

    def load_profile(identity: str) -> IdentityProfile | None:
        nonlocal store
        if state is None:
            return None
        if not state.exists():
            raise FileNotFoundError(f"{state}: no such state file")
        store = SqliteStore(state)
        return Engine(store, detectors=[]).profile(identity)

    try:
        decision = decide(req, policy, load_profile, fallback=fallback)
    finally:
        if store is not None:
            store.close()
    if output is DecisionFormat.JSON:
        sys.stdout.write(msgspec.json.encode(decision).decode() + "\n")
        return
    print_decision(decision, policy)


def print_decision(decision: Decision, policy: Policy) -> None:
    mode = " (report-only policy: log, do not enforce)" if decision.report_only else ""
    fallback = " [fallback]" if decision.fallback else ""
    console.print(f"[bold]{decision.decision.value}[/bold]{fallback}{mode}  risk {decision.risk}/100")
    strength = "phishing-resistant" if decision.phishing_resistant else "any factor"
    console.print(f"required: {decision.required_aal.value}, {strength}")
    console.print(
        f"policy {escape(decision.policy_version)} ({escape(policy.source)}), at {decision.evaluated_at}"
    )
    console.print("reasons:")
    for reason in decision.reasons:
        console.print(f"  - {escape(reason.code)}: {escape(reason.message)}")
    if decision.matched_rules:
        console.print("matched rules:")
        for rule in decision.matched_rules:
            note = " (report-only, not enforced)" if rule.report_only else ""
            console.print(f"  - {escape(rule.name)} → {rule.action.value}{note}")
    if decision.signals:
        console.print("signals:")
        for name, value in decision.signals.items():
            console.print(f"  {name} = {escape(repr(value))}")


class BacktestFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


@policy_app.command("backtest")
def backtest_command(
    inputs: Annotated[list[Path], typer.Argument(help="Log files or directories to replay.")],
    policy_files: Annotated[
        list[Path] | None,
        typer.Option("--policy", help="Policy file (repeat to compare); the bundled default otherwise."),
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="labels.json (from `pushguard simulate` or your own incidents).")
    ] = None,
    output: Annotated[BacktestFormat, typer.Option("--format", help="table or json")] = BacktestFormat.TABLE,
) -> None:
    """Replay logs and count what each policy would have decided at every prompt and enrollment."""
    try:
        policies = [load_policy(p) for p in policy_files] if policy_files else [load_policy(None)]
        label_set = read_labels(labels) if labels is not None else None
        if labels is None:
            found = [p / LABELS_FILE for p in inputs if p.is_dir() and (p / LABELS_FILE).is_file()]
            label_set = read_labels(found[0]) if len(found) == 1 else None
        result = backtest(inputs, policies, labels=label_set)
    except (PushguardError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    if output is BacktestFormat.JSON:
        sys.stdout.write(backtest_json(result).decode() + "\n")
        return
    print_backtest(result)


def print_backtest(result: BacktestResult) -> None:
    console.print(f"replayed {result.records:,} records, {result.decision_points:,} decision points")
    for figures in result.policies:
        console.print(f"policy {escape(figures.version)}: {escape(figures.source)}")
    table = Table(
        "policy", "prompts", "enrollments", *[a.value for a in DecisionAction], "escalated identities"
    )
    for figures in result.policies:
        table.add_row(
            escape(figures.version),
            f"{figures.prompts:,}",
            f"{figures.enrollments:,}",
            *[f"{figures.decisions.get(a.value, 0):,}" for a in DecisionAction],
            f"{figures.escalated_identities:,}",
        )
    console.print(table)
    for figures in result.policies:
        labeled = figures.labeled
        if labeled is None:
            continue
        kinds = Table(
            "campaign kind",
            "stopped or escalated",
            "median prompt",
            title=escape(f"{figures.version}: labeled"),
        )
        for kind, row in labeled.by_kind.items():
            median = "-" if row.median_prompt is None else f"{row.median_prompt:g}"
            kinds.add_row(kind, f"{row.stopped}/{row.campaigns}", median)
        console.print(kinds)
        console.print(
            f"benign friction: {labeled.benign_escalated:,} of {labeled.benign_prompts:,} benign prompts "
            f"escalated ({labeled.escalations_per_1000_benign_prompts:g} per 1,000; "
            f"{labeled.escalations_per_benign_user_week:g} per user per week)"
        )
    for figures in result.policies:
        rules = Table("rule", "matched", "mode", title=escape(f"{figures.version}: rules"))
        for name, count in sorted(figures.rules.items(), key=lambda item: -item[1].matched):
            rules.add_row(
                escape(name), f"{count.matched:,}", "report-only" if count.report_only else "enforced"
            )
        console.print(rules)
