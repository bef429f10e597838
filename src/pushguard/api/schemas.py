"""Request and reply bodies of the HTTP API, and their JSON schemas for the OpenAPI document.

The schemas come from msgspec (the same types decode the bodies), with every ``$ref`` resolved in place:
each operation's schema stands alone, so the document needs no shared components section."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

from pushguard.api.service import IdentitySummary
from pushguard.decide import Policy
from pushguard.model import Decision, Finding, Provider

MAX_RECORDS = 10_000  # per /v1/events batch (the body size limit usually binds first)


class LogProvider(enum.StrEnum):
    """The vendors whose records pushguard parses."""

    OKTA = "okta"
    ENTRA = "entra"
    DUO = "duo"
    OCSF = "ocsf"


class EventsBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Raw vendor records as the vendor wrote them (or the vendor's own envelopes of them)."""

    records: Annotated[list[Any], msgspec.Meta(max_length=MAX_RECORDS)]
    provider: LogProvider | None = None  # omitted: recognised per record

    @property
    def source_provider(self) -> Provider | None:
        return None if self.provider is None else Provider(self.provider.value)


class EventsReply(msgspec.Struct, kw_only=True):
    records: int
    events: int
    rejected: dict[str, int]  # reason → count ('malformed', or why a record maps to no event)
    errors: list[str]  # the first malformed records, by position, with the reason
    findings: list[Finding]  # new findings and escalated revisions
    queued: int = 0  # with Redis: records put on the partition streams (the workers find)
    duplicates: int = 0  # records already received (a redelivery): kept once
    late: int = 0  # events behind those already applied (a replay, or later than the reorder window): skipped
    held: int = 0  # events waiting for the reorder window, then applied in event-time order


class FindingsPage(msgspec.Struct, kw_only=True):
    findings: list[Finding]
    total: int
    offset: int
    limit: int
    next_offset: int | None


class OktaDeliveryData(msgspec.Struct):
    events: list[Any]  # Okta System Log events (what is not an object is counted as malformed)


class OktaDelivery(msgspec.Struct, kw_only=True):
    """What Okta POSTs to an event hook (only ``data.events`` is read)."""

    data: OktaDeliveryData
    eventType: str | None = None  # noqa: N815 (Okta's field name)
    eventTypeVersion: str | None = None  # noqa: N815
    cloudEventsVersion: str | None = None  # noqa: N815
    source: str | None = None
    eventId: str | None = None  # noqa: N815
    eventTime: str | None = None  # noqa: N815
    contentType: str | None = None  # noqa: N815


class PolicyInfo(msgspec.Struct, kw_only=True):
    version: str
    source: str
    report_only: bool
    fallback: str
    default: str
    rules: list[str]
    last_reload_error: str | None  # why the last reload was refused (the version above is still served)

    @classmethod
    def of(cls, policy: Policy, error: str | None) -> PolicyInfo:
        return cls(
            version=policy.version,
            source=policy.source,
            report_only=policy.report_only,
            fallback=policy.fallback.value,
            default=policy.default.value,
            rules=[r.name for r in policy.rules],
            last_reload_error=error,
        )


_REPLIES: dict[str, type[Any]] = {
    "Decision": Decision,
    "EventsReply": EventsReply,
    "FindingsPage": FindingsPage,
    "IdentitySummary": IdentitySummary,
    "PolicyInfo": PolicyInfo,
}


def schema_of(kind: Any) -> dict[str, Any]:
    (schema,), components = msgspec.json.schema_components([kind], ref_template="#/components/schemas/{name}")
    resolved: dict[str, Any] = _inline(schema, components)
    return resolved


def _inline(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    if depth > 16:  # none of these types is recursive; a bound all the same
        return {}
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return _inline(components[ref.rsplit("/", 1)[-1]], components, depth + 1)
        return {k: _inline(v, components, depth + 1) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, components, depth + 1) for v in schema]
    return schema


def request_body(kind: Any) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": schema_of(kind)}}, "required": True}}


def response_of(name: str) -> dict[str, Any]:
    schema = schema_of(_REPLIES[name])
    return {"responses": {"200": {"description": name, "content": {"application/json": {"schema": schema}}}}}
