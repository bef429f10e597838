"""``pushguard ingest`` and ``pushguard worker``: records on Redis Streams, state in Redis.

REDIS_URL=redis://127.0.0.1:6379/0 pushguard ingest logs/
pushguard worker --name w1 &  pushguard worker --name w2 &   # share the partitions
pushguard worker --drain                                     # exit once everything is processed
"""

from __future__ import annotations

import os
import signal
import socket
import urllib.parse
from contextlib import AbstractContextManager, ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import msgspec
import redis
import typer
from rich.console import Console

from pushguard.api.closed_loop import ClosedLoop
from pushguard.cli.analyze import AliasesOpt, ConfigOpt, GeoipAsnOpt, GeoipCityOpt, ProviderChoice, fail
from pushguard.cli.conventions import (
    AUDIT_LOG,
    REDIS_URL_ENV,
    AuditLogOpt,
    FormatOption,
    OutputFormat,
    examples,
    write_json,
)
from pushguard.cli.stream_worker import StreamWorker, WorkerOptions, WorkerStats
from pushguard.decide.enforce import load_enforcement_config
from pushguard.flow import Flow
from pushguard.model import Provider, PushguardError
from pushguard.publish import ingest
from pushguard.report.jsonl import write_findings
from pushguard.runtime import tune_for_a_long_life
from pushguard.store.redis import DEFAULT_TTL_S, RedisStore
from pushguard.store.streams import StreamBus

console = Console(stderr=True)
DEFAULT_URL = "redis://127.0.0.1:6379/0"

RedisUrl = Annotated[
    str,
    typer.Option(
        metavar="URL",
        envvar=REDIS_URL_ENV,
        help="Redis server (state and streams); give one with a password through the environment.",
    ),
]
Prefix = Annotated[
    str,
    typer.Option(
        metavar="PREFIX",
        envvar="PUSHGUARD_REDIS_PREFIX",
        help="Key prefix: one deployment's streams and state.",
    ),
]
Partitions = Annotated[
    int | None,
    typer.Option(
        min=1,
        envvar="PUSHGUARD_REDIS_PARTITIONS",
        help="Partition streams (fixed by the first ingest or worker; default 8).",
    ),
]
ProviderOpt = Annotated[
    ProviderChoice,
    typer.Option(envvar="PUSHGUARD_PROVIDER", help="Vendor of the records; auto detects it per record."),
]


def register(app: typer.Typer) -> None:
    app.command(
        "ingest", epilog=examples("REDIS_URL=redis://127.0.0.1:6379/0 pushguard ingest logs/ --partitions 8")
    )(ingest_command)
    app.command(
        "worker",
        epilog=examples(
            "pushguard worker --name w1 &  pushguard worker --name w2 &   # share the partitions",
            "pushguard worker --drain --out findings.jsonl --format json",
        ),
    )(worker_command)


def redacted(url: str) -> str:
    """A Redis URL fit for a message: its password (and user name) replaced by ***."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not shown)"
    if "@" not in parts.netloc:
        return url
    host = f"[{host}]" if ":" in host else host
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}{port}"))


def redis_client(url: str) -> redis.Redis:
    try:
        client = redis.Redis.from_url(url)
    except ValueError as exc:  # its message may quote the URL: not echoed
        why = "it must start with redis://, rediss:// or unix://" if "scheme" in str(exc) else "not a URL"
        raise fail(f"invalid Redis URL {redacted(url)}: {why}") from None
    try:
        client.ping()
    except redis.RedisError as exc:
        raise fail(f"cannot reach Redis at {redacted(url)}: {exc}") from None
    return client


def _provider(choice: ProviderChoice) -> Provider | None:
    return None if choice is ProviderChoice.AUTO else Provider(choice.value)


def ingest_command(
    inputs: Annotated[
        list[Path], typer.Argument(metavar="LOG", help="Log files or directories (JSON, JSON Lines, gzip).")
    ],
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = "pg",
    partitions: Partitions = None,
    provider: ProviderOpt = ProviderChoice.AUTO,
    aliases: AliasesOpt = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Put the records of log files on the partition streams, in event-time order, by identity."""
    client = redis_client(redis_url)
    try:
        bus = StreamBus(client, prefix)
        count = bus.open(partitions)
        flow = Flow.load(None, aliases=aliases, provider=_provider(provider))
        stats = ingest(inputs, bus, provider=flow.config.provider, aliases=flow.aliases)
    except (PushguardError, ValueError) as exc:
        raise fail(str(exc)) from None
    finally:
        client.close()
    run = stats.run
    if output is OutputFormat.JSON:
        counts = {
            "files": run.files,
            "records": run.records,
            "published": stats.published,
            "partitions": count,
            "sent_before": stats.duplicates,
            "not_used": sum(run.unmapped.values()),
            "dead_lettered": stats.dead,
            "late": run.late,
            "errors": run.error_samples,
        }
        write_json(msgspec.json.encode(counts))
        return
    console.print(
        f"{run.files} file(s), {run.records} records: {stats.published} put on {count} partitions, "
        f"{stats.duplicates} sent before, {sum(run.unmapped.values())} not used, "
        f"{stats.dead} dead-lettered ({prefix}:dead), "
        f"{run.late} late"
    )
    for sample in run.error_samples:
        console.print(f"  {sample}")


def worker_command(
    redis_url: RedisUrl = DEFAULT_URL,
    prefix: Prefix = "pg",
    partitions: Partitions = None,
    name: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Consumer name (default host-pid); unique per worker."),
    ] = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Exit once every ingested record is processed.")
    ] = False,
    provider: ProviderOpt = ProviderChoice.AUTO,
    aliases: AliasesOpt = None,
    config: ConfigOpt = None,
    geoip_city: GeoipCityOpt = None,
    geoip_asn: GeoipAsnOpt = None,
    batch: Annotated[
        int, typer.Option(min=1, help="Records per read and commit (at most; a commit comes within lease/3).")
    ] = 5_000,
    lease_ms: Annotated[
        int, typer.Option(min=100, help="Partition lease: a dead worker's partitions move after this.")
    ] = 10_000,
    state_ttl_days: Annotated[
        float,
        typer.Option(min=0, metavar="DAYS", help="Identity state unused this long expires (0: never)."),
    ] = DEFAULT_TTL_S / 86400,
    out: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="With --drain: write every stored finding here (JSONL)."),
    ] = None,
    stats_json: Annotated[
        bool, typer.Option("--stats-json", hidden=True, help="Deprecated: the same as --format json.")
    ] = False,
    org_learning: Annotated[
        bool,
        typer.Option(
            "--org-learning/--no-org-learning",
            help="Extend the organisation's table of known networks (shared by the workers at each "
            "commit); --no-org-learning keeps the stored one (a baseline) as it is.",
        ),
    ] = True,
    enforcement: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            envvar="PUSHGUARD_ENFORCEMENT",
            help="Closed loop: enforcement YAML (as `enforce --config`); findings become controls.",
        ),
    ] = None,
    execute: Annotated[
        bool, typer.Option("--execute", help="Closed loop: send the changes (default: dry run).")
    ] = False,
    enforcement_state: Annotated[
        Path,
        typer.Option(metavar="FILE", help="Closed loop: the enforcement state file (as `enforce --state`)."),
    ] = Path("pushguard-enforcement.json"),
    audit_log: AuditLogOpt = AUDIT_LOG,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Consume the partition streams: detection with state, findings and positions in Redis."""
    try:
        flow = Flow.load(
            config, aliases=aliases, geoip_city=geoip_city, geoip_asn=geoip_asn, provider=_provider(provider)
        )
    except (PushguardError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        rules = load_enforcement_config(enforcement) if enforcement is not None else None
    except PushguardError as exc:
        raise fail(str(exc)) from None

    client = redis_client(redis_url)
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)  # finish the turn: commit, release the leases

    with ExitStack() as closing:
        closing.callback(client.close)
        for signum in (signal.SIGTERM, signal.SIGINT):
            closing.callback(signal.signal, signum, signal.signal(signum, on_signal))
        enrichers = flow.enrichers()
        for enricher in enrichers:
            if isinstance(enricher, AbstractContextManager):
                closing.enter_context(enricher)
        loop = None
        if rules is not None:
            loop = ClosedLoop(
                msgspec.structs.replace(rules, dry_run=not execute),
                RedisStore(redis_url, prefix, client=client),
                state_path=enforcement_state,
                audit_path=audit_log,
                clock=lambda: datetime.now(UTC),
                shared_state=True,  # several workers take turns with the enforce lease
            )
            closing.callback(loop.close)
        options = WorkerOptions(
            name=name or f"{socket.gethostname()}-{os.getpid()}",
            flow=flow,
            batch=batch,
            lease_ms=lease_ms,
            state_ttl_s=int(state_ttl_days * 86400),
            drain=drain,
            enrichers=enrichers,
            org_learns=org_learning,
            closed_loop=loop,
        )
        worker = StreamWorker(client, prefix, options)
        tune_for_a_long_life()  # the heap of decoded states and waiting events: no cycles to look for
        try:
            worker.run(partitions, should_stop=lambda: bool(stopping))
        except (PushguardError, ValueError) as exc:
            raise fail(str(exc)) from None
        except redis.RedisError as exc:
            raise fail(
                f"Redis at {redacted(redis_url)} failed: {exc} (uncommitted records stay pending)"
            ) from None
        _report(worker.stats, options.name, stats_json or output is OutputFormat.JSON)
        if out is not None:
            write_findings(out, RedisStore(redis_url, prefix, client=client).findings())


def _report(stats: WorkerStats, name: str, as_json: bool) -> None:
    if as_json:
        typer.echo(msgspec.json.encode({"worker": name, **stats.__dict__}).decode())
        return
    console.print(
        f"worker {name}: {stats.records} records, {stats.events} events, {stats.findings} finding revisions, "
        f"{stats.dead} dead-lettered, {sum(stats.unmapped.values())} not used, {stats.replayed} replayed, "
        f"{stats.reclaimed} reclaimed, {stats.conflicts} conflicts, {stats.stage2_events} second-stage "
        f"events, {stats.advances} advances, {stats.enforced} closed-loop intents"
    )
    for sample in stats.error_samples:
        console.print(f"  {sample}")


__all__ = ["StreamBus", "register"]
