"""``pushguard posture``: which factors guard which applications and identities (``report.posture``)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
import yaml
from rich.console import Console
from rich.table import Table

from pushguard.enrich import AliasMap
from pushguard.model import ConfigError, PushguardError
from pushguard.pipeline import RunStats, parse_items
from pushguard.report.posture import Posture, Share, compute_posture, posture_config
from pushguard.sources.readers import expand_paths, read_paths

console = Console(highlight=False)


class PostureFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("posture")(posture_command)


def load_posture_config(path: Path | None) -> Any:
    """The ``posture`` mapping of a YAML config file (None without a file)."""
    if path is None:
        return None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'posture' key")
    return (raw or {}).get("posture")


def posture_of(inputs: list[Path], config: Path | None = None) -> tuple[Posture, RunStats]:
    settings = posture_config(load_posture_config(config))
    stats = RunStats()
    paths = expand_paths(inputs, stats.skipped_files)
    events = parse_items(read_paths(paths), stats, None, AliasMap())
    return compute_posture(events, settings), stats


def posture_command(
    inputs: Annotated[list[Path], typer.Argument(help="Log files or directories.")],
    config: Annotated[
        Path | None, typer.Option(help="YAML with posture: {privileged_apps, admins, exceptions}.")
    ] = None,
    output_format: Annotated[
        PostureFormat, typer.Option("--format", help="table or json")
    ] = PostureFormat.TABLE,
) -> None:
    """Share of successful sign-ins by factor class and AAL, per application and group; privileged access
    by push or password alone; single-factor accounts; who has no phishing-resistant factor; what to
    change first."""
    try:
        posture, stats = posture_of(inputs, config)
    except PushguardError as exc:
        typer.echo(f"pushguard: {exc}", err=True)
        raise typer.Exit(2) from None
    if output_format is PostureFormat.JSON:
        typer.echo(msgspec.json.encode(posture).decode())
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
