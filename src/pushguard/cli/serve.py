"""``pushguard serve`` and ``pushguard keys``: the HTTP service and its API keys."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from pushguard.api import KeyStore, Scope, Service, create_app, load_config
from pushguard.api.logs import configure
from pushguard.api.server import CONFIG_FILE_ENV, serve, tune_runtime
from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.decide import PolicyError
from pushguard.model import ConfigError, PushguardError

console = Console()
keys_app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed).",
    epilog=examples("pushguard keys create --name okta-hook --scope ingest"),
    no_args_is_help=True,
)
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        envvar="PUSHGUARD_CONFIG_FILE",
        help="Service YAML config (PUSHGUARD_* variables override it).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command(
        "serve",
        epilog=examples(
            "pushguard serve --config service.yaml --port 8080",
            "REDIS_URL=redis://127.0.0.1:6379/0 pushguard serve --workers 2",
        ),
    )(serve_command)
    app.add_typer(keys_app, name="keys")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(2)


def serve_command(
    config: ConfigFile = None,
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", envvar="PUSHGUARD_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", envvar="PUSHGUARD_PORT", help="Port to listen on.")
    ] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="PUSHGUARD_WORKERS",
            help="Processes sharing the port; above 1 the state must be shared: a Redis URL is required "
            "(redis_url, PUSHGUARD_REDIS_URL or REDIS_URL).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API: decisions, events, the Okta event hook, findings, identities, metrics.

    /v1/decide, /v1/events, the Okta event hook, findings, identities and metrics. One process keeps
    the detectors' state in it (SQLite or memory); with --workers N, N processes answer and the state
    lives in Redis (the `pushguard worker` processes advance it). SIGHUP reloads the policy file (a bad
    file keeps the last good); with workers, SIGHUP restarts them, which reloads it too."""
    try:
        settings = load_config(config)
        configure(settings.log_level)
        if workers > 1 and settings.redis_url is None:
            raise ConfigError(
                f"--workers {workers} needs redis_url (PUSHGUARD_REDIS_URL or REDIS_URL): each process "
                "would keep a state of its own"
            )
        service = Service(settings)  # also checks the policy and the store before any worker starts
        app = create_app(settings, service) if workers == 1 else None
    except (PushguardError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if app is None:
        service.close()
        os.environ[CONFIG_FILE_ENV] = str(config.resolve()) if config is not None else ""
        serve(None, settings, host, port, workers)
        return
    signal.signal(signal.SIGHUP, lambda signum, frame: _reload_policy(service))
    tune_runtime()
    try:
        serve(app, settings, host, port)
    finally:
        service.close()


def _reload_policy(service: Service) -> None:
    log = logging.getLogger("pushguard.api")
    try:
        policy = service.reload_policy()
    except PolicyError as exc:
        log.error("policy reload refused", extra={"kept": service.policy.version, "reason": str(exc)})
        return
    log.info("policy reloaded", extra={"version": policy.version})


def _keys(config: Path | None) -> KeyStore:
    try:
        return KeyStore(load_config(config).keys_file)
    except PushguardError as exc:
        raise _fail(str(exc)) from None


@keys_app.command(
    "create", epilog=examples("pushguard keys create --name idp-hook --scope decide --scope read")
)
def create_command(
    name: Annotated[str, typer.Option(metavar="NAME", help="Who or what uses the key.")],
    scope: Annotated[
        list[Scope],
        typer.Option(metavar="decide|ingest|read|admin", help="What the key may do; repeat for several."),
    ],
    config: ConfigFile = None,
) -> None:
    """Create a key; its secret is printed once and never stored."""
    try:
        stored, token = _keys(config).create(name, list(scope))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    console.print(f"key {stored.id} ({', '.join(stored.scopes)}) for {stored.name}")
    typer.echo(token)


@keys_app.command("list", epilog=examples("pushguard keys list --format json"))
def list_command(config: ConfigFile = None, output: FormatOption = OutputFormat.TABLE) -> None:
    """Every key by id, name, scopes and state (never the secret)."""
    keys = _keys(config).list()
    if output is OutputFormat.JSON:
        rows = [
            {"id": k.id, "name": k.name, "scopes": list(k.scopes), "created": k.created, "revoked": k.revoked}
            for k in keys
        ]
        write_json(msgspec.json.encode(rows))
        return
    table = Table("id", "name", "scopes", "created", "state")
    for key in keys:
        table.add_row(
            key.id, key.name, ", ".join(key.scopes), key.created, "revoked" if key.revoked else "active"
        )
    console.print(table)


@keys_app.command("revoke", epilog=examples("pushguard keys revoke 3f9a2c1d"))
def revoke_command(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id (from `keys list`).")],
    config: ConfigFile = None,
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    try:
        _keys(config).revoke(key_id)
    except KeyError:
        raise _fail(f"no key with id {key_id}") from None
    console.print(f"key {key_id} revoked")
