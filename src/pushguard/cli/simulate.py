"""``pushguard simulate`` and the demo: labeled synthetic tenants (``evaluate`` scores them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pushguard.cli.conventions import examples
from pushguard.cli.report import analyze_for_report, policy_rule_infos
from pushguard.flow import META_BY_ID, Flow, PipelineConfig
from pushguard.report.html import render_html, write_html
from pushguard.report.jsonl import write_findings
from pushguard.report.summary import print_summary
from pushguard.simulate.common import HISTORY_DIR, SCORED_DIR
from pushguard.simulate.evaluate import score
from pushguard.simulate.labels import LABELS_FILE
from pushguard.simulate.scenario import simulate
from pushguard.store import MemoryStore

console = Console()

DEMO_SEED = 7
DEMO_USERS = 60
DEMO_DAYS = 3
DEMO_HISTORY_DAYS = 14  # learnt first, as a deployment learns from past logs: "new" then means new


def register(app: typer.Typer) -> None:
    app.command(
        "simulate",
        epilog=examples(
            "pushguard simulate --out tenant --users 300 --days 7 --seed 3",
            "pushguard simulate --out tenant --history-days 28   # history/ then scored/",
        ),
    )(simulate_command)
    app.command("demo", epilog=examples("pushguard demo --out pushguard-demo"))(demo_command)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(2)


def simulate_command(
    out: Annotated[
        Path,
        typer.Option("--out", "--out-dir", metavar="DIR", help="Directory for the logs and labels.json."),
    ],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 1,
    users: Annotated[int, typer.Option(help="People in the tenant (service accounts come on top).")] = 300,
    days: Annotated[
        int, typer.Option(help="Scored days, with the attacks (without history, day 0 is warm-up).")
    ] = 7,
    history_days: Annotated[
        int, typer.Option(help="Days of ordinary life before them, written under OUT/history/.")
    ] = 0,
) -> None:
    """Write a synthetic tenant's Okta, Entra ID and Duo logs with labeled push-MFA attacks."""
    try:
        manifest = simulate(seed, users, days, out, history_days=history_days)
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    for name, count in sorted(manifest.files.items()):
        console.print(f"{out / name}: {count:,} records")
    labels = manifest.labels
    kinds = sorted({c.kind for c in labels.campaigns})
    console.print(
        f"{out / LABELS_FILE}: {len(labels.campaigns)} campaigns ({len(kinds)} kinds), "
        f"{len(labels.benign_episodes)} benign episodes"
    )


def demo_command(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            "--out-dir",
            metavar="DIR",
            envvar="PUSHGUARD_DEMO_DIR",
            help="Where the demo's logs, findings and report go.",
        ),
    ] = Path("pushguard-demo"),
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic organisation.")] = DEMO_SEED,
) -> None:
    """Simulate a small organisation with attacks and analyze it (no credentials, no network)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"{out_dir}: exists and is not a directory (give --out a directory)")
    try:
        run_demo(out_dir, seed)
    except OSError as exc:
        raise _fail(f"{exc.filename or out_dir}: cannot write: {exc.strerror or exc}") from None


def run_demo(out_dir: Path, seed: int = DEMO_SEED) -> None:
    """Simulate a small organisation, learn its ordinary history, analyze the days with the attacks,
    write the findings and the report, and say how many attacks were caught at what cost."""
    logs = out_dir / "logs"
    manifest = simulate(seed, DEMO_USERS, DEMO_DAYS, logs, history_days=DEMO_HISTORY_DAYS)
    exempt = ",".join(manifest.labels.assurance_exceptions)  # the tenant's approved exceptions
    flow = Flow.build(PipelineConfig(detectors={"assurance_gap": {"exempt_accounts": exempt}}))
    store = MemoryStore()
    flow.run([logs / HISTORY_DIR], store=store, report=False)  # a baseline: learns, reports nothing
    result, events, enrollments = analyze_for_report([logs / SCORED_DIR], flow, store)
    findings_path = out_dir / "findings.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_findings(findings_path, result.findings)
    print_summary(console, result.stats, result.findings)
    console.print(
        f"simulated {DEMO_USERS} people: {DEMO_HISTORY_DAYS} days of ordinary life learnt first, then "
        f"{DEMO_DAYS} days with {len(manifest.labels.campaigns)} labeled attack campaigns (seed {seed})"
    )
    console.print(f"logs: {logs} (Okta, Entra ID and Duo; labels in {logs / LABELS_FILE})")
    console.print(f"findings: {findings_path}")
    report_path = out_dir / "report.html"
    write_html(
        report_path,
        render_html(
            result.findings,
            events,
            META_BY_ID,
            title="pushguard demo",
            policy_rules=policy_rule_infos(None),
            enrollments=enrollments,
        ),
    )
    console.print(f"report: {report_path} (open it in a browser; works offline)")
    quality = score(manifest.labels, result.findings)
    console.print(
        f"[bold]caught {quality.detected} of {quality.campaigns} attacks, "
        f"{quality.false_positives} false alarms[/bold] (medium or worse on benign people; "
        f"{quality.low_false_positives} low)"
    )
    incidents = len({finding.incident for finding in result.findings})
    console.print(
        f"where to look: {len(result.findings)} findings grouped into {incidents} incidents, the "
        f"incidents first in {report_path}; every finding, one a line, in {findings_path} (its "
        f"'incident' names the group); the labeled attacks in {logs / LABELS_FILE}; recall per attack "
        f"kind: pushguard evaluate {logs}"
    )
