"""Who an incident's actions aim at: the identity's account at each vendor, and what was enrolled.

From findings alone we know the identity (login/UPN) and the vendor; the vendor's user id is then
looked up by login at execute time. Given the logs' events too, each account gets its immutable id and
the incident gets its enrollments (the factor to remove): evidence events first, else any enrollment of
the identity inside the incident's window."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from pushguard.model import Event, EventKind, Finding, InputError
from pushguard.respond.actions import EnrolledFactor, Target, VendorAccount
from pushguard.respond.vendor import parse_time

VENDORS = frozenset({"okta", "entra", "duo"})
MAX_BAD_LISTED = 20

_decoder = msgspec.json.Decoder(Finding)


@dataclass
class FindingsRead:
    findings: list[Finding]
    bad: int = 0
    problems: list[str] = field(default_factory=list)


def read_findings_file(path: Path) -> FindingsRead:
    """Findings (highest revision per id); a malformed line is counted and named, the rest is read."""
    best: dict[str, Finding] = {}
    out = FindingsRead([])
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                finding = _decoder.decode(line)
            except (msgspec.DecodeError, RecursionError) as exc:
                out.bad += 1
                if len(out.problems) < MAX_BAD_LISTED:
                    out.problems.append(f"{path}:{number}: not a finding: {exc}")
                continue
            old = best.get(finding.id)
            if old is None or finding.revision > old.revision:
                best[finding.id] = finding
    out.findings = sorted(best.values(), key=lambda f: (f.detected_at, f.id))
    return out


def _is_account(identity: str) -> bool:
    # Second-stage findings name a source ("ip:203.0.113.5", "asn:64500"), not an account to act on.
    return bool(identity) and not identity.startswith(("ip:", "asn:", "prefix:"))


def incidents(findings: Sequence[Finding]) -> Iterator[tuple[str, list[Finding]]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.incident, []).append(finding)
    yield from grouped.items()


def build_targets(findings: Sequence[Finding], events: Iterable[Event] | None = None) -> dict[str, Target]:
    groups = [(i, items) for i, items in incidents(findings) if _is_account(items[0].user)]
    identities = {items[0].user for _, items in groups}
    accounts: dict[tuple[str, str], VendorAccount] = {}
    enrollments: dict[str, list[Event]] = {}
    for event in events or ():
        if event.identity not in identities or event.provider.value not in VENDORS:
            continue
        subject = event.subject
        key = (event.identity, event.provider.value)
        if subject is not None and (subject.id or subject.login):
            old = accounts.get(key)
            if old is None or (subject.id and not old.user_id):
                accounts[key] = VendorAccount(
                    provider=event.provider.value, login=subject.login or event.identity, user_id=subject.id
                )
        if event.kind is EventKind.FACTOR_ENROLLED:
            enrollments.setdefault(event.identity, []).append(event)
    targets: dict[str, Target] = {}
    for incident, items in groups:
        identity = items[0].user
        first = min(f.first_seen for f in items)
        last = max(f.last_seen for f in items)
        providers = {p for f in items for p in ([f.provider] if f.provider in VENDORS else [])}
        providers |= {vendor for (who, vendor) in accounts if who == identity}
        chosen = tuple(
            accounts.get((identity, vendor)) or VendorAccount(provider=vendor, login=identity)
            for vendor in sorted(providers)
        )
        targets[incident] = Target(
            identity=identity,
            incident=incident,
            accounts=chosen,
            enrolled=_enrolled(items, enrollments.get(identity, []), first, last),
            window=(first, last),
        )
    return targets


def _enrolled(items: list[Finding], events: list[Event], first: str, last: str) -> tuple[EnrolledFactor, ...]:
    evidence = {e for f in items for e in f.evidence}
    chosen = [e for e in events if e.event_id in evidence]
    if not chosen:
        start, end = parse_time(first), parse_time(last)
        chosen = [e for e in events if start is not None and end is not None and start <= e.time <= end]
    return tuple(
        EnrolledFactor(
            provider=e.provider.value,
            time=e.time.isoformat().replace("+00:00", "Z"),
            event_id=e.event_id,
            factor=e.factor.value if e.factor else None,
            factor_id=e.factor_id,
        )
        for e in chosen
    )
