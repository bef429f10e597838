"""Every decide call, recorded: as a decision log line (request + decision, the full record) and as a
canonical Event of kind ``decision`` (provider ``pushguard``) that travels with the vendors' events.

The Event keeps what a later join needs: the identity, the request's time, IP, geo, device, app and
factor, and in two fields the decision itself:
- ``reason``: the decided action (allow, number_match, throttle, step_up, deny);
- ``detail``: ``"<operation>; policy <version>; risk <n>; rules <a>,<b>"`` (operation first, so
  ``operation_of`` reads it back).
Its ``event_id`` is a stable hash of the request, so the same request recorded twice is one event."""

from __future__ import annotations

import msgspec

from pushguard.model import (
    Decision,
    DecisionAction,
    DecisionRequest,
    Device,
    Event,
    EventKind,
    Operation,
    Principal,
    Provider,
    stable_id,
)


class DecisionRecord(msgspec.Struct, frozen=True):
    """One line of the decision log (``pushguard serve``'s ``decision_log``)."""

    request: DecisionRequest
    decision: Decision


def request_key(request: DecisionRequest) -> str:
    return stable_id(
        "decision",
        request.operation.value,
        request.identity,
        request.time.isoformat(),
        request.ip or "",
        request.device_id or "",
        request.app or "",
    )


def decision_event(request: DecisionRequest, decision: Decision) -> Event:
    device = None
    if any(
        v is not None
        for v in (request.device_id, request.user_agent, request.device_managed, request.device_compliant)
    ):
        device = Device(
            id=request.device_id,
            user_agent=request.user_agent,
            managed=request.device_managed,
            compliant=request.device_compliant,
        )
    rules = ",".join(r.name for r in decision.matched_rules if not r.report_only) or "-"
    return Event(
        provider=Provider.PUSHGUARD,
        event_id=request_key(request),
        time=request.time,
        kind=EventKind.DECISION,
        identity=request.identity,
        subject=Principal(login=request.identity),
        user_kind=request.user_kind,
        ip=request.ip,
        geo=request.geo,
        device=device,
        app=request.app,
        factor=request.factor,
        reason=decision.decision.value,
        detail=f"{request.operation.value}; policy {decision.policy_version}; "
        f"risk {decision.risk}; rules {rules}",
    )


def operation_of(event: Event) -> Operation:
    """The operation a decision event was about; ValueError naming the event when it is not one."""
    if event.kind is not EventKind.DECISION:
        raise ValueError(f"event {event.event_id}: kind {event.kind.value}, not a decision")
    head = (event.detail or "").split(";", 1)[0].strip()
    try:
        return Operation(head)
    except ValueError:
        raise ValueError(
            f"event {event.event_id}: detail does not start with an operation: {head!r}"
        ) from None


def action_of(event: Event) -> DecisionAction:
    try:
        return DecisionAction(event.reason or "")
    except ValueError:
        raise ValueError(f"event {event.event_id}: reason is not a decision: {event.reason!r}") from None
