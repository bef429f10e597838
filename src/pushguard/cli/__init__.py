"""The ``pushguard`` command: one module a group of subcommands, each with ``register(app)``.

The modules are imported when one of their commands runs (``cli.lazy``): ``pushguard --help`` stays
fast. A new module is declared with ``lazy(module, command="one-line summary")``; its commands must be
classified in ``tests/test_cli_conventions.py`` (results printed or not)."""

from __future__ import annotations

from typing import Annotated

import typer

from pushguard import __version__
from pushguard.cli.conventions import CONTEXT_SETTINGS
from pushguard.cli.lazy import LazyGroup, lazy

app = typer.Typer(
    name="pushguard",
    cls=LazyGroup,
    help="Push-MFA attack detection and policy decisions across Okta, Entra ID and Duo.",
    epilog="Start with: pushguard demo  (then: pushguard COMMAND -h)",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT_SETTINGS,
)
lazy(
    "pushguard.cli.analyze",
    analyze="Analyze IdP logs and report push-MFA attack findings.",
    findings="Every finding a state file holds, at its highest revision, as JSON Lines (oldest first).",
    detectors="List every detector with its metadata and tunable defaults.",
)
lazy(
    "pushguard.cli.simulate",
    simulate="Write a synthetic tenant's Okta, Entra ID and Duo logs with labeled push-MFA attacks.",
    demo="Simulate a small organisation with attacks and analyze it (no credentials, no network).",
)
lazy(
    "pushguard.cli.evaluate",
    evaluate="Analyze simulated tenants and score the findings against their labels.",
)
lazy(
    "pushguard.cli.policy",
    decide="Decide one push or enrollment request and explain the decision.",
    policy="Lint, test and backtest decision policies (YAML + CEL).",
)
lazy(
    "pushguard.cli.serve",
    serve="Serve the HTTP API: decisions, events, the Okta event hook, findings, identities, metrics.",
    keys="Create, list and revoke API keys (stored hashed).",
)
lazy(
    "pushguard.cli.identities",
    identities="The people the identity resolver sees: accounts per IdP, each link's evidence, conflicts.",
)
lazy(
    "pushguard.cli.posture",
    posture="Which factors guard which applications and groups (SP 800-63B AAL), and what to change first.",
)
lazy(
    "pushguard.cli.review",
    enrollments="Every factor registration and removal with its provenance, ranked by risk.",
)
lazy(
    "pushguard.cli.report",
    report="An offline HTML report (incidents, timelines, charts, frameworks) or OCSF Detection Findings.",
)
lazy(
    "pushguard.cli.respond",
    respond="Plan (or, with --execute, perform) the playbook's response actions for the findings' incidents.",
    audit_verify="Check the audit log's hash chain and print its head.",
)
lazy(
    "pushguard.cli.enforce",
    enforce="Plan (or, with --execute, apply) the IdP controls that carry out logged decisions.",
)
lazy(
    "pushguard.cli.worker",
    ingest="Put the records of log files on the partition streams, in event-time order, by identity.",
    worker="Consume the partition streams: detection with state, findings and positions in Redis.",
)
lazy(
    "pushguard.cli.collect",
    collect="Poll a vendor's log API into a JSON Lines file, resuming from its checkpoint.",
)


@app.callback(invoke_without_command=True)
def root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(f"pushguard {__version__}")
        raise typer.Exit(0)


def main() -> None:
    app()
