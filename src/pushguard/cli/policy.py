"""``pushguard policy lint|test|backtest`` and ``pushguard decide --request JSON``."""

from __future__ import annotations

import contextlib
import dataclasses
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
from pushguard.backtest.replay import DEFAULT_TARGET
from pushguard.cli.analyze import AliasesOpt, ConfigOpt, GeoipAsnOpt, GeoipCityOpt, build_flow
from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.decide import VARIABLES, Policy, PolicyError, decide, lint, load_policy, run_tests
from pushguard.decide.context import located
from pushguard.decide.testing import TestReport
from pushguard.flow import OrgKnowledge
from pushguard.model import (
    ConfigError,
    Decision,
    DecisionAction,
    DecisionRequest,
    IdentityProfile,
    PushguardError,
)
from pushguard.simulate.labels import LABELS_FILE, read_labels
from pushguard.store import SqliteStore

console = Console(highlight=False, soft_wrap=True)

policy_app = typer.Typer(
    help="Lint, test and backtest decision policies (YAML + CEL).",
    epilog=examples("pushguard policy lint examples/policy.yaml"),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.command(
        "decide",
        epilog=examples(
            "pushguard decide --request @examples/decide-request.json",
            "pushguard decide --request @req.json --policy examples/policy.yaml --state pushguard.sqlite "
            "--format json",
        ),
    )(decide_command)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(code)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise _fail(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@policy_app.command("signals", epilog=examples("pushguard policy signals --format json"))
def signals_command(output: FormatOption = OutputFormat.TABLE) -> None:
    """List the variables a rule's condition (and its message, as {name}) can read, with their types."""
    if output is OutputFormat.JSON:
        rows = [{"name": n, "type": t, "description": d} for n, (t, d) in VARIABLES.items()]
        sys.stdout.write(msgspec.json.encode(rows).decode() + "\n")
        return
    table = Table("variable", "type", "meaning", title="Policy variables")
    for name, (kind, description) in VARIABLES.items():
        table.add_row(name, kind, escape(description))
    console.print(table)


PolicyFiles = Annotated[list[Path], typer.Argument(metavar="FILE", help="Policy files (YAML).")]


@policy_app.command(
    "lint", epilog=examples("pushguard policy lint examples/policy.yaml my-policy.yaml --format json")
)
def lint_command(files: PolicyFiles, output: FormatOption = OutputFormat.TABLE) -> None:
    """Parse, compile and type-check every rule of each file; exit 1 on any error."""
    results: list[dict[str, object]] = []
    for file in files:
        issues = lint(_read(file), str(file))
        errors = [i for i in issues if i.severity == "error"]
        result: dict[str, object] = {
            "file": str(file),
            "ok": not errors,
            "issues": [{**dataclasses.asdict(i), "text": str(i)} for i in issues],
        }
        if not errors:
            policy = load_policy(file)
            result.update(rules=len(policy.rules), tests=len(policy.tests), version=policy.version)
        results.append(result)
        if output is OutputFormat.TABLE:
            for issue in issues:
                typer.echo(str(issue), err=issue.severity == "error")
            if not errors:
                typer.echo(
                    f"{file}: ok: {result['rules']} rules, {result['tests']} test cases, "
                    f"version {result['version']}"
                )
    if output is OutputFormat.JSON:
        write_json(msgspec.json.encode(results))
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@policy_app.command("test", epilog=examples("pushguard policy test examples/policy.yaml"))
def policy_test_command(files: PolicyFiles, output: FormatOption = OutputFormat.TABLE) -> None:
    """Run each policy's own test cases; exit 1 when one fails or is malformed."""
    results: list[dict[str, object]] = []
    for file in files:
        try:
            policy = load_policy(file)
        except PolicyError as exc:
            results.append({"file": str(file), "error": str(exc), "passed": 0, "failed": 1})
            if output is OutputFormat.TABLE:
                typer.echo(f"pushguard: {exc}", err=True)
            continue
        report = run_tests(policy)
        failed = sum(1 for c in report.cases if not c.passed)
        results.append(
            {
                "file": str(file),
                "cases": [
                    {"name": c.name, "line": c.line, "passed": c.passed, "problems": c.problems}
                    for c in report.cases
                ],
                "uncovered_rules": report.uncovered,
                "passed": len(report.cases) - failed,
                "failed": failed,
            }
        )
        if output is OutputFormat.TABLE:
            _print_test_report(file, report)
    if output is OutputFormat.JSON:
        write_json(msgspec.json.encode(results))
    if any(r["failed"] for r in results):
        raise typer.Exit(1)


def _print_test_report(file: Path, report: TestReport) -> None:
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
        str,
        typer.Option(
            "--request", metavar="JSON|@FILE|-", help="The request as JSON text, @FILE, or - for stdin."
        ),
    ],
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            envvar="PUSHGUARD_POLICY",
            help="Policy file; the bundled default policy otherwise.",
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="SQLite state file (from analyze --state): the identity's history.",
        ),
    ] = None,
    fallback: Annotated[
        DecisionAction | None,
        typer.Option(help="Answer on a store or rule failure; the policy's 'fallback' otherwise."),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
    aliases: AliasesOpt = None,
) -> None:
    """Decide one push or enrollment request and explain the decision."""
    try:
        req = msgspec.json.decode(_request_text(request), type=DecisionRequest)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _fail(f"invalid request: {exc}") from None
    try:
        flow = build_flow(None, aliases=aliases)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    req = msgspec.structs.replace(req, identity=flow.aliases.canonical(req.identity))
    req = located(req, flow.enrichers())  # the address placed as the logs' addresses are
    try:
        policy = load_policy(policy_file)
    except PolicyError as exc:
        raise _fail(str(exc)) from None
    store: SqliteStore | None = None
    if state is not None and state.exists():  # the account's person, as analyze linked it
        account = f"{req.provider.value}|{req.identity}" if req.provider is not None else req.identity
        with contextlib.suppress(PushguardError):  # an unreadable state: the store's fallback says so below
            linked = SqliteStore(state)
            try:
                req = msgspec.structs.replace(req, identity=flow.resolver(linked).person(account))
            finally:
                linked.close()

    def load_profile(identity: str) -> IdentityProfile | None:
        nonlocal store
        if state is None:
            return None
        if not state.exists():
            raise FileNotFoundError(f"{state}: no such state file")
        store = SqliteStore(state)
        return flow.engine(store, detectors=[]).profile(identity)

    def load_org() -> OrgKnowledge | None:
        # the store load_profile opened (None without --state): the organisation's stored table
        return flow.engine(store, detectors=[]).org if store is not None else None

    try:
        decision = decide(req, policy, load_profile, fallback=fallback, load_org=load_org)
    finally:
        if store is not None:
            store.close()
    if output is OutputFormat.JSON:
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


@policy_app.command(
    "backtest",
    epilog=examples(
        "pushguard policy backtest logs/ --policy examples/policy.yaml",
        "pushguard policy backtest tenant/ --policy a.yaml --policy b.yaml --format json > backtest.json",
    ),
)
def backtest_command(
    inputs: Annotated[list[Path], typer.Argument(metavar="LOG", help="Log files or directories to replay.")],
    policy_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--policy", metavar="FILE", help="Policy file (repeat to compare); the bundled default otherwise."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="labels.json (from `pushguard simulate` or your own incidents)."),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
    history: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="LOG",
            help="Logs of the period before (e.g. simulate's OUT/history): replayed first to build the "
            "identities' and the organisation's state, not decided or counted. Repeatable.",
        ),
    ] = None,
    target: Annotated[
        float,
        typer.Option(
            help="With labels: the catch rate (of campaigns with a prompt, escalated by the attacker's "
            "first approval) for which the cheapest set of each policy's rules is shown."
        ),
    ] = DEFAULT_TARGET,
    config: ConfigOpt = None,
    aliases: AliasesOpt = None,
    geoip_city: GeoipCityOpt = None,
    geoip_asn: GeoipAsnOpt = None,
) -> None:
    """Replay logs and count what each policy would have decided at every prompt and enrollment."""
    try:
        flow = build_flow(config, aliases=aliases, geoip_city=geoip_city, geoip_asn=geoip_asn)
        policies = [load_policy(p) for p in policy_files] if policy_files else [load_policy(None)]
        label_set = read_labels(labels) if labels is not None else None
        if labels is None:
            found = [p / LABELS_FILE for p in inputs if p.is_dir() and (p / LABELS_FILE).is_file()]
            label_set = read_labels(found[0]) if len(found) == 1 else None
        result = backtest(inputs, policies, labels=label_set, history=history or (), target=target, flow=flow)
    except (PushguardError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    if output is OutputFormat.JSON:
        sys.stdout.write(backtest_json(result).decode() + "\n")
        return
    print_backtest(result)


def _rate(part: int, whole: int) -> str:
    return f"{part:,} / {whole:,}" if whole else "-"


def print_backtest(result: BacktestResult) -> None:
    """Policies side by side: one column per policy, one row per figure."""
    console.print(
        f"replayed {result.records:,} records ({result.events:,} events), "
        f"{result.decision_points:,} decision points"
    )
    if result.errors:
        console.print(f"[yellow]{result.errors:,} unreadable records[/yellow]; first:")
        for sample in result.error_samples[:5]:
            console.print(f"  {escape(sample)}")
    policies = result.policies
    for n, figures in enumerate(policies, start=1):
        console.print(f"policy {n}: {escape(figures.version)} ({escape(figures.source)})")
    table = Table("", *[escape(f.version) for f in policies], title="Decisions")
    table.add_row("prompts", *[f"{f.prompts:,}" for f in policies])
    for action in DecisionAction:
        table.add_row(f"  {action.value}", *[f"{f.decisions.get(action.value, 0):,}" for f in policies])
    table.add_row("enrollments", *[f"{f.enrollments:,}" for f in policies])
    for action in DecisionAction:
        counts = [f.enrollment_decisions.get(action.value, 0) for f in policies]
        if any(counts):
            table.add_row(f"  {action.value}", *[f"{c:,}" for c in counts])
    table.add_row("identities escalated", *[f"{f.escalated_identities:,}" for f in policies])
    labeled = [f.labeled for f in policies]
    if all(item is not None for item in labeled):
        rows = [item for item in labeled if item is not None]
        table.add_section()
        table.add_row("campaigns escalated", *[_rate(r.stopped, r.campaigns) for r in rows])
        table.add_row(
            "  before the first approval",
            *[_rate(r.stopped_before_approval, r.campaigns) for r in rows],
        )
        table.add_row(
            "attack prompts escalated", *[_rate(r.attack_prompts_escalated, r.attack_prompts) for r in rows]
        )
        table.add_row(
            "attack enrollments escalated",
            *[_rate(r.attack_enrollments_escalated, r.attack_enrollments) for r in rows],
        )
        table.add_row(
            "benign prompts escalated", *[_rate(r.benign_escalated, r.benign_prompts) for r in rows]
        )
        table.add_row(
            "  per 1,000 benign prompts", *[f"{r.escalations_per_1000_benign_prompts:g}" for r in rows]
        )
        table.add_row(
            "  per benign user per week", *[f"{r.escalations_per_benign_user_week:g}" for r in rows]
        )
        table.add_row(
            "benign enrollments escalated",
            *[_rate(r.benign_enrollments_escalated, r.benign_enrollments) for r in rows],
        )
        kinds = sorted({kind for r in rows for kind in r.by_kind})
        table.add_section()
        table.add_row("[bold]campaigns by kind[/bold] (median point)", *["" for _ in rows])
        for kind in kinds:
            cells = []
            for r in rows:
                row = r.by_kind.get(kind)
                if row is None:
                    cells.append("-")
                elif not row.with_decision_points:
                    cells.append(f"0/{row.campaigns} (no prompt)")
                else:
                    median = "" if row.median_prompt is None else f" (at {row.median_prompt:g})"
                    cells.append(f"{row.stopped}/{row.campaigns}{median}")
            table.add_row(f"  {kind}", *cells)
    console.print(table)
    names = sorted({name for f in policies for name in f.rules})
    rules = Table("rule", *[escape(f.version) for f in policies], title="Rules matched")
    for name in sorted(
        names, key=lambda n: -max(f.rules[n].matched if n in f.rules else 0 for f in policies)
    ):
        cells = []
        for f in policies:
            count = f.rules.get(name)
            if count is None:
                cells.append("-")
                continue
            text = f"{count.matched:,}"
            if f.labeled is not None:  # cost and catch: benign prompts, campaigns escalated in time
                text += (
                    f" | benign {count.benign_prompts:,}, attack {count.attack_points:,}, "
                    f"campaigns in time {count.campaigns_in_time}/{f.labeled.campaigns}"
                )
            cells.append(text + (" (report-only)" if count.report_only else ""))
        rules.add_row(escape(name), *cells)
    console.print(rules)
    for n, figures in enumerate(policies, start=1):
        cheapest = figures.labeled.cheapest if figures.labeled is not None else None
        if cheapest is None:
            continue
        chosen = ", ".join(cheapest.rules) or "none"
        verdict = "" if cheapest.reached else " (target not reached by these rules)"
        console.print(
            f"policy {n}: cheapest rules for {cheapest.target:.0%} of the campaigns with a prompt: "
            f"{escape(chosen)}: {cheapest.caught}/{cheapest.campaigns} caught in time, "
            f"{cheapest.benign_escalated:,} benign prompts escalated{verdict}"
        )
