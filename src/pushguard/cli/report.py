"""``pushguard report``: the HTML report, or findings as OCSF Detection Findings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console

from pushguard.cli.analyze import progress_of_reading
from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.decide import PolicyError, load_policy
from pushguard.detect import META_BY_ID
from pushguard.enrich import AliasMap, build_enrichers
from pushguard.model import Event, Finding, InputError, PushguardError
from pushguard.pipeline import RunStats, analyze, parse_items
from pushguard.report.html import PolicyRuleInfo, render_html, write_html
from pushguard.report.jsonl import read_findings
from pushguard.report.ocsf_findings import finding_to_ocsf
from pushguard.review import review_enrollments
from pushguard.sources.readers import expand_paths, read_paths

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command(
        "report",
        epilog=examples(
            "pushguard report logs/ --html report.html",
            "pushguard report findings.jsonl --ocsf findings.ocsf.jsonl --format json",
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


def timeline_events(paths: list[Path]) -> list[Event]:
    """The parsed, enriched events of the logs, for the report's timelines and charts."""
    stats = RunStats()
    return list(parse_items(read_paths(paths), stats, None, AliasMap(), build_enrichers()))


def enrollment_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """The enrollment review (highest risk first) as plain rows for the report's section."""
    return [msgspec.to_builtins(row) for row in review_enrollments(paths)]


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
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """An offline HTML report (incidents, timelines, charts, frameworks) or OCSF Detection Findings."""
    try:
        enrollments: list[dict[str, Any]] = []
        if len(inputs) == 1 and _is_findings_file(inputs[0]):
            findings, events = read_findings(inputs[0]), []
        else:
            paths = expand_paths(inputs)
            with progress_of_reading(paths, passes=3):  # findings, timelines, enrollment review
                findings = analyze(paths).findings
                events = timeline_events(paths)
                enrollments = enrollment_rows(paths)
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
        document = render_html(
            findings,
            events,
            META_BY_ID,
            title=title,
            backtest=figures,
            policy_rules=rules,
            enrollments=enrollments,
        )
        write_html(html, document)
    except (PushguardError, PolicyError, ValueError, OSError, msgspec.DecodeError) as exc:
        typer.echo(f"pushguard: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is OutputFormat.JSON:
        write_json(msgspec.json.encode({**written, "html": str(html), "html_bytes": len(document)}))
        return
    console.print(f"report: {html} ({len(findings)} findings, {len(document) / 1e6:.1f} MB, works offline)")
