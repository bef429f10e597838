"""``pushguard posture``: which factors guard which applications and identities (``report.posture``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from pushguard.cli.analyze import ConfigOpt
from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.flow import Flow, RunStats, expand_paths, read_paths
from pushguard.model import PushguardError
from pushguard.report.posture import Posture, Share, compute_posture

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command(
        "posture",
        epilog=examples(
            "pushguard posture okta.jsonl entra/ duo.json.gz",
            "pushguard posture logs/ --config examples/detectors.yaml --format json",
        ),
    )(posture_command)


def posture_of(inputs: list[Path], config: Path | None = None) -> tuple[Posture, RunStats]:
    """The posture of the logs, with the ``posture:`` section of ``--config`` (the same file as
    ``analyze --config``)."""
    flow = Flow.load(config)
    stats = RunStats()
    paths = expand_paths(inputs, stats.skipped_files)
    events = flow.parse(read_paths(paths), stats)
    return compute_posture(events, flow.config.posture), stats


def posture_command(
    inputs: Annotated[list[Path], typer.Argument(metavar="LOG", help="Log files or directories.")],
    config: ConfigOpt = None,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """Which factors guard which applications and groups (SP 800-63B AAL), and what to change first.

    Per application and group: successful sign-ins by factor class and AAL.

    Also: privileged access by push or password alone, single-factor accounts, no phishing resistance.

    The posture: section of --config names privileged apps, admins and approved exceptions."""
    try:
        posture, stats = posture_of(inputs, config)
    except PushguardError as exc:
        typer.echo(f"pushguard: {exc}", err=True)
        raise typer.Exit(2) from None
    if output_format is OutputFormat.JSON:
        write_json(msgspec.json.encode(posture))
        return
    _print(posture)
    if stats.errors:
        console.print(f"[yellow]{stats.errors} record(s) could not be read[/yellow]")


def _share_table(title: str, shares: list[Share]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (
        "name",
        "sign-ins",
        "phishing resistant",
        "number match",
        "push approve",
        "password only",
        "AAL2+",
        "weak privileged",
    ):
        table.add_column(column, justify="left" if column == "name" else "right")
    for share in shares:
        aal2 = share.by_aal.get("AAL2", 0.0) + share.by_aal.get("AAL3", 0.0)
        table.add_row(
            share.name + (" *" if share.privileged else ""),
            str(share.signins),
            f"{share.by_class.get('phishing_resistant', 0.0):.0%}",
            f"{share.by_class.get('push_number_match', 0.0):.0%}",
            f"{share.by_class.get('push_approve', 0.0):.0%}",
            f"{share.by_class.get('password_only', 0.0):.0%}",
            f"{aal2:.0%}",
            str(share.weak_privileged),
        )
    return table


def _print(posture: Posture) -> None:
    console.print(f"{posture.signins} successful sign-ins (* privileged application)")
    console.print(_share_table("By application", posture.apps[:25]))
    console.print(_share_table("By group", posture.groups))
    items = Table(title="Findings (SP 800-63B-4 / CSF 2.0 / OWASP NHI)", title_justify="left")
    for column in ("kind", "name", "count", "detail", "maps to"):
        items.add_column(column)
    shown: dict[str, int] = {}
    for item in posture.items:
        shown[item.kind] = shown.get(item.kind, 0) + 1
        if shown[item.kind] > 10:
            continue
        refs = "; ".join(ref for refs in item.refs.values() for ref in refs)
        items.add_row(item.kind, item.name, str(item.count), item.detail, refs)
    console.print(items)
    for kind, count in shown.items():
        if count > 10:
            console.print(f"… {count - 10} more {kind} (--format json lists every one)")
    weeks = Table(title="By ISO week", title_justify="left")
    for column in (
        "week",
        "sign-ins",
        "phishing resistant",
        "push approve",
        "password only",
        "weak privileged",
    ):
        weeks.add_column(column, justify="right")
    for week in posture.weeks:
        weeks.add_row(
            week.week,
            str(week.signins),
            f"{week.phishing_resistant:.0%}",
            f"{week.push_approve:.0%}",
            f"{week.password_only:.0%}",
            str(week.weak_privileged),
        )
    console.print(weeks)
    if posture.change_first:
        console.print(
            "[bold]Change first[/bold] (privileged sign-ins a phishing-resistant factor would cover):"
        )
        for item in posture.change_first:
            console.print(f"  {item.kind.removeprefix('change_first_')} {item.name}: {item.detail}")
    for login, reason in posture.excepted.items():
        console.print(f"approved exception: {login} ({reason})")
