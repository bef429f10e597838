"""Join recorded decisions to the vendor's records of the same prompt.

``pushguard serve`` appends every decision to its decision log (``{"request": ..., "decision": ...}`` per
line). The IdP logs the prompt itself minutes later. A decision and a vendor record belong together when
they name the same identity, the record falls within ``window_s`` after the decision (or ``skew_s``
before it: clocks differ), and the IPs agree when both are known. The join says what happened to each
decided prompt, and where enforcement leaked: a step-up or deny decided, and a push approved anyway."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import msgspec

from pushguard.enrich import AliasMap
from pushguard.model import Decision, DecisionAction, DecisionRequest, Event, EventKind
from pushguard.pipeline import RunStats, parse_items
from pushguard.sources.readers import expand_paths, read_paths

_PROMPT = frozenset(
    {
        EventKind.PUSH_SENT,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_TIMEOUT,
        EventKind.FRAUD_REPORTED,
        EventKind.FACTOR_ENROLLED,
    }
)
_STRICT = frozenset({DecisionAction.STEP_UP, DecisionAction.DENY})


class DecisionRecord(msgspec.Struct):
    request: DecisionRequest
    decision: Decision


class Joined(msgspec.Struct, kw_only=True):
    identity: str
    decided_at: str
    decision: DecisionAction
    outcome: str  # the vendor's final word on the prompt: push_approved, push_denied, ..., or "not found"
    event_ids: list[str]
    leak: bool  # a step-up or deny was decided, and a push was approved anyway


def _same_requester(request: DecisionRequest, event: Event) -> bool:
    """IPs agree when both are known; a record the phone wrote (its IP is the responder's) has no
    requester address to compare."""
    if not request.ip or not event.ip:
        return True
    if event.responder_ip is not None and event.responder_ip == event.ip:
        return True
    return event.ip == request.ip


def read_decisions(path: Path) -> list[DecisionRecord]:
    decoder = msgspec.json.Decoder(DecisionRecord)
    found = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                found.append(decoder.decode(line))
            except msgspec.DecodeError as exc:
                raise ValueError(f"{path}:{number}: not a decision record: {exc}") from exc
    return found


def join_decisions(
    decisions: Sequence[DecisionRecord],
    logs: Sequence[str | Path],
    *,
    window_s: float = 120.0,
    skew_s: float = 5.0,
    aliases: AliasMap | None = None,
) -> list[Joined]:
    by_identity: dict[str, list[Event]] = defaultdict(list)
    stats = RunStats()
    for event in parse_items(read_paths(expand_paths(logs)), stats, None, aliases or AliasMap()):
        if event.kind in _PROMPT:
            by_identity[event.identity].append(event)
    for events in by_identity.values():
        events.sort(key=lambda e: e.ts)
    joined = []
    for record in decisions:
        request, decision = record.request, record.decision
        events = by_identity.get(request.identity, [])
        start = request.time.timestamp() - skew_s
        first = bisect.bisect_left([e.ts for e in events], start)
        end = start + skew_s + window_s
        matched = [e for e in events[first:] if e.ts <= end and _same_requester(request, e)]
        outcome = next((e.kind.value for e in reversed(matched) if e.kind is not EventKind.PUSH_SENT), None)
        if outcome is None:
            outcome = "push_sent, no answer logged" if matched else "not found"
        joined.append(
            Joined(
                identity=request.identity,
                decided_at=decision.evaluated_at,
                decision=decision.decision,
                outcome=outcome,
                event_ids=[e.event_id for e in matched],
                leak=decision.decision in _STRICT and outcome == EventKind.PUSH_APPROVED.value,
            )
        )
    return joined
