"""``pushguard identities``: the people the identity resolver sees, their accounts per IdP, how each link
was made, and the links it refused to guess (conflicts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushguard.cli.analyze import AliasesOpt, DirectoryOpt
from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.flow import Conflict, Flow, IdentityResolver, Link
from pushguard.model import PushguardError
from pushguard.store import SqliteStore

console = Console(highlight=False, soft_wrap=True)


class Person(msgspec.Struct, kw_only=True):
    person: str
    accounts: dict[str, list[str]]  # provider → logins
    links: list[Link]


class Identities(msgspec.Struct, kw_only=True):
    people: list[Person]
    conflicts: list[Conflict]
    events: int = 0


def register(app: typer.Typer) -> None:
    app.command(
        "identities",
        epilog=examples(
            "pushguard identities okta.jsonl entra/ duo.json.gz --directory people.csv",
            "pushguard identities --state pushguard.sqlite --format json",
        ),
    )(identities_command)


def identities_of(resolver: IdentityResolver) -> Identities:
    people = [
        Person(person=person, accounts=accounts, links=resolver.links_of(person))
        for person, accounts in sorted(resolver.people().items())
    ]
    return Identities(people=people, conflicts=resolver.conflicts())


def identities_command(
    inputs: Annotated[
        list[Path] | None, typer.Argument(metavar="LOG", help="Log files or directories.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="State file of `analyze --state`: the links it keeps (read only)."),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
    aliases: AliasesOpt = None,
    directory: DirectoryOpt = None,
) -> None:
    """The people the identity resolver sees: accounts per IdP, each link's evidence, conflicts.

    A link counts from the record that shows it; the links of --state are read, never written."""
    if not inputs and state is None:
        typer.echo("pushguard: give log files or directories, or --state FILE", err=True)
        raise typer.Exit(2)
    try:
        flow = Flow.load(None, aliases=aliases, directory=directory)
        if state is not None and not state.exists():
            raise PushguardError(f"{state}: no such state file")
        store = SqliteStore(state) if state is not None else None
        try:
            resolver = flow.resolver(store, vendor_fields=True)
        finally:
            if store is not None:
                store.close()
        events = flow.identities(inputs, resolver).events if inputs else 0
    except (PushguardError, ValueError, OSError) as exc:
        typer.echo(f"pushguard: {exc}", err=True)
        raise typer.Exit(2) from None
    result = identities_of(resolver)
    result.events = events
    if output is OutputFormat.JSON:
        write_json(msgspec.json.encode(result))
        return
    print_identities(result)


def print_identities(result: Identities) -> None:
    linked = [p for p in result.people if sum(len(v) for v in p.accounts.values()) > 1]
    table = Table("person", "accounts", "linked by", title="People with more than one account")
    for person in linked:
        accounts = "; ".join(f"{idp}: {', '.join(logins)}" for idp, logins in sorted(person.accounts.items()))
        how = "; ".join(
            f"{link.account} ({link.how}{', ' + link.first_seen[:19] if link.first_seen else ''})"
            for link in person.links
        )
        table.add_row(escape(person.person), escape(accounts), escape(how or "same name"))
    console.print(table)
    if result.conflicts:
        conflicts = Table(
            "in dispute", "claims", "evidence", "first seen", "record", title="Conflicts (not linked)"
        )
        for conflict in result.conflicts:
            conflicts.add_row(
                escape(conflict.subject),
                escape(", ".join(conflict.claims)),
                escape(conflict.how),
                conflict.first_seen[:19] or "-",
                escape(conflict.record or "-"),
            )
        console.print(conflicts)
    console.print(
        f"{len(result.people)} people, {len(linked)} with accounts linked; {len(result.conflicts)} conflicts"
        + (f"; {result.events:,} events read" if result.events else "")
    )
