"""Join recorded decisions to the vendor's records of the same prompt (or enrollment).

A decision is recorded as a decision log line (``{"request": ..., "decision": ...}``, what ``pushguard
serve`` appends) or as a ``decision`` Event (decide/record.py); ``read_decisions`` reads both, one per
line, and counts the lines it cannot read without stopping. The IdP logs the prompt itself, minutes later.
A vendor record belongs to a decision when:
- it names the same identity and concerns the same operation (a push: send and answers; an enrollment:
  the factor enrolled);
- it falls within ``window_s`` after the decision (or ``skew_s`` before it: clocks differ), and before
  the next decision about the same identity and operation (each record joins one decision at most);
- the IPs agree when both are known (a record the phone wrote, whose IP is the responder's, has no
  requester address to compare).

The join says what happened to each decided prompt, and where enforcement leaked:
- push: a step-up decided and the push approved anyway; a throttle or deny decided and a push delivered;
- enroll: a step-up or deny decided and the factor enrolled anyway."""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from pushguard.decide.record import DecisionRecord, action_of, operation_of
from pushguard.flow import Flow, RunStats, expand_paths, read_paths
from pushguard.model import DecisionAction, Event, EventKind, Operation

_PUSH_KINDS = frozenset(
    {
        EventKind.PUSH_SENT,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_TIMEOUT,
        EventKind.FRAUD_REPORTED,
    }
)
_KINDS = {Operation.PUSH: _PUSH_KINDS, Operation.ENROLL: frozenset({EventKind.FACTOR_ENROLLED})}
NOT_FOUND = "not found"
NO_ANSWER = "push_sent, no answer logged"


class Decided(msgspec.Struct, frozen=True, kw_only=True):
    """What the join needs of a decision, from either record shape."""

    identity: str
    operation: Operation
    ts: float
    ip: str | None
    action: DecisionAction
    decided_at: str


class Joined(msgspec.Struct, kw_only=True):
    identity: str
    operation: Operation
    decided_at: str
    decision: DecisionAction
    outcome: str  # the vendor's final word: push_approved, push_denied, factor_enrolled, ... or "not found"
    event_ids: list[str]
    leak: bool  # the vendor let through what the decision escalated


@dataclass
class DecisionLog:
    decisions: list[Decided] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "file:line: reason", one per unreadable line


def decided(item: DecisionRecord | Event) -> Decided:
    if isinstance(item, Event):
        return Decided(
            identity=item.identity,
            operation=operation_of(item),
            ts=item.ts,
            ip=item.ip,
            action=action_of(item),
            decided_at=item.time.isoformat().replace("+00:00", "Z"),
        )
    request = item.request
    return Decided(
        identity=request.identity,
        operation=request.operation,
        ts=request.time.timestamp(),
        ip=request.ip,
        action=item.decision.decision,
        decided_at=item.decision.evaluated_at,
    )


_record_decoder = msgspec.json.Decoder(DecisionRecord)
_event_decoder = msgspec.json.Decoder(Event)


def read_decisions(path: Path) -> DecisionLog:
    """Decision log lines and decision Events, in any mix; a line that is neither is listed, not fatal."""
    log = DecisionLog()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                if b'"request"' in line:
                    log.decisions.append(decided(_record_decoder.decode(line)))
                else:
                    log.decisions.append(decided(_event_decoder.decode(line)))
            except (msgspec.DecodeError, ValueError, RecursionError) as exc:
                log.errors.append(f"{path}:{number}: not a decision record: {exc}")
    return log


def _same_requester(ip: str | None, event: Event) -> bool:
    if not ip or not event.ip:
        return True
    if event.responder_ip is not None and event.responder_ip == event.ip:
        return True
    return event.ip == ip


def _leak(item: Decided, outcome: str) -> bool:
    action = item.action
    if item.operation is Operation.ENROLL:
        return action.rank >= DecisionAction.STEP_UP.rank and outcome == EventKind.FACTOR_ENROLLED.value
    if action in (DecisionAction.THROTTLE, DecisionAction.DENY):
        return outcome != NOT_FOUND  # the push was delivered all the same
    return action is DecisionAction.STEP_UP and outcome == EventKind.PUSH_APPROVED.value


def join_decisions(
    decisions: Sequence[Decided | DecisionRecord | Event],
    logs: Sequence[str | Path],
    *,
    window_s: float = 120.0,
    skew_s: float = 5.0,
    flow: Flow | None = None,
) -> list[Joined]:
    """One ``Joined`` per decision, in the order given; ``flow`` links identities (its alias map)."""
    items = [d if isinstance(d, Decided) else decided(d) for d in decisions]
    vendor: dict[tuple[str, Operation], list[Event]] = defaultdict(list)
    stats = RunStats()
    for event in (flow or Flow()).parse(read_paths(expand_paths(logs)), stats):
        for operation, kinds in _KINDS.items():
            if event.kind in kinds:
                vendor[(event.identity, operation)].append(event)
    times: dict[tuple[str, Operation], list[float]] = {}
    for key, events in vendor.items():
        events.sort(key=lambda e: e.sort_key())
        times[key] = [e.ts for e in events]
    # the next decision about the same identity and operation closes the window of the one before
    following: dict[int, float] = {}
    by_key: dict[tuple[str, Operation], list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_key[(item.identity, item.operation)].append(index)
    for indexes in by_key.values():
        indexes.sort(key=lambda i: items[i].ts)
        for here, there in itertools.pairwise(indexes):
            following[here] = items[there].ts - skew_s
    taken: set[str] = set()
    joined = []
    for index, item in enumerate(items):
        key = (item.identity, item.operation)
        events = vendor.get(key, [])
        start = item.ts - skew_s
        end = min(item.ts + window_s, following.get(index, float("inf")))
        first = bisect.bisect_left(times.get(key, []), start)
        matched = [
            e
            for e in events[first:]
            if e.ts <= end and e.event_id not in taken and _same_requester(item.ip, e)
        ]
        taken.update(e.event_id for e in matched)
        outcome = next((e.kind.value for e in reversed(matched) if e.kind is not EventKind.PUSH_SENT), None)
        if outcome is None:
            outcome = NO_ANSWER if matched else NOT_FOUND
        joined.append(
            Joined(
                identity=item.identity,
                operation=item.operation,
                decided_at=item.decided_at,
                decision=item.action,
                outcome=outcome,
                event_ids=[e.event_id for e in matched],
                leak=_leak(item, outcome),
            )
        )
    return joined


def join_summary(joined: Sequence[Joined]) -> dict[str, dict[str, int]]:
    """Decided action → vendor outcome → count, plus a ``leaks`` row per action."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for row in joined:
        table[row.decision.value][row.outcome] += 1
        if row.leak:
            table["leaks"][row.decision.value] += 1
    return {action: dict(counts) for action, counts in sorted(table.items())}
