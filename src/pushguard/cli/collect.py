"""``pushguard collect okta|entra|duo``: poll a vendor's log API into a JSON Lines file (and onto Redis).

pushguard collect okta --out okta.jsonl --days 7 --once        # catch up, then exit
pushguard collect entra --out entra.jsonl --interval 60         # keep polling
REDIS_URL=redis://127.0.0.1:6379/0 pushguard collect duo --out duo.jsonl   # also feed the workers

Credentials come from the environment (see ``pushguard.vendorapi.credentials``). The checkpoint makes a
restart resume where the last run stopped, with nothing missed and nothing written twice."""

from __future__ import annotations

import enum
import signal
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import msgspec
import redis
import typer
from rich.console import Console

from pushguard.cli.analyze import fail
from pushguard.cli.conventions import REDIS_URL_ENV, FormatOption, OutputFormat, examples
from pushguard.cli.worker import Partitions, Prefix, redacted, redis_client
from pushguard.collect import CollectedFile, Collector, LogOptions, PageSink, Record, build_logs
from pushguard.collect.collector import RoundStats
from pushguard.model import Provider, PushguardError
from pushguard.publish import publish_records
from pushguard.store.streams import StreamBus
from pushguard.vendorapi import VendorApiError

console = Console(stderr=True)


class VendorChoice(enum.StrEnum):
    OKTA = "okta"
    ENTRA = "entra"
    DUO = "duo"


class GraphVersion(enum.StrEnum):
    V1 = "v1.0"
    BETA = "beta"


def register(app: typer.Typer) -> None:
    app.command(
        "collect",
        epilog=examples(
            "pushguard collect okta --out okta.jsonl --days 7 --once   # catch up, then exit",
            "pushguard collect entra --out entra.jsonl --interval 60   # keep polling",
            "REDIS_URL=redis://127.0.0.1:6379/0 pushguard collect duo --out duo.jsonl   # feeds the workers",
        ),
    )(collect_command)


def parse_since(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PushguardError(f"--since {text!r}: not an ISO 8601 time (e.g. 2026-03-01T00:00:00Z)") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def redis_sink(
    client: redis.Redis, prefix: str, partitions: int | None, vendor: str, output: Path
) -> PageSink:
    """Each page onto the partition streams, like ``ingest`` (a page sent again publishes nothing new)."""
    bus = StreamBus(client, prefix)
    bus.open(partitions)
    provider = Provider(vendor)
    source = str(output)

    def publish(log: str, records: Sequence[Record], first_line: int) -> None:
        items = [(source, first_line + i, record.value) for i, record in enumerate(records)]
        stats = publish_records(items, bus, provider=provider)
        for sample in stats.run.error_samples:
            console.print(f"  {sample} (dead-lettered)", markup=False)

    return publish


def collect_command(
    vendor: Annotated[
        VendorChoice, typer.Argument(metavar="okta|entra|duo", help="The vendor whose logs to poll.")
    ],
    out: Annotated[
        Path,
        typer.Option(metavar="FILE", help="JSON Lines output: one vendor record a line, as the API gave it."),
    ],
    checkpoint: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Checkpoint file (default: OUT with .checkpoint added)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="First run only: start at this time (ISO 8601, UTC if no zone)."),
    ] = None,
    days: Annotated[
        float, typer.Option(min=0, metavar="DAYS", help="First run only, without --since: days back.")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Exit once every log is caught up.")] = False,
    interval: Annotated[
        float,
        typer.Option(
            min=1,
            metavar="SECONDS",
            envvar="PUSHGUARD_COLLECT_INTERVAL_S",
            help="Seconds between polling rounds.",
        ),
    ] = 60.0,
    log: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LOG", help="Only this log (okta: system; entra: signins, audits; duo: auth, admin)."
        ),
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, max=1000, help="Records asked per request.")] = 500,
    lag: Annotated[
        float | None,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="Seconds a time window trails the clock (default Entra 300, Duo 120).",
        ),
    ] = None,
    graph_version: Annotated[
        GraphVersion, typer.Option(help="Graph version (beta sign-ins carry authenticationDetails).")
    ] = GraphVersion.V1,
    redis_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            envvar=["PUSHGUARD_COLLECT_REDIS_URL", *REDIS_URL_ENV],
            help="Also put every page on the partition streams, as ingest does (give a URL with a "
            "password through the environment: a command line is visible to every local user).",
        ),
    ] = None,
    prefix: Prefix = "pg",
    partitions: Partitions = None,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Poll a vendor's log API into a JSON Lines file, resuming from its checkpoint."""
    checkpoint_path = checkpoint or out.with_name(out.name + ".checkpoint")
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()  # finish the page in hand: write, checkpoint, exit

    def wait(seconds: float) -> None:
        stopping.wait(seconds)  # a stop cuts a rate-limit wait short

    with ExitStack() as closing:
        try:
            start = parse_since(since) if since else datetime.now(UTC) - timedelta(days=days)
            options = LogOptions(page_size=page_size, lag_s=lag, graph_version=graph_version.value)
            logs, http = build_logs(vendor.value, log, options=options, sleep=wait)
            closing.callback(http.close)
            files = CollectedFile(out, checkpoint_path, vendor.value)
            closing.callback(files.close)
            sinks = []
            if redis_url:
                client = redis_client(redis_url)
                closing.callback(client.close)
                sinks.append(redis_sink(client, prefix, partitions, vendor.value, out))
            collector = Collector(files, logs, start, sinks)
        except (PushguardError, ValueError) as exc:
            raise fail(str(exc)) from None
        except redis.RedisError as exc:
            raise fail(f"Redis at {redacted(redis_url or '')}: {exc}") from None
        for signum in (signal.SIGTERM, signal.SIGINT):
            closing.callback(signal.signal, signum, signal.signal(signum, on_signal))
        if output is OutputFormat.TABLE:
            _report_start(files, vendor.value, [lg.name for lg in logs])
        failures = 0
        while not stopping.is_set():
            try:
                stats = collector.poll(stopping.is_set)
            except VendorApiError as exc:
                if once or exc.credentials_rejected:
                    raise fail(str(exc), 1) from None
                failures += 1
                message = f"{exc} (failure {failures}; next try in {interval:.0f} s)"
                console.print(message, style="red", markup=False)
            except redis.RedisError as exc:
                where = redacted(redis_url or "")
                raise fail(f"Redis at {where} failed: {exc} (the page is fetched again)", 1) from None
            except PushguardError as exc:
                raise fail(str(exc)) from None
            except OSError as exc:
                raise fail(f"{out}: cannot write: {exc.strerror or exc}", 1) from None
            else:
                failures = 0
                if output is OutputFormat.JSON:  # one JSON document a polling round
                    _json_round(stats, files)
                else:
                    _report_round(stats, files)
            if once:
                break
            stopping.wait(interval)


def _report_start(files: CollectedFile, vendor: str, names: list[str]) -> None:
    point = files.checkpoint
    if files.resumed:
        console.print(
            f"{vendor}: resuming {', '.join(names)} from {files.checkpoint_path} "
            f"({point.output_lines} records in {files.output})",
            markup=False,
        )
    else:
        console.print(f"{vendor}: starting {', '.join(names)} into {files.output}", markup=False)
    if files.dropped_bytes:
        console.print(f"  cut {files.dropped_bytes} bytes written after the last checkpoint (fetched again)")


def _json_round(stats: RoundStats, files: CollectedFile) -> None:
    logs = {name: {"records": s.records, "pages": s.pages} for name, s in stats.logs.items()}
    round_ = {"logs": logs, "output": str(files.output), "output_lines": files.checkpoint.output_lines}
    typer.echo(msgspec.json.encode(round_).decode())


def _report_round(stats: RoundStats, files: CollectedFile) -> None:
    parts = [f"{name} {s.records} records in {s.pages} pages" for name, s in stats.logs.items()]
    console.print(
        f"{'; '.join(parts)}; {files.checkpoint.output_lines} records in {files.output}", markup=False
    )


__all__ = ["register"]
