"""The end-of-run summary: what was read, what was skipped and why, what was found."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from rich.console import Console
from rich.table import Table

from pushguard.detect import META_BY_ID
from pushguard.model import Finding, Severity

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


class Stats(Protocol):
    records: int
    events: int
    errors: int
    error_samples: list[str]
    unmapped: Counter[str]
    by_provider: Counter[str]
    replayed: int
    duplicates: int
    late: int
    files: int
    skipped_files: list[str]


def print_summary(console: Console, stats: Stats, findings: Sequence[Finding], top: int = 10) -> None:
    read = Table(title="Input", show_header=False, title_justify="left")
    read.add_row("files", str(stats.files))
    read.add_row("files skipped (not JSON logs, listed below)", str(len(stats.skipped_files)))
    read.add_row("records read", f"{stats.records:,}")
    read.add_row("events analyzed", f"{stats.events:,}")
    for provider, count in sorted(stats.by_provider.items()):
        read.add_row(f"  {provider}", f"{count:,}")
    read.add_row("not mapped (by reason below)", f"{sum(stats.unmapped.values()):,}")
    read.add_row("malformed records", f"{stats.errors:,}")
    read.add_row("replayed (applied by an earlier run)", f"{stats.replayed:,}")
    read.add_row("duplicates (same record again)", f"{stats.duplicates:,}")
    read.add_row("late (out of order)", f"{stats.late:,}")
    console.print(read)
    if stats.unmapped:
        skipped = Table(title="Not mapped, by reason", title_justify="left")
        skipped.add_column("reason")
        skipped.add_column("records", justify="right")
        for reason, count in stats.unmapped.most_common(15):
            skipped.add_row(reason, f"{count:,}")
        if len(stats.unmapped) > 15:
            skipped.add_row(f"… {len(stats.unmapped) - 15} more reasons", "")
        console.print(skipped)
    if stats.skipped_files:
        console.print("[bold]Files skipped[/bold] in the directories given:")
        for line in stats.skipped_files[:10]:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        if len(stats.skipped_files) > 10:
            console.print(f"  … {len(stats.skipped_files) - 10} more")
    if stats.error_samples:
        console.print("[bold]Malformed records[/bold] (first ones):")
        for line in stats.error_samples[:10]:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    by_detector: Counter[tuple[str, Severity]] = Counter((f.detector, f.severity) for f in findings)
    table = Table(title=f"Findings: {len(findings)}", title_justify="left")
    table.add_column("what")
    table.add_column("detector", style="dim")
    for severity in reversed(Severity):
        table.add_column(severity.value, justify="right", style=_SEVERITY_STYLE[severity])
    for detector in sorted({d for d, _ in by_detector}):
        meta = META_BY_ID.get(detector)
        title = meta.title if meta is not None else detector
        table.add_row(title, detector, *(str(by_detector[(detector, s)] or "") for s in reversed(Severity)))
    console.print(table)
    if findings:
        users = Table(title="Top identities", title_justify="left")
        users.add_column("identity")
        users.add_column("findings", justify="right")
        users.add_column("worst")
        users.add_column("latest finding")
        per_user: dict[str, list[Finding]] = {}
        for finding in findings:
            per_user.setdefault(finding.user, []).append(finding)
        ranked = sorted(
            per_user.items(), key=lambda kv: (-max(f.severity.rank for f in kv[1]), -len(kv[1]), kv[0])
        )
        for user, items in ranked[:top]:
            worst = max(items, key=lambda f: f.severity.rank).severity
            latest = max(items, key=lambda f: f.detected_at)
            users.add_row(user, str(len(items)), f"[{_SEVERITY_STYLE[worst]}]{worst.value}[/]", latest.title)
        console.print(users)
