"""``pushguard analyze``, ``demo`` and ``detectors``."""

from __future__ import annotations

import enum
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.flow import (
    COMMIT_EVERY,
    META_BY_ID,
    Flow,
    RunResult,
    RunStats,
    expand_paths,
    listen_to_reading,
)
from pushguard.model import Finding, InputError, Provider, PushguardError
from pushguard.parallel import analyze_parallel
from pushguard.report.jsonl import write_findings
from pushguard.report.summary import print_summary
from pushguard.store import SqliteStore, StateStore

console = Console()
err = Console(stderr=True)

PROGRESS_MIN_BYTES = 5_000_000  # show a progress bar from this much input on


class ProviderChoice(enum.StrEnum):
    AUTO = "auto"
    OKTA = "okta"
    ENTRA = "entra"
    DUO = "duo"
    OCSF = "ocsf"


# The pipeline's files, for every command that builds one (build_flow). The variables are those
# config.load_pipeline_config reads too (PIPELINE_ENV), named here so each command's help shows them.
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        envvar="PUSHGUARD_CONFIG",
        help="YAML config: detector tunables, organisation, MaxMind files, posture.",
    ),
]
AliasesOpt = Annotated[
    Path | None,
    typer.Option(metavar="FILE", envvar="PUSHGUARD_ALIASES", help="Alias map (CSV alias,canonical or YAML)."),
]
DirectoryOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        envvar="PUSHGUARD_DIRECTORY",
        help="Directory export (CSV/JSON: person, emails, usernames per IdP) to link accounts.",
    ),
]
GeoipCityOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="MMDB",
        envvar="PUSHGUARD_GEOIP_CITY",
        help="MaxMind GeoIP2/GeoLite2 City .mmdb (city-level coordinates).",
    ),
]
GeoipAsnOpt = Annotated[
    Path | None,
    typer.Option(metavar="MMDB", envvar="PUSHGUARD_GEOIP_ASN", help="MaxMind GeoLite2 ASN .mmdb."),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(code)


def build_flow(config: Path | None, provider: ProviderChoice = ProviderChoice.AUTO, **given: Any) -> Flow:
    """The one pipeline of a command: ``--config`` (detector tunables, organisation, MaxMind files,
    posture), ``PUSHGUARD_*`` and the command's own options (``given``: aliases, geoip_city, geoip_asn,
    directory, link) over both."""
    chosen = None if provider is ProviderChoice.AUTO else Provider(provider.value)
    return Flow.load(config, provider=chosen, **given)


@contextmanager
def open_store(path: Path | None) -> Iterator[StateStore | None]:
    if path is None:
        yield None
        return
    store = SqliteStore(path)
    try:
        yield store
    finally:
        store.close()


def run_analysis(
    inputs: list[Path],
    *,
    provider: ProviderChoice,
    state: Path | None,
    aliases: Path | None,
    config: Path | None,
    quiet: bool,
    geoip_city: Path | None = None,
    geoip_asn: Path | None = None,
    commit_every: int = COMMIT_EVERY,
    jobs: int = 1,
    baseline: bool = False,
    directory: Path | None = None,
    link: bool = True,
) -> RunResult:
    skipped: list[str] = []
    paths = expand_paths(inputs, skipped)
    if not paths:
        why = f" (skipped: {'; '.join(skipped[:5])}{' …' if len(skipped) > 5 else ''})" if skipped else ""
        raise InputError("no log files found in " + ", ".join(str(p) for p in inputs) + why)
    if baseline and state is None:
        raise InputError("--baseline learns into a state file: give it --state FILE")
    result = _run(
        paths,
        provider,
        state,
        aliases,
        config,
        quiet,
        geoip_city,
        geoip_asn,
        commit_every,
        jobs,
        baseline,
        directory=directory,
        link=link,
    )
    result.stats.skipped_files.extend(skipped)  # the run was given the files, not the directories
    return result


def _run(
    paths: list[Path],
    provider: ProviderChoice,
    state: Path | None,
    aliases: Path | None,
    config: Path | None,
    quiet: bool,
    geoip_city: Path | None,
    geoip_asn: Path | None,
    commit_every: int,
    jobs: int,
    baseline: bool,
    *,
    directory: Path | None = None,
    link: bool = True,
) -> RunResult:
    flow = build_flow(
        config,
        provider,
        aliases=aliases,
        geoip_city=geoip_city,
        geoip_asn=geoip_asn,
        directory=directory,
        link=link,
    )
    if jobs > 1 and state is not None:
        raise InputError("--jobs keeps state in memory for the run: use it without --state")
    size = sum(p.stat().st_size for p in paths)
    show = not (quiet or size < PROGRESS_MIN_BYTES or not err.is_terminal)
    if jobs > 1:
        with jobs_progress(size if show else None) as (on_bytes, on_stage):
            return analyze_parallel(paths, jobs, flow=flow, on_bytes=on_bytes, on_stage=on_stage)
    with open_store(state) as store, reading_progress(size if show else None) as on_bytes:
        previous = listen_to_reading(on_bytes)
        try:
            return flow.run(paths, store=store, commit_every=commit_every, report=not baseline)
        finally:
            listen_to_reading(previous)


@contextmanager
def reading_progress(
    total: int | None, label: str = "reading logs"
) -> Iterator[Callable[[int], None] | None]:
    """A progress bar of the input read (bytes of the total, percent, time left), on stderr; None and no
    bar when ``total`` is None. The bar is told bytes, from any thread."""
    if total is None:
        yield None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TaskProgressColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=total)
        yield lambda count: bar.advance(task, count)


@contextmanager
def jobs_progress(
    total: int | None,
) -> Iterator[tuple[Callable[[int], None] | None, Callable[[str, int, int], None] | None]]:
    """The bars of ``analyze --jobs``: the input read (as :func:`reading_progress`), then each stage the
    processes go through once the reading is done (events detected of all). Listeners of both, told from
    any thread; none and no bar when ``total`` is None."""
    if total is None:
        yield None, None
        return
    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        reading = bar.add_task("reading logs", total=total)
        stages: dict[str, TaskID] = {}

        def on_stage(name: str, done: int, of: int) -> None:
            if name not in stages:
                stages[name] = bar.add_task(name, total=of)
            bar.update(stages[name], completed=done, total=of)

        yield (lambda count: bar.advance(reading, count)), on_stage


@contextmanager
def progress_of_reading(paths: list[Path], passes: int = 1) -> Iterator[None]:
    """The bar of :func:`reading_progress` over what this process's readers read: ``passes`` readings
    of ``paths`` (on a terminal, from PROGRESS_MIN_BYTES of input)."""
    size = sum(p.stat().st_size for p in paths)
    show = size >= PROGRESS_MIN_BYTES and err.is_terminal
    label = "reading logs" if passes == 1 else f"reading logs ({passes} passes)"
    with reading_progress(size * passes if show else None, label) as on_bytes:
        previous = listen_to_reading(on_bytes)
        try:
            yield
        finally:
            listen_to_reading(previous)


def register(app: typer.Typer) -> None:
    app.command(
        "analyze",
        epilog=examples(
            "pushguard analyze okta.jsonl entra/ duo.json.gz --out findings.jsonl",
            "pushguard analyze day2/ --state pushguard.sqlite --format json",
        ),
    )(analyze_command)
    app.command("findings", epilog=examples("pushguard findings --state pushguard.sqlite --out all.jsonl"))(
        findings_command
    )
    app.command("detectors", epilog=examples("pushguard detectors --format json"))(detectors_command)


def findings_command(
    state: Annotated[
        Path,
        typer.Option(metavar="FILE", help="SQLite state file written by `analyze --state`."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Write the findings here (default: standard output)."),
    ] = None,
) -> None:
    """Every finding a state file holds, at its highest revision, as JSON Lines (oldest first)."""
    if not state.is_file():
        raise fail(f"{state}: no such state file")
    try:
        with open_store(state) as store:
            assert store is not None
            findings = store.findings()
    except PushguardError as exc:
        raise fail(str(exc)) from None
    if out is None:
        for finding in findings:
            sys.stdout.write(msgspec.json.encode(finding).decode() + "\n")
        return
    try:
        count = write_findings(out, findings)
    except OSError as exc:
        raise fail(f"{out}: cannot write findings: {exc.strerror or exc}") from None
    err.print(f"{count} findings written to {out}")


def analyze_command(
    inputs: Annotated[
        list[Path], typer.Argument(metavar="LOG", help="Log files or directories (JSON, JSON Lines, gzip).")
    ],
    provider: Annotated[
        ProviderChoice,
        typer.Option(envvar="PUSHGUARD_PROVIDER", help="Vendor of the records; auto detects it per record."),
    ] = ProviderChoice.AUTO,
    out: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write findings here as JSON Lines.")
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="SQLite state file: history carries over between runs."),
    ] = None,
    aliases: AliasesOpt = None,
    directory: DirectoryOpt = None,
    link: Annotated[
        bool,
        typer.Option(
            "--link/--no-link",
            help="Link one person's accounts across IdPs from the records' own fields (emails, immutable "
            "ids).",
        ),
    ] = True,
    config: ConfigOpt = None,
    geoip_city: GeoipCityOpt = None,
    geoip_asn: GeoipAsnOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary, no progress.")] = False,
    commit_every: Annotated[
        int, typer.Option(min=1, help="Events per state transaction (a crash re-reads at most this many).")
    ] = COMMIT_EVERY,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="PUSHGUARD_JOBS",
            help="Processes; identities are split among them (same findings as 1).",
        ),
    ] = 1,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Learn from these logs into --state (what is familiar to each person and the "
            "organisation) without reporting findings: history before the first real run.",
        ),
    ] = False,
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """Analyze IdP logs and report push-MFA attack findings."""
    try:
        result = run_analysis(
            inputs,
            provider=provider,
            state=state,
            aliases=aliases,
            config=config,
            quiet=quiet,
            geoip_city=geoip_city,
            geoip_asn=geoip_asn,
            commit_every=commit_every,
            jobs=jobs,
            baseline=baseline,
            directory=directory,
            link=link,
        )
    except (PushguardError, ValueError) as exc:
        raise fail(str(exc)) from None
    if out is not None and not baseline:  # a baseline reports nothing
        try:
            write_findings(out, result.findings)
        except OSError as exc:
            raise fail(f"{out}: cannot write findings: {exc.strerror or exc}") from None
    if output is OutputFormat.JSON:
        findings = [] if baseline else result.findings
        write_json(msgspec.json.encode(run_summary(result.stats, findings, None if baseline else out)))
        return
    if quiet:
        return
    if baseline:
        print_summary(console, result.stats, [])
        console.print(f"baseline learnt into {state}: no findings reported")
        return
    print_summary(console, result.stats, result.findings)
    if out is not None:
        console.print(f"findings written to {out}")


def _key(key: object) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def run_summary(stats: RunStats, findings: list[Finding], out: Path | None) -> dict[str, Any]:
    """What the summary table shows, as one JSON document (``--format json``)."""
    by_detector = Counter(f.detector for f in findings)
    by_severity = Counter(f.severity.value for f in findings)
    return {
        "input": {
            # not dataclasses.asdict: it rebuilds a Counter from its items, counting them
            name: {_key(k): v for k, v in value.items()} if isinstance(value, dict) else value
            for name, value in ((f.name, getattr(stats, f.name)) for f in fields(stats))
        },
        "findings": len(findings),
        "by_detector": dict(by_detector.most_common()),
        "by_severity": dict(by_severity.most_common()),
        "top_identities": dict(Counter(f.user for f in findings).most_common(10)),
        "out": str(out) if out is not None else None,
    }


def detectors_command(
    output: FormatOption = OutputFormat.TABLE,
) -> None:
    """List every detector with its metadata and tunable defaults."""
    metas = list(META_BY_ID.values())
    if output is OutputFormat.JSON:
        sys.stdout.write(msgspec.json.encode(metas).decode() + "\n")
        return
    for meta in metas:
        table = Table(title=f"{meta.id} — {meta.title} ({meta.severity.value})", title_justify="left")
        table.add_column("tunable")
        table.add_column("default", justify="right")
        table.add_column("allowed")  # what the config loader accepts (config.check_detectors)
        table.add_column("meaning")
        for name, tunable in meta.tunables.items():
            table.add_row(name, str(tunable.default), tunable.range_text(name), tunable.description)
        console.print(table)
        console.print(meta.description)
        console.print("ATT&CK: " + ", ".join(meta.techniques))
        console.print("Event kinds it sees: " + (", ".join(meta.watches) if meta.watches else "all"))
        for framework, refs in meta.frameworks.items():
            if refs:
                console.print(f"{framework}: " + ", ".join(refs))
        console.print()
