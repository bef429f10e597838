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
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pushguard.cli.conventions import FormatOption, OutputFormat, examples, write_json
from pushguard.detect import DETECTOR_TYPES
from pushguard.enrich import AliasMap, build_enrichers
from pushguard.enrich.geo import open_mmdb
from pushguard.model import ConfigError, Finding, InputError, Provider, PushguardError
from pushguard.model.files import read_yaml_file
from pushguard.parallel import analyze_parallel
from pushguard.pipeline import COMMIT_EVERY, OrgTrust, RunResult, RunStats, analyze
from pushguard.report.jsonl import write_findings
from pushguard.report.summary import print_summary
from pushguard.sources import progress
from pushguard.sources.limits import ReadLimits
from pushguard.sources.readers import expand_paths
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


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"pushguard: {message}", err=True)
    return typer.Exit(code)


def load_config(path: Path | None) -> dict[str, Any]:
    """The YAML config file: ``detectors: {id: {tunable: value} | false}`` and ``organisation:
    {trusted_networks: [CIDR], trusted_asns: [ASN]}`` (offices and gateways known from the first day)."""
    if path is None:
        return {}
    data = read_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    unknown = set(data) - {"detectors", "organisation"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s): {', '.join(sorted(unknown))}")
    detectors = data.get("detectors") or {}
    if not isinstance(detectors, dict):
        raise ConfigError(f"{path}: 'detectors' must be a mapping of detector id to settings")
    try:
        trust = OrgTrust.parse(data.get("organisation"), str(path))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return {"detectors": detectors, "organisation": trust}


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
) -> RunResult:
    ReadLimits.from_env()  # a bad size cap is named now, not by the first reader (or --jobs process)
    skipped: list[str] = []
    paths = expand_paths(inputs, skipped)
    if not paths:
        why = f" (skipped: {'; '.join(skipped[:5])}{' …' if len(skipped) > 5 else ''})" if skipped else ""
        raise InputError("no log files found in " + ", ".join(str(p) for p in inputs) + why)
    if baseline and state is None:
        raise InputError("--baseline learns into a state file: give it --state FILE")
    result = _run(
        paths, provider, state, aliases, config, quiet, geoip_city, geoip_asn, commit_every, jobs, baseline
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
) -> RunResult:
    settings = load_config(config)
    trust: OrgTrust | None = settings.get("organisation")
    alias_map = AliasMap.load(aliases) if aliases else AliasMap()
    chosen = None if provider is ProviderChoice.AUTO else Provider(provider.value)
    for db in (geoip_city, geoip_asn):
        if db is not None:
            open_mmdb(db).close()  # here: a --jobs process would only fail later
    if jobs > 1 and state is not None:
        raise InputError("--jobs keeps state in memory for the run: use it without --state")
    size = sum(p.stat().st_size for p in paths)
    show = not (quiet or size < PROGRESS_MIN_BYTES or not err.is_terminal)
    with open_store(state) as store, reading_progress(size if show else None) as on_bytes:
        if jobs > 1:
            return analyze_parallel(
                paths,
                jobs,
                provider=chosen,
                aliases=alias_map,
                detector_config=settings.get("detectors"),
                city_db=geoip_city,
                asn_db=geoip_asn,
                org_trust=trust,
                on_bytes=on_bytes,
            )
        enrichers = build_enrichers(city_db=geoip_city, asn_db=geoip_asn)
        previous = progress.listen(on_bytes)
        try:
            return analyze(
                paths,
                store=store,
                provider=chosen,
                aliases=alias_map,
                detector_config=settings.get("detectors"),
                enrichers=enrichers,
                commit_every=commit_every,
                org_trust=trust,
                report=not baseline,
            )
        finally:
            progress.listen(previous)


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
def progress_of_reading(paths: list[Path], passes: int = 1) -> Iterator[None]:
    """The bar of :func:`reading_progress` over what this process's readers read: ``passes`` readings
    of ``paths`` (on a terminal, from PROGRESS_MIN_BYTES of input)."""
    size = sum(p.stat().st_size for p in paths)
    show = size >= PROGRESS_MIN_BYTES and err.is_terminal
    label = "reading logs" if passes == 1 else f"reading logs ({passes} passes)"
    with reading_progress(size * passes if show else None, label) as on_bytes:
        previous = progress.listen(on_bytes)
        try:
            yield
        finally:
            progress.listen(previous)


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
        typer.Option(
            metavar="FILE",
            help="SQLite state file: history carries over between runs.",
        ),
    ] = None,
    aliases: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", envvar="PUSHGUARD_ALIASES", help="Alias map (CSV alias,canonical or YAML)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(metavar="FILE", envvar="PUSHGUARD_CONFIG", help="YAML config: detector tunables."),
    ] = None,
    geoip_city: Annotated[
        Path | None,
        typer.Option(
            metavar="MMDB",
            envvar="PUSHGUARD_GEOIP_CITY",
            help="MaxMind GeoIP2/GeoLite2 City .mmdb (city-level coordinates).",
        ),
    ] = None,
    geoip_asn: Annotated[
        Path | None,
        typer.Option(metavar="MMDB", envvar="PUSHGUARD_GEOIP_ASN", help="MaxMind GeoLite2 ASN .mmdb."),
    ] = None,
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
    metas = [cls.meta for cls in DETECTOR_TYPES]
    if output is OutputFormat.JSON:
        sys.stdout.write(msgspec.json.encode(metas).decode() + "\n")
        return
    for meta in metas:
        table = Table(title=f"{meta.id} — {meta.title} ({meta.severity.value})", title_justify="left")
        table.add_column("tunable")
        table.add_column("default", justify="right")
        table.add_column("meaning")
        for name, tunable in meta.tunables.items():
            table.add_row(name, str(tunable.default), tunable.description)
        console.print(table)
        console.print(meta.description)
        console.print("ATT&CK: " + ", ".join(meta.techniques))
        console.print("Event kinds it sees: " + (", ".join(meta.watches) if meta.watches else "all"))
        for framework, refs in meta.frameworks.items():
            if refs:
                console.print(f"{framework}: " + ", ".join(refs))
        console.print()
