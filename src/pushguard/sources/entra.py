"""Microsoft Entra ID sign-in logs and risk detections → Events (audit logs: ``entra_audit``).

Two shapes, one code path: the Microsoft Graph ``signIn`` resource (flat) and the Azure Monitor diagnostic
record (top-level ``time``, ``category``, ``resultType``, ``callerIpAddress``; the Graph fields under
``properties``). Facts relied on, with where they come from:

- Error codes: the table, with Microsoft's meaning beside each code, is ``entra_codes``. Only credential
  failures are ``signin_failure``; interrupts (MFA required, "Stay signed in?", a device check) are not
  failures; an unknown code is counted as not mapped. 500121 is "Authentication failed during strong
  authentication request" (not in Microsoft's table; seen in sign-in logs and Microsoft's Sentinel rules,
  which split it by ``status.additionalDetails``).
- MFA result wording ("Use the sign-in logs to review Microsoft Entra multifactor authentication events";
  ``authenticationDetail`` resource, Graph beta): denials read "MFA denied; user declined the
  authentication", "MFA denied; user did not respond to mobile app notification" (newer docs: "didn't"),
  "MFA denied; Phone App Reported Fraud" / "Fraud Code Entered"; public write-ups also show "MFA denied;
  user did not select the correct number" (number matching). Satisfied: "MFA successfully completed",
  "MFA completed in Azure AD", "MFA requirement satisfied by claim in the token" (no prompt).
- Methods: ``authenticationMethod`` "Password", "Mobile app notification", "Text message", "Phone call
  approval (…)", "OATH verification code" (hardware and software tokens alike), "FIDO2 security key",
  "Windows Hello for Business", "Passwordless phone sign-in", "Previously satisfied" (no prompt); the
  Graph beta page lists "Authenticator App", "SMS", "Voice", "Software OATH token", "Satisfied by token".
  ``authenticationDetails`` and ``mfaDetail`` exist only on the Graph beta ``signIn`` and in Azure Monitor.
- Risk detections (``UserRiskEvents`` / Graph ``riskDetection``) name ``riskEventType``; a user's own fraud
  report is ``userReportedSuspiciousActivity`` (Design, Vendor notes).
- Entra gives no responder (phone) IP. Authentication details "can initially show incomplete or inaccurate
  data, until log information is fully aggregated" (same MFA page): a success whose push step still reads
  "Authentication in progress" but whose status says "MFA completed" is an approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from pushguard.model import (
    Device,
    Event,
    EventKind,
    Factor,
    Principal,
    PrincipalType,
    Provider,
    RawRef,
    UserKind,
)
from pushguard.model.assurance import is_legacy_client
from pushguard.sources.base import (
    NOT_JSON,
    ParseResult,
    Record,
    RecordError,
    Unmapped,
    bool_or_none,
    int_or_none,
    ip_or_none,
    lower_or_none,
    text_or_none,
)
from pushguard.sources.entra_audit import (
    RISK_CATEGORIES,
    entra_geo,
    entra_time,
    factor_from_text,
    parse_audit,
    top,
)
from pushguard.sources.entra_codes import MFA_FAILED, signin_kind
from pushguard.sources.entra_risk import parse_risk
from pushguard.sources.entra_signin_record import (
    NO_DEVICE_DETAIL,
    NO_MFA_DETAIL,
    NO_STATUS,
    EntraAuthenticationStep,
    EntraMfaDetail,
    EntraSignIn,
    EntraSignInLine,
    EntraStatus,
    EntraTopLevel,
)
from pushguard.sources.typed import convert_lenient, plain_checks_pass

SIGNIN_CATEGORIES = frozenset(
    {
        "signinlogs",
        "noninteractiveusersigninlogs",
        "serviceprincipalsigninlogs",
        "managedidentitysigninlogs",
        "microsoftserviceprincipalsigninlogs",
    }
)
# Workload sign-ins: a service principal or managed identity, not a person. The Microsoft* table holds
# the sign-ins of Microsoft's own first-party service principals (Azure Monitor / Log Analytics).
_NHI_CATEGORIES = frozenset(
    {"serviceprincipalsigninlogs", "managedidentitysigninlogs", "microsoftserviceprincipalsigninlogs"}
)
_OTHER_CATEGORIES = frozenset({"auditlogs", "userriskevents", "riskyusers", "serviceprincipalriskevents"})
_NO_RISK = frozenset({"none", "hidden", "unknownfuturevalue"})


class EntraSource:
    provider = Provider.ENTRA

    def matches(self, record: Record) -> bool:
        if any(key in record for key in ("class_uid", "eventType", "eventtype", "txid", "isotimestamp")):
            return False  # OCSF, Okta, Duo
        body = _body(record)
        if "activityDisplayName" in body or "riskEventType" in body:
            return True
        if "createdDateTime" in body and any(
            key in body for key in ("userPrincipalName", "userId", "appId", "status", "servicePrincipalId")
        ):
            return True
        category = str(top(record, "category") or "").lower()
        has_properties = isinstance(record.get("properties"), dict)
        return has_properties and (category in SIGNIN_CATEGORIES or category in _OTHER_CATEGORIES)

    def parse(self, record: Record, ref: RawRef) -> ParseResult:
        body = _body(record)
        category = text_or_none(top(record, "category"))
        low = (category or "").lower()
        if "riskEventType" in body or low in RISK_CATEGORIES:
            return parse_risk(record, body, ref)
        if "activityDisplayName" in body or "initiatedBy" in body or low == "auditlogs":
            return parse_audit(record, body, ref)
        if low in SIGNIN_CATEGORIES or "createdDateTime" in body or "status" in body:
            return _listed(_signin(convert_lenient(body, EntraSignIn), _top_level(record), category, ref))
        return Unmapped(f"entra: category {category or 'none'}")

    def decode_line(self, line: bytes) -> EntraSignInLine | None:
        """The line's Graph signIn, or None when the plain path must read it (see ``sources.typed``)."""
        try:
            signin = _line_decoder.decode(line)
        except (*NOT_JSON, RecursionError):
            return None
        if (
            signin.created_date_time is None  # with it and a user or app named, matches() takes it
            or (
                signin.user_principal_name is None
                and signin.user_id is None
                and signin.app_id is None
                and signin.status is None
                and signin.service_principal_id is None
            )
            or signin.plain_keys()
        ):
            return None
        return signin if plain_checks_pass(line) else None

    def parse_decoded(self, decoded: EntraSignIn, ref: RawRef) -> ParseResult:
        # A Graph signIn has no Azure Monitor wrapper: its own correlationId and tenantId are the top ones.
        top_level = EntraTopLevel(correlation_id=decoded.correlation_id, tenant_id=decoded.tenant_id)
        return _listed(_signin(decoded, top_level, None, ref))


_line_decoder = msgspec.json.Decoder(EntraSignInLine)


def _listed(result: Event | Unmapped) -> ParseResult:
    return result if isinstance(result, Unmapped) else [result]


def _body(record: Record) -> Record:
    properties = record.get("properties")
    return properties if isinstance(properties, dict) else record


def _top_level(record: Record) -> EntraTopLevel:
    return EntraTopLevel(
        time=top(record, "time"),
        result_type=top(record, "resultType"),
        result_signature=top(record, "resultSignature"),
        caller_ip_address=top(record, "callerIpAddress"),
        correlation_id=top(record, "correlationId"),
        tenant_id=top(record, "tenantId"),
        identity=top(record, "identity"),
        category=top(record, "category"),
    )


# -- sign-ins -------------------------------------------------------------------------------------


def _signin(
    body: EntraSignIn, top_level: EntraTopLevel, category: str | None, ref: RawRef
) -> Event | Unmapped:
    event_id = (
        text_or_none(body.id)
        or text_or_none(body.original_request_id)
        or text_or_none(body.unique_token_identifier)
    )
    if event_id is None:
        raise RecordError("properties.id: missing")
    when_raw = body.created_date_time or top_level.time
    if when_raw is None:
        raise RecordError("createdDateTime: missing")
    when = entra_time(when_raw, "createdDateTime")
    status = body.status or NO_STATUS
    code = _error_code(status, top_level.result_type, top_level.result_signature)
    subject, user_kind = _subject(body, top_level, category)
    steps = body.authentication_details or ()
    mfa = body.mfa_detail or NO_MFA_DETAIL
    classified = _classify(code, status, steps, mfa)
    if isinstance(classified, Unmapped):
        return classified
    kind, factor, reason, number_challenge = classified
    risk = lower_or_none(body.risk_level_during_sign_in)
    return Event(
        provider=Provider.ENTRA,
        event_id=event_id,
        time=when,
        kind=kind,
        identity=subject.login or subject.id or "",
        subject=subject,
        actor=subject,
        user_kind=user_kind,
        ip=ip_or_none(body.ip_address) or ip_or_none(top_level.caller_ip_address),
        geo=entra_geo(body.location, body.autonomous_system_number),
        device=_device(body),
        app=text_or_none(body.app_display_name),
        session_id=(
            text_or_none(body.session_id)
            or text_or_none(body.correlation_id)
            or text_or_none(top_level.correlation_id)
        ),
        interactive=_interactive(body, category),
        factor=factor,
        number_challenge=number_challenge,
        single_factor=_single_factor(body.authentication_requirement, steps),
        legacy_protocol=_legacy_protocol(body.client_app_used),
        reason=reason,
        vendor_risk=None if risk in _NO_RISK else risk,
        raw=RawRef(source=ref.source, position=ref.position, vendor_type=category or "signIn"),
    )


def _single_factor(requirement: Any, steps: Sequence[EntraAuthenticationStep]) -> bool | None:
    """authenticationRequirement: singleFactorAuthentication | multiFactorAuthentication. A single-factor
    record counts as a password alone only when a password step is in it: SSO ("Previously satisfied")
    and token refreshes (no step) show nothing presented now, and an earlier MFA may stand behind them."""
    text = lower_or_none(requirement)
    if text == "singlefactorauthentication":
        methods = [lower_or_none(step.authentication_method) or "" for step in steps]
        return True if "password" in methods else None
    if text == "multifactorauthentication":
        return False
    return None


def _legacy_protocol(client_app: Any) -> str | None:
    """clientAppUsed, kept only when it names a legacy-auth client (basic auth: no MFA possible)."""
    text = text_or_none(client_app)
    return text if is_legacy_client(text) else None


def _interactive(body: EntraSignIn, category: str | None) -> bool | None:
    """isInteractive, else what the category or signInEventTypes say (Graph beta)."""
    flag = bool_or_none(body.is_interactive)
    if flag is not None:
        return flag
    low = (category or "").lower()
    if low == "noninteractiveusersigninlogs" or low in _NHI_CATEGORIES:
        return False
    if low == "signinlogs":
        return True
    types = body.sign_in_event_types
    if isinstance(types, list) and types:
        return "interactiveUser" in types
    return None


def _error_code(status: EntraStatus, result_type: Any, result_signature: Any = None) -> int | None:
    """status.errorCode, else the wrapper's resultType ("0", "50126"; Panther writes "Success"/"Failure"),
    else its resultSignature: the only outcome some categories carry (MicrosoftServicePrincipalSignInLogs:
    "success" or "failure"; other categories write "None" there)."""
    code = int_or_none(status.error_code)
    if code is not None:
        return code
    code = int_or_none(result_type)
    if code is not None:
        return code
    for outcome in (result_type, result_signature):
        text = str(outcome or "").lower()
        if text == "success":
            return 0
        if text == "failure":
            return None
    raise RecordError("status.errorCode: missing")


def _subject(body: EntraSignIn, top_level: EntraTopLevel, category: str | None) -> tuple[Principal, UserKind]:
    tenant = (
        text_or_none(body.home_tenant_id) or text_or_none(body.tenant_id) or text_or_none(top_level.tenant_id)
    )
    user_id = text_or_none(body.user_id)
    upn = lower_or_none(body.user_principal_name)
    sp_id = text_or_none(body.service_principal_id)
    if (category or "").lower() in _NHI_CATEGORIES or (sp_id and not (user_id or upn)):
        name = text_or_none(body.service_principal_name)
        app_id = text_or_none(body.app_id)
        principal = Principal(
            id=sp_id or app_id,
            login=(name or app_id or "").lower() or None,
            display_name=name or text_or_none(body.app_display_name),
            type=PrincipalType.SERVICE,
            tenant=tenant,
        )
        if principal.login is None and principal.id is None:
            raise RecordError("servicePrincipalName/appId: missing")
        return principal, UserKind.NHI
    if user_id is None and upn is None:
        raise RecordError("userPrincipalName/userId: missing")
    display = text_or_none(body.user_display_name) or text_or_none(top_level.identity)
    return Principal(id=user_id, login=upn, display_name=display, tenant=tenant), UserKind.HUMAN


def _classify(
    code: int | None, status: EntraStatus, steps: Sequence[EntraAuthenticationStep], mfa: EntraMfaDetail
) -> tuple[EventKind, Factor | None, str | None, bool | None] | Unmapped:
    """(kind, factor, reason, number_challenge) from the error code (``entra_codes``) and the MFA wording."""
    details = text_or_none(status.additional_details)
    failure = text_or_none(status.failure_reason)
    wording = " ".join(
        [details or "", text_or_none(mfa.auth_detail) or ""]
        + [str(s.authentication_step_result_detail or "") for s in steps]
    ).lower()
    factor = _mfa_factor(steps, mfa)
    number = True if "correct number" in wording or "number match" in wording else None
    coded = (
        f"{code}: {failure}" if code is not None and failure else (str(code) if code is not None else failure)
    )
    push_possible = factor in (None, Factor.MS_AUTHENTICATOR_PUSH)
    if code == 0:
        if factor is Factor.MS_AUTHENTICATOR_PUSH and _mfa_done(steps, details):
            return EventKind.PUSH_APPROVED, factor, details, number
        return EventKind.SIGNIN_SUCCESS, factor if _mfa_done(steps, details) else None, details, number
    if code == MFA_FAILED:
        if "fraud" in wording:
            return EventKind.FRAUD_REPORTED, factor, "fraud_reported", number
        if push_possible and "correct number" in wording:
            return EventKind.PUSH_DENIED, Factor.MS_AUTHENTICATOR_PUSH, "number_challenge_wrong", True
        if push_possible and "declined" in wording:
            return EventKind.PUSH_DENIED, Factor.MS_AUTHENTICATOR_PUSH, "user_denied", number
        if push_possible and any(w in wording for w in ("respond", "no response", "timed out", "timeout")):
            return EventKind.PUSH_TIMEOUT, Factor.MS_AUTHENTICATOR_PUSH, "no_response", number
        return EventKind.MFA_FAILURE, factor, f"{code}: {details}" if details else coded, number
    if code is None:  # Panther's resultType "Failure" without a code: a failure of unknown cause
        return EventKind.SIGNIN_FAILURE, None, failure or "failure", None
    kind = signin_kind(code)
    if kind is None:
        return Unmapped(f"entra: sign-in error code {code} (not in pushguard's table)")
    return kind, None, coded, None


def _mfa_factor(steps: Sequence[EntraAuthenticationStep], mfa: EntraMfaDetail) -> Factor | None:
    """The second factor used: the last step whose method is not a password or a satisfied claim."""
    found: Factor | None = None
    for step in steps:
        factor = factor_from_text(text_or_none(step.authentication_method))
        if factor is not None and factor is not Factor.PASSWORD:
            found = factor
            if factor is Factor.MS_AUTHENTICATOR_PUSH:
                break  # the push is what pushguard watches, whatever followed it
    if found is None:
        found = factor_from_text(text_or_none(mfa.auth_method))
    return None if found is Factor.PASSWORD else found


def _mfa_done(steps: Sequence[EntraAuthenticationStep], details: str | None) -> bool:
    """MFA was performed in this sign-in (not carried over from an earlier token)."""
    low = (details or "").lower()
    if "completed" in low:  # "MFA completed in Azure AD", "MFA successfully completed"
        return True
    for step in steps:
        method = factor_from_text(text_or_none(step.authentication_method))
        result = str(step.authentication_step_result_detail or "").lower()
        if method not in (None, Factor.PASSWORD) and step.succeeded is True and "claim" not in result:
            return True
    return False


def _device(body: EntraSignIn) -> Device | None:
    detail = body.device_detail or NO_DEVICE_DETAIL
    trust = text_or_none(detail.trust_type)
    result = Device(
        id=text_or_none(detail.device_id),
        name=text_or_none(detail.display_name),
        managed=bool_or_none(detail.is_managed),
        compliant=bool_or_none(detail.is_compliant),
        registered=True if trust else None,
        os=text_or_none(detail.operating_system),
        browser=text_or_none(detail.browser),
        user_agent=text_or_none(body.user_agent),
    )
    return None if result == _NO_DEVICE else result


_NO_DEVICE = Device()


SOURCE = EntraSource()
