"""Microsoft Entra ID risk detections (Graph ``riskDetection``, Azure Monitor ``UserRiskEvents``) → Events;
a user's own fraud report is ``userReportedSuspiciousActivity`` (see ``sources.entra``)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from pushguard.model import Device, Event, EventKind, Principal, Provider, RawRef
from pushguard.sources.base import (
    NOT_JSON,
    ParseResult,
    Record,
    RecordError,
    ip_or_none,
    lower_or_none,
    mapping,
    text_or_none,
)
from pushguard.sources.entra_audit import entra_geo, entra_time, top

_json = msgspec.json.Decoder()


def parse_risk(record: Record, body: Record, ref: RawRef) -> ParseResult:
    """A risk detection (``body``: the Graph riskDetection, or the Azure Monitor record's properties)."""
    risk_type = text_or_none(body.get("riskEventType")) or text_or_none(body.get("riskType"))
    if risk_type is None:
        raise RecordError("riskEventType: missing")
    event_id = text_or_none(body.get("id"))
    if event_id is None:
        raise RecordError("properties.id: missing")
    when_raw = body.get("detectedDateTime") or body.get("activityDateTime") or top(record, "time")
    when = entra_time(when_raw, "detectedDateTime")
    tenant = text_or_none(body.get("homeTenantId")) or text_or_none(top(record, "tenantId"))
    subject = Principal(
        id=text_or_none(body.get("userId")),
        login=lower_or_none(body.get("userPrincipalName")),
        display_name=text_or_none(body.get("userDisplayName")),
        tenant=tenant,
    )
    if subject.login is None and subject.id is None:
        raise RecordError("userPrincipalName/userId: missing")
    info = _additional_info(body.get("additionalInfo"))
    agent = text_or_none(info.get("userAgent"))
    reasons = info.get("riskReasons")
    behaviors = (
        tuple(sorted(_snake(r) for r in reasons if isinstance(r, str))) if isinstance(reasons, list) else ()
    )
    fraud = risk_type == "userReportedSuspiciousActivity"
    return [
        Event(
            provider=Provider.ENTRA,
            event_id=event_id,
            time=when,
            kind=EventKind.FRAUD_REPORTED if fraud else EventKind.RISK_DETECTED,
            identity=subject.login or subject.id or "",
            subject=subject,
            ip=ip_or_none(body.get("ipAddress")) or ip_or_none(top(record, "callerIpAddress")),
            geo=entra_geo(body.get("location")),
            device=Device(user_agent=agent) if agent else None,
            session_id=text_or_none(body.get("correlationId")),
            reason=text_or_none(body.get("riskDetail")),
            vendor_risk=lower_or_none(body.get("riskLevel")),
            behaviors=behaviors,
            detail=risk_type,
            raw=RawRef(source=ref.source, position=ref.position, vendor_type=risk_type),
        )
    ]


def _additional_info(value: Any) -> dict[str, Any]:
    """``additionalInfo`` is a JSON string holding ``[{"Key": …, "Value": …}]``."""
    entries: Any = value
    if isinstance(value, str):
        try:
            entries = _json.decode(value)
        except NOT_JSON:
            return {}
    if not isinstance(entries, list):
        return {}
    return {str(mapping(i).get("Key")): mapping(i).get("Value") for i in entries if mapping(i).get("Key")}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()
