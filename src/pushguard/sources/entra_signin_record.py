"""The parts of an Entra sign-in (the Microsoft Graph ``signIn`` resource, also the ``properties`` of an
Azure Monitor sign-in record) that ``sources.entra`` reads, as msgspec Structs.

As for Okta (``okta_log_event``): objects are typed, leaves are ``Any`` and read with the tolerant
helpers of ``sources.base``; ``location`` stays a plain object, read by ``entra_geo`` as for audits and
risk detections.
"""

from __future__ import annotations

from typing import Any

import msgspec


class EntraRecordPart(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """Graph writes camelCase keys: ``error_code`` is ``errorCode``. Frozen: empty parts are shared."""


class EntraStatus(EntraRecordPart, frozen=True, gc=False):
    error_code: Any = None
    failure_reason: Any = None
    additional_details: Any = None


class EntraAuthenticationStep(EntraRecordPart, frozen=True, gc=False):
    authentication_method: Any = None
    authentication_step_result_detail: Any = None
    succeeded: Any = None


class EntraMfaDetail(EntraRecordPart, frozen=True, gc=False):
    auth_method: Any = None
    auth_detail: Any = None


class EntraDeviceDetail(EntraRecordPart, frozen=True, gc=False):
    device_id: Any = None
    display_name: Any = None
    is_managed: Any = None
    is_compliant: Any = None
    trust_type: Any = None
    operating_system: Any = None
    browser: Any = None


class EntraSignIn(EntraRecordPart, frozen=True, gc=False):
    id: Any = None
    original_request_id: Any = None
    unique_token_identifier: Any = None
    created_date_time: Any = None
    status: EntraStatus | None = None
    user_id: Any = None
    user_principal_name: Any = None
    user_display_name: Any = None
    home_tenant_id: Any = None
    tenant_id: Any = None
    service_principal_id: Any = None
    service_principal_name: Any = None
    app_id: Any = None
    app_display_name: Any = None
    authentication_details: list[EntraAuthenticationStep] | None = None
    mfa_detail: EntraMfaDetail | None = None
    risk_level_during_sign_in: Any = None
    ip_address: Any = None
    autonomous_system_number: Any = None
    location: Any = None
    device_detail: EntraDeviceDetail | None = None
    user_agent: Any = None
    session_id: Any = None
    correlation_id: Any = None
    is_interactive: Any = None
    sign_in_event_types: Any = None
    authentication_requirement: Any = None
    client_app_used: Any = None


def _key(name: str) -> Any:
    return msgspec.field(default=msgspec.Raw(), name=name)


class EntraSignInLine(EntraSignIn, frozen=True, gc=False):
    """A Graph signIn as decoded from a JSON line, with the keys that make the plain path read the line
    as something else: an Azure Monitor record or a Panther one (top-level fields, some lower-cased), an
    audit or a risk detection, another vendor's record (as ``EntraSource.matches`` tells them), an
    envelope. Kept undecoded; a non-empty one sends the line to the plain path."""

    properties: msgspec.Raw = _key("properties")
    category: msgspec.Raw = _key("category")
    time: msgspec.Raw = _key("time")
    result_type: msgspec.Raw = _key("resultType")
    result_type_lower: msgspec.Raw = _key("resulttype")
    result_signature: msgspec.Raw = _key("resultSignature")
    result_signature_lower: msgspec.Raw = _key("resultsignature")
    caller_ip_address: msgspec.Raw = _key("callerIpAddress")
    caller_ip_address_lower: msgspec.Raw = _key("calleripaddress")
    correlation_id_lower: msgspec.Raw = _key("correlationid")
    tenant_id_lower: msgspec.Raw = _key("tenantid")
    identity: msgspec.Raw = _key("identity")
    risk_event_type: msgspec.Raw = _key("riskEventType")
    activity_display_name: msgspec.Raw = _key("activityDisplayName")
    initiated_by: msgspec.Raw = _key("initiatedBy")
    class_uid: msgspec.Raw = _key("class_uid")
    event_type: msgspec.Raw = _key("eventType")
    event_type_lower: msgspec.Raw = _key("eventtype")
    txid: msgspec.Raw = _key("txid")
    isotimestamp: msgspec.Raw = _key("isotimestamp")
    value: msgspec.Raw = _key("value")
    records: msgspec.Raw = _key("records")
    stat: msgspec.Raw = _key("stat")

    def plain_keys(self) -> bool:
        """A key of those is present."""
        return any(
            (
                self.properties,
                self.category,
                self.time,
                self.result_type,
                self.result_type_lower,
                self.result_signature,
                self.result_signature_lower,
                self.caller_ip_address,
                self.caller_ip_address_lower,
                self.correlation_id_lower,
                self.tenant_id_lower,
                self.identity,
                self.risk_event_type,
                self.activity_display_name,
                self.initiated_by,
                self.class_uid,
                self.event_type,
                self.event_type_lower,
                self.txid,
                self.isotimestamp,
                self.value,
                self.records,
                self.stat,
            )
        )


class EntraTopLevel(msgspec.Struct, frozen=True, gc=False):
    """The top-level fields of an Azure Monitor record (``entra_audit.top``); on a Graph signIn, the
    ones it has itself."""

    time: Any = None
    result_type: Any = None
    result_signature: Any = None
    caller_ip_address: Any = None
    correlation_id: Any = None
    tenant_id: Any = None
    identity: Any = None
    category: Any = None


# Absent parts read as empty ones.
NO_STATUS = EntraStatus()
NO_MFA_DETAIL = EntraMfaDetail()
NO_DEVICE_DETAIL = EntraDeviceDetail()
