"""``pushguard enrollments``: the enrollment provenance review."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushguard.cli.analyze import AliasesOpt, ConfigOpt, GeoipAsnOpt, GeoipCityOpt, build_flow
from pushguard.cli.conventions import FormatOption, OutputFormat, examples
from pushguard.model import PushguardError
from pushguard.review import Provenance, review_enrollments

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    app.command(
        "enrollments",
        epilog=examples(
            "pushguard enrollments logs/ --since 30 --helpdesk helpdesk@example.com",
            "pushguard enrollments logs/ --format json",
        ),
    )(enrollments_command)


def enrollments_command(
    inputs: Annotated[list[Path], typer.Argument(metavar="LOG", help="Log files or directories.")],
    since: Annotated[
        float | None,
        typer.Option(
            metavar="DAYS", help="Only the last DAYS of the logs (the history before still counts)."
        ),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
    top: Annotated[int, typer.Option(help="Rows in the table (JSON lists all).")] = 50,
    helpdesk: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LOGIN",
            help="Login of a helpdesk account (repeat); logins reading 'helpdesk'/'support' count too.",
        ),
    ] = None,
    config: ConfigOpt = None,
    aliases: AliasesOpt = None,
    geoip_city: GeoipCityOpt = None,
    geoip_asn: GeoipAsnOpt = None,
) -> None:
    """Every factor registration and removal with its provenance, ranked by risk."""
    try:
        flow = build_flow(config, aliases=aliases, geoip_city=geoip_city, geoip_asn=geoip_asn)
        ranked = review_enrollments(inputs, since_days=since, helpdesk=frozenset(helpdesk or ()), flow=flow)
    except (PushguardError, ValueError, OSError) as exc:
        typer.echo(f"pushguard: {exc}", err=True)
        raise typer.Exit(2) from None
    if output is OutputFormat.JSON:
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(ranked)).decode() + "\n")
        return
    print_review(ranked[:top], len(ranked))


def print_review(rows: list[Provenance], total: int) -> None:
    table = Table(
        "score", "when", "identity", "what", "by", "from", "factors", "why", title="Enrollment review"
    )
    for row in rows:
        why = "; ".join([*row.before, *row.after]) or "-"
        table.add_row(
            str(row.score),
            row.time[:16],
            escape(row.identity),
            f"{row.operation} {row.factor}",
            escape(row.registered_by),
            escape(row.place),
            str(row.factors_now),
            escape(why),
        )
    console.print(table)
    console.print(f"{total} factor registrations and removals; {len(rows)} shown, highest risk first")
