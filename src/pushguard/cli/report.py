"""``pushguard report``: the HTML report, or findings as OCSF Detection Findings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console

from pushguard.cli.analyze import ConfigOpt, build_flow, progress_of_reading
from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.decide import PolicyError, load_policy
from pushguard.flow import META_BY_ID, BeforeEvent, Flow, RunResult, expand_paths
from pushguard.model import Event, Finding, InputError, PushguardError
from pushguard.report.controls import controls_by_finding
from pushguard.report.html import PolicyRuleInfo, render_html, write_html
from pushguard.report.jsonl import read_findings
from pushguard.report.ocsf_findings import finding_to_ocsf
from pushguard.respond.audit import audit_key, read_chain
from pushguard.review import EnrollmentReview
from pushguard.store import StateStore

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command(
        "report",
        epilog=examples(
            "pushguard report logs/ --html report.html",
            "pushguard report findings.jsonl --ocsf findings.ocsf.jsonl --format json",
            "pushguard report logs/ --html report.html --audit-log pushguard-audit.jsonl",
        ),
    )(report_command)


def _is_findings_file(path: Path) -> bool:
    if not path.is_file() or not path.name.endswith((".jsonl", ".json")):
        return False
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        msgspec.json.decode(first, type=Finding)
    except (msgspec.DecodeError, UnicodeError):
        return False
    return True


class Timeline:
    """Every event of the pass, as the engine sees it, for the report's timelines and charts."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def before_event(self, event: Event, state: BeforeEvent) -> None:
        self.events.append(event)

    def after_event(self, event: Event, findings: list[Finding]) -> None:
        pass


def analyze_for_report(
    paths: Sequence[str | Path], flow: Flow | None = None, store: StateStore | None = None
) -> tuple[RunResult, list[Event], list[dict[str, Any]]]:
    """One pass over the logs: the run (findings, counts), the events for the timelines and the
    enrollment review (highest risk first, as plain rows), each file read and parsed once. ``store``:
    a state that already knows the history (a baseline run over earlier logs)."""
    flow = flow or Flow.load(None)
    timeline = Timeline()
    review = EnrollmentReview(flow.tuned_enrollment_abuse())
    result = flow.run(paths, store=store, observers=[timeline, review])
    rows = [msgspec.to_builtins(row) for row in review.ranked()]
    return result, timeline.events, rows


def policy_rule_infos(policy: Path | None) -> list[PolicyRuleInfo]:
    """The rules the report's framework section cites (the default policy without a file)."""
    return [
        PolicyRuleInfo(name=r.name, code=r.code, action=r.action.value, report_only=r.report_only)
        for r in load_policy(policy).rules
    ]


def report_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(metavar="LOG", help="Log files/directories, or a findings .jsonl file."),
    ],
    html: Annotated[Path | None, typer.Option(metavar="FILE", help="Write the HTML report here.")] = None,
    ocsf: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Write the findings as OCSF Detection Findings (JSON Lines) here."),
    ] = None,
    backtest: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Backtest JSON (`pushguard policy backtest --format json`)."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", envvar="PUSHGUARD_POLICY", help="Policy whose rules the framework section cites."
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="Report title.")] = "pushguard report",
    config: ConfigOpt = None,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            envvar="PUSHGUARD_AUDIT_LOG",
            help="The closed loop's audit log (serve/worker --audit-log): each incident's controls and "
            "the time from the IdP event to each control in place.",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """An offline HTML report (incidents, timelines, charts, frameworks) or OCSF Detection Findings."""
    try:
        enrollments: list[dict[str, Any]] = []
        events: list[Event] = []
        posture = None
        if len(inputs) == 1 and _is_findings_file(inputs[0]):
            findings = read_findings(inputs[0])
        else:
            flow = build_flow(config)
            paths = expand_paths(inputs)
            with progress_of_reading(paths):  # one pass: findings, timelines and the enrollment review
                result, events, enrollments = analyze_for_report(paths, flow)
            findings = result.findings
            posture = flow.config.posture
        if html is None and ocsf is None:
            raise typer.BadParameter("give --html FILE, --ocsf FILE or both")
        written: dict[str, Any] = {"findings": len(findings)}
        if ocsf is not None:
            with ocsf.open("wb") as handle:
                for finding in findings:
                    handle.write(msgspec.json.encode(finding_to_ocsf(finding)) + b"\n")
            written["ocsf"] = str(ocsf)
            if output is OutputFormat.TABLE:
                console.print(f"{len(findings)} OCSF Detection Findings (2004) written to {ocsf}")
        if html is None:
            if output is OutputFormat.JSON:
                write_json(msgspec.json.encode(written))
            return
        figures: dict[str, Any] | None = None
        if backtest is not None:
            try:
                figures = msgspec.json.decode(backtest.read_bytes())
            except (OSError, msgspec.DecodeError, RecursionError) as exc:
                raise InputError(f"{backtest}: not a backtest JSON file: {exc}") from None
        rules = policy_rule_infos(policy)
        controls = controls_by_finding(read_chain(audit_log, audit_key())) if audit_log is not None else None
        document = render_html(
            findings,
            events,
            META_BY_ID,
            title=title,
            backtest=figures,
            policy_rules=rules,
            enrollments=enrollments,
            posture_config=posture,
            controls=controls,
        )
        write_html(html, document)
    except (PushguardError, PolicyError, ValueError, OSError, msgspec.DecodeError) as exc:
        typer.echo(f"pushguard: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is OutputFormat.JSON:
        write_json(msgspec.json.encode({**written, "html": str(html), "html_bytes": len(document)}))
        return
    console.print(f"report: {html} ({len(findings)} findings, {len(document) / 1e6:.1f} MB, works offline)")
