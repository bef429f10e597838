"""The ``pushguard`` command: one module a group of subcommands, each with ``register(app)``."""

from __future__ import annotations

from typing import Annotated

import typer

from pushguard import __version__
from pushguard.cli import (
    analyze,
    collect,
    enforce,
    evaluate,
    policy,
    posture,
    report,
    respond,
    review,
    serve,
    simulate,
    worker,
)

app = typer.Typer(
    name="pushguard",
    help="Push-MFA attack detection and policy decisions across Okta, Entra ID and Duo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
analyze.register(app)
simulate.register(app)
evaluate.register(app)
policy.register(app)
serve.register(app)
review.register(app)
report.register(app)
respond.register(app)
enforce.register(app)
worker.register(app)
collect.register(app)
posture.register(app)


@app.callback(invoke_without_command=True)
def root(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(f"pushguard {__version__}")
        raise typer.Exit(0)


def main() -> None:
    app()
