"""The typed pre-filter of Entra audit logs: a Graph ``directoryAudit`` line whose activity no mapping
takes (group, application, policy and directory changes: most of a real audit log) is counted as
unmapped from its activity name alone, the rest of the line skipped unbuilt.

The decoder of a JSON Lines file whose first record is an audit (``sources.line_source``). As every typed
decoder (``sources.typed``), it takes a line only where the plain path would give the same answer: the
keys that would make the plain path read the record as another vendor's, an Azure Monitor wrapper, a risk
detection or an envelope send it there, and so does every audit a mapping may take (security info,
privileged changes, ``Update user``), which the plain path parses whole."""

from __future__ import annotations

from typing import Any

import msgspec

from pushguard.model import Provider, RawRef
from pushguard.sources.base import NOT_JSON, ParseResult, RecordError, Unmapped, text_or_none
from pushguard.sources.entra_audit import RISK_CATEGORIES, normal_activity, unmapped_by_name
from pushguard.sources.typed import plain_text_passes


def _key(name: str) -> Any:
    return msgspec.field(default=msgspec.Raw(), name=name)


class EntraAuditHead(msgspec.Struct, frozen=True, gc=False):
    """What tells whether a mapping takes an audit line (its activity), and the keys that would make the
    plain path read the line otherwise (``EntraSource.matches`` and ``parse``, Okta's and OCSF's
    ``matches``, the reader's envelopes). Kept undecoded: a non-empty one sends the line the plain way."""

    activity_display_name: Any = msgspec.field(default=None, name="activityDisplayName")
    category: Any = None
    properties: msgspec.Raw = _key("properties")
    risk_event_type: msgspec.Raw = _key("riskEventType")
    class_uid: msgspec.Raw = _key("class_uid")
    event_type: msgspec.Raw = _key("eventType")
    event_type_lower: msgspec.Raw = _key("eventtype")
    txid: msgspec.Raw = _key("txid")
    isotimestamp: msgspec.Raw = _key("isotimestamp")
    value: msgspec.Raw = _key("value")
    records: msgspec.Raw = _key("records")
    stat: msgspec.Raw = _key("stat")
    data: msgspec.Raw = _key("data")

    def elsewhere(self) -> bool:
        """A key of those is present."""
        return any(
            (
                self.properties,
                self.risk_event_type,
                self.class_uid,
                self.event_type,
                self.event_type_lower,
                self.txid,
                self.isotimestamp,
                self.value,
                self.records,
                self.stat,
                self.data,
            )
        )


_head_decoder = msgspec.json.Decoder(EntraAuditHead)


class EntraAuditLines:
    """The line decoder of an Entra audit file: ``Unmapped`` for an audit no mapping takes, else None."""

    provider = Provider.ENTRA

    def decode_line(self, line: bytes) -> Unmapped | None:
        try:
            head = _head_decoder.decode(line)
        except (*NOT_JSON, RecursionError):
            return None
        name = head.activity_display_name
        if name.__class__ is not str or head.elsewhere():
            return None
        category = text_or_none(head.category)
        if category is not None and category.lower() in RISK_CATEGORIES:
            return None
        activity = text_or_none(name)
        if activity is None:
            return None
        reason = unmapped_by_name(normal_activity(activity))
        return reason if reason is not None and plain_text_passes(line) else None

    def parse_decoded(self, decoded: Unmapped, ref: RawRef) -> ParseResult:
        if not isinstance(decoded, Unmapped):  # decode_line gives nothing else
            raise RecordError("an Entra audit decoded without the record it needs")
        return decoded


AUDIT_LINES = EntraAuditLines()
