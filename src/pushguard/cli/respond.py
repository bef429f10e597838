"""``pushguard respond`` (playbook actions on incidents; dry run unless --execute) and ``audit-verify``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from pushguard.cli.analyze import AliasesOpt
from pushguard.cli.conventions import AUDIT_LOG, AuditLogOpt, FormatOption, OutputFormat, examples, write_json
from pushguard.flow import META_BY_ID, Flow, RunStats, expand_paths
from pushguard.model import Event, PushguardError
from pushguard.respond.audit import KEY_ENV, AuditKeyError, AuditLog, Head, audit_key, verify_head
from pushguard.respond.credentials import build_responder
from pushguard.respond.notify import Syslog, Webhook
from pushguard.respond.planner import plan
from pushguard.respond.playbook import load_playbook
from pushguard.respond.runner import Runner
from pushguard.respond.targets import build_targets, read_findings_file

console = Console()
_STYLE = {"performed": "green", "planned": "cyan", "skipped": "yellow", "failed": "bold red"}


def register(app: typer.Typer) -> None:
    app.command(
        "respond",
        epilog=examples(
            "pushguard respond findings.jsonl --playbook examples/playbook.yaml --logs logs/",
            "pushguard respond findings.jsonl --playbook examples/playbook.yaml --execute --format json",
        ),
    )(respond_command)
    app.command(
        "audit-verify",
        epilog=examples(
            "PUSHGUARD_AUDIT_KEY=... pushguard audit-verify pushguard-audit.jsonl --head 42:9f3c..."
        ),
    )(audit_verify_command)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(2)


def _events(logs: list[Path], aliases: Path | None) -> list[Event]:
    paths = expand_paths(logs)
    if not paths:
        raise PushguardError("no log files found in " + ", ".join(map(str, logs)))
    flow = Flow.load(None, aliases=aliases)
    # linked as analyze links them: an incident's person acts through each of their accounts
    return [event for event, _ in flow.events(paths, RunStats(), (), flow.resolver())]


def respond_command(
    findings: Annotated[
        Path, typer.Argument(metavar="FINDINGS", help="Findings (JSON Lines, as written by analyze --out).")
    ],
    playbook: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            envvar="PUSHGUARD_PLAYBOOK",
            help="Playbook YAML: rules, limits, break-glass, notify.",
        ),
    ],
    execute: Annotated[
        bool, typer.Option("--execute", help="Perform the actions (default: dry run, no request sent).")
    ] = False,
    audit_log: AuditLogOpt = AUDIT_LOG,
    logs: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="LOG",
            help="The logs the findings came from: vendor user ids and the enrolled factors (repeat).",
        ),
    ] = None,
    aliases: AliasesOpt = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Plan (or, with --execute, perform) the playbook's response actions for the findings' incidents."""
    try:
        book = load_playbook(playbook, known_detectors=set(META_BY_ID))
        read = read_findings_file(findings)
        events = _events(logs, aliases) if logs else None
        targets = build_targets(read.findings, events)
        audit = AuditLog(audit_log, key=audit_key())
        now = datetime.now(UTC)
        planned = plan(read.findings, targets, book, audit.entries, now)
        env = dict(os.environ)
        webhook = Webhook(book.webhook, env) if execute and book.webhook else None
        syslog = Syslog(book.syslog) if execute and book.syslog else None
    except (PushguardError, ValueError) as exc:
        raise _fail(str(exc)) from None
    for problem in read.problems:
        typer.echo(f"pushguard: skipped {problem}", err=True)
    runner = Runner(
        audit,
        execute=execute,
        responders=lambda vendor: build_responder(vendor, env),
        webhook=webhook,
        syslog=syslog,
        clock=lambda: datetime.now(UTC),
    )
    try:
        entries = runner.run(planned, targets)
    finally:
        runner.close()
        if webhook is not None:
            webhook.close()
    failed = bool(runner.counts.get("failed") or runner.counts.get("notify_failed"))
    if output is OutputFormat.JSON:
        summary = {
            "executed": execute,
            "findings": len(read.findings),
            "incidents": len(targets),
            "malformed_lines": read.bad,
            "counts": dict(runner.counts),
            "actions": entries,
            "audit_log": str(audit_log),
        }
        write_json(msgspec.json.encode(summary))
        if failed:
            raise typer.Exit(1)
        return
    table = Table(title=f"Response ({'EXECUTE' if execute else 'dry run'})", title_justify="left")
    for column in ("identity", "vendor", "action", "outcome", "detail"):
        table.add_column(column)
    for entry in entries:
        style = _STYLE.get(entry["outcome"], "")
        table.add_row(
            entry["identity"],
            entry["vendor"],
            entry["action"],
            f"[{style}]{entry['outcome']}[/]",
            entry["detail"] + "".join(f"\nnote: {n}" for n in entry.get("notes", [])),
        )
    console.print(table)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(runner.counts.items())) or "nothing to do"
    console.print(
        f"{len(read.findings)} findings, {len(targets)} incidents with accounts, {read.bad} malformed lines; "
        f"{counts}; audit log: {audit_log}"
    )
    if not execute and entries:
        console.print("dry run: nothing was changed; run again with --execute to perform the planned actions")
    if failed:
        raise typer.Exit(1)


def audit_verify_command(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", envvar="PUSHGUARD_AUDIT_LOG", help="An audit log written by `pushguard respond`."
        ),
    ],
    head: Annotated[
        str | None,
        typer.Option(
            metavar="SEQ:HASH",
            help="The latest head a notification carried: the log must still hold it.",
        ),
    ] = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Check the audit log's hash chain and print its head.

    The chain is keyed with PUSHGUARD_AUDIT_KEY when set. Exit 1 naming the first altered line, or
    when the log no longer holds --head."""
    try:
        key = audit_key()
        anchor = Head.parse(head) if head is not None else None
    except (PushguardError, ValueError) as exc:
        raise _fail(str(exc)) from None
    try:
        checked = verify_head(path, key, anchor)
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    except AuditKeyError as exc:
        raise _fail(str(exc)) from None
    except PushguardError as exc:
        typer.echo(f"pushguard: TAMPERED: {exc}", err=True)
        raise typer.Exit(1) from None
    how = "HMAC-keyed" if key is not None else f"not keyed: anyone can hash an edit again; set {KEY_ENV}"
    if output is OutputFormat.JSON:
        verdict = {
            "file": str(path),
            "entries": checked.seq,
            "intact": True,
            "keyed": key is not None,
            "head": str(checked),
            "anchor_found": str(anchor) if anchor is not None else None,
        }
        write_json(msgspec.json.encode(verdict))
        return
    console.print(f"{path}: {checked.seq} entries, chain intact ({how}); head {checked}", soft_wrap=True)
    if anchor is not None:
        console.print(f"the head {anchor} sent with a notification is in the log", soft_wrap=True)
