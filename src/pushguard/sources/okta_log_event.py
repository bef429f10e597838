"""The parts of an Okta System Log LogEvent that ``sources.okta`` reads, as msgspec Structs.

Decoded straight from a JSON line, fields not named here are skipped without being built. Objects are
typed; leaves are ``Any`` on purpose: the mapping reads them with the tolerant helpers of
``sources.base`` (``text_or_none`` & co), which take whatever JSON type a vendor wrote, so narrower leaf
types would only refuse more lines and need a second set of coercion rules for the dict path.
Every field is optional; null and absent read the same, except ``published`` (absent: ``UNSET``).
"""

from __future__ import annotations

from typing import Any

import msgspec


class OktaRecordPart(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """Okta writes camelCase keys: ``ip_address`` is ``ipAddress``. Frozen: the mapping shares empty
    parts between records."""


class OktaDetailEntry(OktaRecordPart, frozen=True):
    method_type_used: Any = None


class OktaPrincipal(OktaRecordPart, frozen=True):
    """An actor or a target."""

    id: Any = None
    type: Any = None
    alternate_id: Any = None
    display_name: Any = None
    detail_entry: OktaDetailEntry | None = None


class OktaGeolocation(OktaRecordPart, frozen=True):
    lat: Any = None
    lon: Any = None


class OktaGeographicalContext(OktaRecordPart, frozen=True):
    city: Any = None
    state: Any = None
    country: Any = None
    geolocation: OktaGeolocation | None = None


class OktaUserAgent(OktaRecordPart, frozen=True):
    raw_user_agent: Any = None
    os: Any = None
    browser: Any = None


class OktaClient(OktaRecordPart, frozen=True):
    ip_address: Any = None
    device: Any = None
    user_agent: OktaUserAgent | None = None
    geographical_context: OktaGeographicalContext | None = None


class OktaSecurityContext(OktaRecordPart, frozen=True):
    as_number: Any = None
    as_org: Any = None
    isp: Any = None
    is_proxy: Any = None


class OktaDevice(OktaRecordPart, frozen=True):
    """OIE's device context (snake_case keys, unlike the rest)."""

    id: Any = None
    name: Any = None
    managed: Any = None
    registered: Any = None
    os_platform: Any = msgspec.field(default=None, name="os_platform")
    os_version: Any = msgspec.field(default=None, name="os_version")


class OktaAuthenticationContext(OktaRecordPart, frozen=True):
    root_session_id: Any = None
    external_session_id: Any = None


class OktaDebugData(OktaRecordPart, frozen=True):
    factor: Any = None
    push_only_response_type: Any = None
    push_with_number_challenge_response_type: Any = None
    suspicious_activity_event_ip: Any = None
    suspicious_activity_event_latitude: Any = None
    suspicious_activity_event_longitude: Any = None
    suspicious_activity_event_country: Any = None
    suspicious_activity_event_state: Any = None
    suspicious_activity_event_city: Any = None
    threat_detections: Any = None
    device_fingerprint: Any = None
    behaviors: Any = None  # a JSON object, or text: ``{New IP=POSITIVE, …}`` or JSON
    risk: Any = None  # likewise
    log_only_security_data: Any = None  # likewise; holds behaviors and risk (OIE)


class OktaDebugContext(OktaRecordPart, frozen=True):
    debug_data: OktaDebugData | None = None


class OktaOutcome(OktaRecordPart, frozen=True):
    result: Any = None
    reason: Any = None


class OktaLogEvent(OktaRecordPart, frozen=True):
    event_type: Any = None
    uuid: Any = None
    published: Any = msgspec.UNSET  # absent and null are different errors
    actor: OktaPrincipal | None = None
    target: list[OktaPrincipal] | None = None
    client: OktaClient | None = None
    security_context: OktaSecurityContext | None = None
    device: OktaDevice | None = None
    authentication_context: OktaAuthenticationContext | None = None
    outcome: OktaOutcome | None = None
    debug_context: OktaDebugContext | None = None


class OktaLogEventLine(OktaLogEvent, frozen=True):
    """A LogEvent as decoded from a JSON line, with the keys that make the plain path read the line as
    something else: an envelope (``readers.unwrap_records``) or an OCSF record (detected before Okta).
    Kept undecoded; a non-empty one sends the line to the plain path."""

    value: msgspec.Raw = msgspec.Raw()
    records: msgspec.Raw = msgspec.Raw()
    stat: msgspec.Raw = msgspec.Raw()
    data: msgspec.Raw = msgspec.Raw()
    class_uid: msgspec.Raw = msgspec.field(default=msgspec.Raw(), name="class_uid")


class OktaTypeLine(OktaRecordPart, frozen=True):
    """What tells whether a mapping takes a line (its type and outcome) and whether the plain path would
    read it as an Okta record (``OktaLogEventLine``'s keys): decoded first, the rest of the line skipped
    unbuilt, so a record no mapping takes costs a fraction of a full decode."""

    event_type: Any = None
    published: Any = msgspec.UNSET
    outcome: OktaOutcome | None = None
    value: msgspec.Raw = msgspec.Raw()
    records: msgspec.Raw = msgspec.Raw()
    stat: msgspec.Raw = msgspec.Raw()
    data: msgspec.Raw = msgspec.Raw()
    class_uid: msgspec.Raw = msgspec.field(default=msgspec.Raw(), name="class_uid")


# Absent parts read as empty ones (frozen: sharing them is safe).
NO_ACTOR = OktaPrincipal()
NO_DETAIL = OktaDetailEntry()
NO_OUTCOME = OktaOutcome()
NO_CLIENT = OktaClient()
NO_USER_AGENT = OktaUserAgent()
NO_PLACE = OktaGeographicalContext()
NO_POINT = OktaGeolocation()
NO_SECURITY = OktaSecurityContext()
NO_DEVICE = OktaDevice()
NO_AUTHENTICATION = OktaAuthenticationContext()
NO_DEBUG = OktaDebugData()
