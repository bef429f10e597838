"""``pushguard enforce``: turn logged decisions into the IdPs' own controls (dry run unless --execute),
and with --expire undo the step-up memberships whose time is up."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pushguard.cli.conventions import AUDIT_LOG, AuditLogOpt, FormatOption, OutputFormat, examples, write_json
from pushguard.decide.enforce import (
    Account,
    EnforcementConfig,
    expired,
    load_enforcement_config,
    person_accounts,
    plan_enforcement,
)
from pushguard.decide.record import DecisionRecord
from pushguard.flow import Flow, IdentityResolver
from pushguard.model import InputError, PushguardError
from pushguard.respond.audit import AuditLog, audit_key
from pushguard.respond.credentials import build_responder
from pushguard.respond.enforcer import Enforcer, load_state, state_lock
from pushguard.store import SqliteStore

console = Console(highlight=False, soft_wrap=True)
_STYLE = {"performed": "green", "planned": "cyan", "skipped": "yellow", "failed": "bold red"}
_decoder = msgspec.json.Decoder(DecisionRecord)


def register(app: typer.Typer) -> None:
    app.command(
        "enforce",
        epilog=examples(
            "pushguard enforce decisions.jsonl --config examples/enforcement.yaml",
            "pushguard enforce decisions.jsonl --config examples/enforcement.yaml --identities state.sqlite",
            "pushguard enforce --expire --execute --config examples/enforcement.yaml --format json",
        ),
    )(enforce_command)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(2)


def read_decisions(paths: list[Path]) -> tuple[list[DecisionRecord], list[str]]:
    """Decision log lines (``{"request": ..., "decision": ...}``) in request-time order, and the lines
    that are not one (file:line: why)."""
    records: list[DecisionRecord] = []
    problems: list[str] = []
    for path in paths:
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append(_decoder.decode(line))
            except (msgspec.DecodeError, ValueError, RecursionError) as exc:
                problems.append(f"{path}:{number}: not a decision record: {exc}")
    records.sort(key=lambda r: r.request.time)
    return records, problems


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--now: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise InputError(f"--now: give a time zone (e.g. {text}Z)")
    return moment


def _linked(resolver: IdentityResolver | None, record: DecisionRecord) -> list[Account]:
    """The person's accounts on every IdP (none known: the request's own account, as before)."""
    if resolver is None:
        return []
    request = record.request
    account = (
        f"{request.provider.value}|{request.identity}" if request.provider is not None else request.identity
    )
    return person_accounts(resolver.accounts_of(resolver.person(account)))


def _run(
    enforcer: Enforcer,
    records: list[DecisionRecord],
    config: EnforcementConfig,
    expire: bool,
    now: datetime,
    resolver: IdentityResolver | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    entries: list[dict[str, Any]] = []
    skipped: list[tuple[str, str, str]] = []
    for record in records:
        plan = plan_enforcement(
            record.request,
            record.decision,
            config,
            accounts=_linked(resolver, record),
            active=enforcer.state.active,
        )
        skipped += [(s.identity, s.provider.value if s.provider else "-", s.reason) for s in plan.skipped]
        entries += enforcer.apply(plan.intents, now)
    if expire:  # after the decisions: a membership they just extended is not removed and re-added
        entries += enforcer.apply(expired(enforcer.state.active, now), now)
    return entries, skipped


def _table(entries: list[dict[str, Any]], skipped: list[tuple[str, str, str]], execute: bool) -> Table:
    table = Table(title=f"Enforcement ({'EXECUTE' if execute else 'dry run'})", title_justify="left")
    for column in ("identity", "vendor", "control", "group / status", "outcome", "detail"):
        table.add_column(column)
    for e in entries:
        style = _STYLE.get(e["outcome"], "")
        table.add_row(
            escape(e["identity"]),
            e["vendor"],
            e["control"],
            escape(e["group_id"] or e["status"] or ""),
            f"[{style}]{e['outcome']}[/]",
            escape(e["detail"]),
        )
    for identity, vendor, reason in skipped:
        table.add_row(escape(identity), vendor, "-", "", "[yellow]not planned[/]", escape(reason))
    return table


def enforce_command(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            metavar="FILE",
            envvar="PUSHGUARD_ENFORCEMENT_CONFIG",
            help="Enforcement YAML: the group bound to each action, per vendor.",
        ),
    ],
    decisions: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="DECISIONS",
            help="Decision logs (JSON Lines of request + decision, as `serve` writes them).",
        ),
    ] = None,
    execute: Annotated[
        bool, typer.Option("--execute", help="Send the changes (default: dry run, no request sent).")
    ] = False,
    state: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            envvar="PUSHGUARD_ENFORCEMENT_STATE",
            help="Applied intents and memberships still to expire (JSON, replaced atomically).",
        ),
    ] = Path("pushguard-enforcement.json"),
    audit_log: AuditLogOpt = AUDIT_LOG,
    expire: Annotated[
        bool, typer.Option("--expire", help="Also remove memberships (and Duo statuses) whose expiry passed.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="The time expiry is judged at (ISO 8601 with zone; default: now)."),
    ] = None,
    identities: Annotated[
        Path | None,
        typer.Option(
            metavar="STATE",
            help="State file of `analyze --state`: act on each of the person's linked accounts.",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Plan (or, with --execute, apply) the IdP controls that carry out logged decisions.

    --expire undoes those whose time is up. Exit 1 when any change failed, 2 on a usage or file error."""
    if not decisions and not expire:
        raise _fail("give decision logs to enforce, or --expire (or both)")
    try:
        settings = load_enforcement_config(config)
        settings = msgspec.structs.replace(settings, dry_run=not execute)  # the command line decides
        records, problems = read_decisions(decisions or [])
        moment = _now(now)
        resolver = None
        if identities is not None:
            if not identities.exists():
                raise InputError(f"{identities}: no such state file")
            linked = SqliteStore(identities)
            try:
                resolver = Flow.build().resolver(linked)
            finally:
                linked.close()
        audit = AuditLog(audit_log, key=audit_key())
        with state_lock(state) if execute else contextlib.nullcontext():
            enforcer = Enforcer(
                audit,
                execute=execute,
                state=load_state(state),
                state_path=state,
                responders=lambda vendor: build_responder(vendor, dict(os.environ)),
                clock=lambda: datetime.now(UTC),
            )
            try:
                entries, skipped = _run(enforcer, records, settings, expire, moment, resolver)
            finally:
                enforcer.close()
    except PushguardError as exc:
        raise _fail(str(exc)) from None
    for problem in problems:
        typer.echo(f"pushguard: skipped {problem}", err=True)
    if output is OutputFormat.JSON:
        summary = {
            "executed": execute,
            "decisions": len(records),
            "malformed_lines": len(problems),
            "counts": dict(enforcer.counts),
            "changes": entries,
            "not_planned": [{"identity": i, "vendor": v, "reason": r} for i, v, r in skipped],
            "memberships_to_expire": len(enforcer.state.active),
            "audit_log": str(audit_log),
        }
        write_json(msgspec.json.encode(summary))
        if enforcer.counts.get("failed"):
            raise typer.Exit(1)
        return
    console.print(_table(entries, skipped, execute))
    counts = ", ".join(f"{n} {k}" for k, n in sorted(enforcer.counts.items())) or "nothing to do"
    console.print(
        f"{len(records)} decisions, {len(problems)} malformed lines; {counts}; "
        f"{len(enforcer.state.active)} memberships to expire; audit log: {audit_log}"
    )
    if not execute and entries:
        console.print("dry run: nothing was changed; run again with --execute to apply the planned changes")
    if enforcer.counts.get("failed"):
        raise typer.Exit(1)
