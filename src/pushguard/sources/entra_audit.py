"""Entra ID audit logs → Events, plus the helpers the sign-in and risk parsers in ``entra`` share.

Audit records come as the Graph ``directoryAudit`` (flat) or inside an Azure Monitor ``AuditLogs`` wrapper
(``properties`` holds the same fields). Activity names are Microsoft's display names, from the
"Microsoft Entra audit activity reference" (Authentication Methods, Azure MFA, Core Directory and Device
Registration Service sections): ``User registered security info``, ``User changed default security info``,
``User deleted security info``, ``Admin registered/updated/deleted security info``, ``User registered all
required security info``, ``Fraud reported - user is blocked for MFA``, ``Fraud reported - no action
taken``, ``Suspicious activity reported``, ``Add FIDO2 security key``, ``Add member to role``,
``Add service principal credentials``, ``Consent to application`` …

The method sits in ``resultReason``: "User registered Authenticator App with Notification and Code",
"User registered Mobile Phone SMS", "User registered Fido"; a Temporary Access Pass issued by an admin is
``Admin registered security info`` with "Admin registered temporary access pass method for user"
(Microsoft's "Security operations for privileged accounts" guide). ``Update user`` carries method changes
as a ``StrongAuthenticationMethod`` modified property, old/new lists of ``{"MethodType": n}`` (Graph
"List directoryAudits" example).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

import msgspec

from pushguard.model import (
    Event,
    EventKind,
    Factor,
    Geo,
    Principal,
    PrincipalType,
    Provider,
    RawRef,
    UserKind,
)
from pushguard.sources.base import (
    NOT_JSON,
    ParseResult,
    Record,
    RecordError,
    Unmapped,
    asn_or_none,
    float_or_none,
    ip_or_none,
    items,
    lower_or_none,
    mapping,
    parse_time,
    text_or_none,
    vendor_geo,
)

# Same constants as Okta's: Entra geolocates the client IP to a city and publishes no radius.

# Method wording (sign-in authenticationMethod, mfaDetail.authMethod, audit resultReason) → factor.
# First match wins, so the specific phrases come before the generic ones.
_FACTOR_WORDS: tuple[tuple[str, Factor], ...] = (
    ("temporary access pass", Factor.TEMPORARY_ACCESS_PASS),
    ("passkey", Factor.WEBAUTHN),
    ("fido", Factor.WEBAUTHN),
    ("security key", Factor.WEBAUTHN),
    ("windows hello", Factor.WINDOWS_HELLO),
    ("passwordless", Factor.MS_AUTHENTICATOR_PASSWORDLESS),
    ("notification", Factor.MS_AUTHENTICATOR_PUSH),  # "Mobile app notification", "PhoneAppNotification"
    ("mobile app verification code", Factor.MS_AUTHENTICATOR_OTP),
    ("phoneappotp", Factor.MS_AUTHENTICATOR_OTP),
    ("authenticator app with code", Factor.MS_AUTHENTICATOR_OTP),
    ("authenticator app", Factor.MS_AUTHENTICATOR_PUSH),  # Graph beta lists "Authenticator App" beside OATH
    ("microsoft authenticator", Factor.MS_AUTHENTICATOR_PUSH),
    ("hardware oath", Factor.HARDWARE_TOKEN),
    ("oath", Factor.TOTP),  # "OATH verification code" is logged for hardware and software tokens alike
    ("text message", Factor.SMS),
    ("sms", Factor.SMS),
    ("phone call", Factor.VOICE),
    ("voice", Factor.VOICE),
    ("phone method", Factor.SMS),  # "Admin registered phone method for user": SMS is its default use
    ("certificate", Factor.CERTIFICATE),
    ("x.509", Factor.CERTIFICATE),
    ("email", Factor.EMAIL),
    ("password", Factor.PASSWORD),
)
# Steps that satisfied a requirement without prompting anyone.
NO_PROMPT = ("previously satisfied", "satisfied by token", "satisfied by claim")
_METHOD_TYPES = {  # StrongAuthenticationMethod names (MSOnline); the numeric codes are not documented
    "phoneappnotification": Factor.MS_AUTHENTICATOR_PUSH,
    "phoneappotp": Factor.MS_AUTHENTICATOR_OTP,
    "onewaysms": Factor.SMS,
    "twowayvoicemobile": Factor.VOICE,
    "twowayvoiceoffice": Factor.VOICE,
    "twowayvoicealternatemobile": Factor.VOICE,
}


@functools.lru_cache(maxsize=1024)  # a few dozen method names, asked for every sign-in step
def factor_from_text(text: str | None) -> Factor | None:
    if not text:
        return None
    low = text.lower()
    if any(word in low for word in NO_PROMPT):
        return None
    return next((factor for word, factor in _FACTOR_WORDS if word in low), None)


def top(record: Record, key: str) -> Any:
    """A top-level Azure Monitor field; Panther stores some records with lower-cased top-level keys."""
    return record[key] if key in record else record.get(key.lower())


_SHORT_HOUR = re.compile(r"T(\d):")
_US_TIME = re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M")


def entra_time(value: Any, field: str) -> datetime:
    """parse_time, plus two forms seen in Azure Monitor risk events: ``T5:32:08``, ``3/24/2022 2:42 PM``."""
    if value.__class__ is str and value.count("T") == 1 and value[10:11] == "T" and value[12:13] != ":":
        return parse_time(value, field)  # Graph's own form: neither regex could match (one T, two-digit hour)
    if isinstance(value, str):
        if _US_TIME.fullmatch(value.strip()):
            try:  # the pattern lets through what strptime refuses: hour 0 or 13, month 13
                parsed = datetime.strptime(value.strip(), "%m/%d/%Y %I:%M:%S %p")
            except ValueError as exc:
                raise RecordError(f"{field}: not a time: {value!r}") from exc
            return parse_time(parsed.isoformat(), field)
        value = _SHORT_HOUR.sub(r"T0\1:", value, count=1)
    return parse_time(value, field)


def entra_geo(location: Any, asn: Any = None) -> Geo | None:
    place = mapping(location)
    point = mapping(place.get("geoCoordinates"))
    lat = float_or_none(point.get("latitude"))
    lon = float_or_none(point.get("longitude"))
    city = text_or_none(place.get("city"))
    country = text_or_none(place.get("countryOrRegion"))
    return vendor_geo(
        lat=lat,
        lon=lon,
        country=country,
        region=text_or_none(place.get("state")),
        city=city,
        asn=asn_or_none(asn),
    )


# -- audit ----------------------------------------------------------------------------------------

_SIMPLE: dict[str, EventKind] = {
    "user registered security info": EventKind.FACTOR_ENROLLED,
    "admin registered security info": EventKind.FACTOR_ENROLLED,
    "user registered all required security info": EventKind.FACTOR_ENROLLED,
    "user changed default security info": EventKind.FACTOR_ENROLLED,  # no "changed" kind: detail says so
    "user updated security info": EventKind.FACTOR_ENROLLED,
    "admin updated security info": EventKind.FACTOR_ENROLLED,
    "add fido2 security key": EventKind.FACTOR_ENROLLED,
    "add windows hello for business credential": EventKind.FACTOR_ENROLLED,
    "add passwordless phone sign-in credential": EventKind.FACTOR_ENROLLED,
    "user deleted security info": EventKind.FACTOR_REMOVED,
    "admin deleted security info": EventKind.FACTOR_REMOVED,
    "delete fido2 security key": EventKind.FACTOR_REMOVED,
    "delete windows hello for business credential": EventKind.FACTOR_REMOVED,
    "delete passwordless phone sign-in credential": EventKind.FACTOR_REMOVED,
    "fraud reported - user is blocked for mfa": EventKind.FRAUD_REPORTED,
    "fraud reported - no action taken": EventKind.FRAUD_REPORTED,
    "suspicious activity reported": EventKind.FRAUD_REPORTED,
    "reset password (self-service)": EventKind.PASSWORD_RESET,
    "reset password (by admin)": EventKind.PASSWORD_RESET,
    "reset user password": EventKind.PASSWORD_RESET,
    "reset password": EventKind.PASSWORD_RESET,
    "change user password": EventKind.PASSWORD_CHANGED,
    "change password (self-service)": EventKind.PASSWORD_CHANGED,
    "update stsrefreshtokenvalidfrom timestamp": EventKind.SESSION_REVOKED,  # refresh tokens invalidated
    "disable account": EventKind.ACCOUNT_STATUS_CHANGED,
    "enable account": EventKind.ACCOUNT_STATUS_CHANGED,
}
_PRIVILEGED = frozenset(
    {
        "add member to role",
        "add eligible member to role",
        "add scoped member to role",
        "add service principal credentials",
        "consent to application",
        "add app role assignment to service principal",
        "add delegated permission grant",
        "add owner to application",
        "add owner to service principal",
        "update application - certificates and secrets management",
        "set federation settings on domain",
        "set domain authentication",
        "update authentication methods policy",
        "authentication methods policy update",
    }
)
_FACTOR_KINDS = frozenset(
    {EventKind.FACTOR_ENROLLED, EventKind.FACTOR_REMOVED, EventKind.BYPASS_ISSUED, EventKind.FRAUD_REPORTED}
)
_json = msgspec.json.Decoder()


def parse_audit(record: Record, body: Record, ref: RawRef) -> ParseResult:
    activity = text_or_none(body.get("activityDisplayName")) or text_or_none(top(record, "operationName"))
    if activity is None:
        raise RecordError("activityDisplayName: missing")
    activity = normal_activity(activity)
    targets: list[Record] = [t for t in items(body.get("targetResources")) if isinstance(t, dict)]
    texts = _audit_texts(body, targets)
    kind = _audit_kind(activity, targets, texts)
    if isinstance(kind, Unmapped):
        return kind
    result = (lower_or_none(body.get("result")) or lower_or_none(top(record, "result")) or "success").lower()
    if result not in ("success", "succeeded"):
        return Unmapped(f"entra: audit activity {activity} with result {result}")
    event_id = text_or_none(body.get("id"))
    if event_id is None:
        raise RecordError("properties.id: missing")
    when_raw = body.get("activityDateTime") or top(record, "time")
    when = entra_time(when_raw, "activityDateTime")
    tenant = text_or_none(top(record, "tenantId"))
    initiated = mapping(body.get("initiatedBy"))
    actor = _initiator(initiated, tenant)
    subject = next((_target_user(t, tenant) for t in targets if _type(t) == "user"), None) or actor
    if subject is None or (subject.login is None and subject.id is None):
        raise RecordError("targetResources/initiatedBy: no user or app named")
    if (
        actor is not None
        and actor.type is PrincipalType.USER
        and subject is not actor
        and _differs(actor, subject)
    ):
        actor = Principal(
            id=actor.id,
            login=actor.login,
            display_name=actor.display_name,
            type=PrincipalType.ADMIN,
            tenant=actor.tenant,
        )
    factor = None
    if kind in _FACTOR_KINDS:
        factor = Factor.TEMPORARY_ACCESS_PASS if kind is EventKind.BYPASS_ISSUED else _method_factor(texts)
    app = None
    if kind is EventKind.PRIVILEGED_ACTION:
        app = next(
            (
                text_or_none(t.get("displayName"))
                for t in targets
                if _type(t) in ("serviceprincipal", "application")
            ),
            None,
        )
    user_ip = mapping(initiated.get("user")).get("ipAddress")
    return [
        Event(
            provider=Provider.ENTRA,
            event_id=event_id,
            time=when,
            kind=kind,
            identity=subject.login or subject.id or "",
            subject=subject,
            actor=actor,
            user_kind=UserKind.NHI if subject.type is PrincipalType.SERVICE else UserKind.HUMAN,
            ip=ip_or_none(user_ip) or ip_or_none(top(record, "callerIpAddress")),
            app=app,
            session_id=text_or_none(body.get("correlationId")) or text_or_none(top(record, "correlationId")),
            factor=factor,
            reason=text_or_none(body.get("resultReason")),
            detail=activity,
            raw=RawRef(source=ref.source, position=ref.position, vendor_type=activity),
        )
    ]


# Azure Monitor categories whose records are risk detections, whatever else they hold (``EntraSource.parse``
# reads them as such first; the audit pre-filter leaves them to it).
RISK_CATEGORIES = frozenset({"userriskevents", "serviceprincipalriskevents"})


def normal_activity(activity: str) -> str:
    """An activity's display name as the mapping reads it: portal names use an en dash, spaces vary."""
    return " ".join(activity.replace("\u2013", "-").split())


def unmapped_by_name(name: str) -> Unmapped | None:
    """Why no mapping takes an audit of this (normal) activity name, whatever the rest of the record
    holds; None when the record may map (its targets and texts tell)."""
    activity = name.lower()
    if "registered security info" in activity or activity in _SIMPLE or activity in _PRIVILEGED:
        return None
    if activity == "update user":
        return None
    return Unmapped(f"entra: audit activity {name}")


def _audit_kind(name: str, targets: list[Record], texts: str) -> EventKind | Unmapped:
    activity = name.lower()
    if "registered security info" in activity and "temporary access pass" in texts:
        return EventKind.BYPASS_ISSUED
    simple = _SIMPLE.get(activity)
    if simple is not None:
        return simple
    if activity in _PRIVILEGED:
        return EventKind.PRIVILEGED_ACTION
    if activity == "update user":
        change = _strong_auth_change(targets)
        if change is not None:
            return change
    return Unmapped(f"entra: audit activity {name}")


def _strong_auth_change(targets: list[Record]) -> EventKind | None:
    """``Update user`` that changed the StrongAuthenticationMethod list: added, removed, or all cleared."""
    for target in targets:
        for prop in items(target.get("modifiedProperties")):
            if not isinstance(prop, dict) or prop.get("displayName") != "StrongAuthenticationMethod":
                continue
            old, new = _method_set(prop.get("oldValue")), _method_set(prop.get("newValue"))
            if old and not new:
                return EventKind.FACTORS_RESET
            if new - old:
                return EventKind.FACTOR_ENROLLED
            if old - new:
                return EventKind.FACTOR_REMOVED
    return None


def _method_set(value: Any) -> set[str]:
    text = text_or_none(value)
    if text is None:
        return set()
    try:
        items = _json.decode(text)
    except NOT_JSON:
        return {text}
    if not isinstance(items, list):
        return set()
    return {str(mapping(item).get("MethodType")) for item in items if mapping(item)}


def _method_factor(texts: str) -> Factor | None:
    for name, factor in _METHOD_TYPES.items():
        if name in texts.replace(" ", ""):
            return factor
    return factor_from_text(texts)


def _audit_texts(body: Record, targets: list[Record]) -> str:
    """resultReason, additionalDetails and modified-property values, lower-cased: where methods are named."""
    parts = [str(body.get("resultReason") or "")]
    parts += [str(mapping(d).get("value") or "") for d in items(body.get("additionalDetails"))]
    for target in targets:
        for prop in items(target.get("modifiedProperties")):
            parts.append(str(mapping(prop).get("newValue") or ""))
    return " ".join(parts).lower()


def _differs(actor: Principal, subject: Principal) -> bool:
    if actor.id and subject.id:
        return actor.id != subject.id
    return bool(actor.login and subject.login and actor.login != subject.login)


def _type(target: Record) -> str:
    return str(target.get("type") or target.get("Type") or "").lower()


def _target_user(target: Record, tenant: str | None) -> Principal:
    return Principal(
        id=text_or_none(target.get("id")),
        login=lower_or_none(target.get("userPrincipalName")),
        display_name=text_or_none(target.get("displayName")),
        tenant=tenant,
    )


def _initiator(initiated: Record, tenant: str | None) -> Principal | None:
    user = mapping(initiated.get("user"))
    if text_or_none(user.get("id")) or text_or_none(user.get("userPrincipalName")):
        return Principal(
            id=text_or_none(user.get("id")),
            login=lower_or_none(user.get("userPrincipalName")),
            display_name=text_or_none(user.get("displayName")),
            tenant=text_or_none(user.get("homeTenantId")) or tenant,
        )
    app = mapping(initiated.get("app"))
    app_id = text_or_none(app.get("servicePrincipalId")) or text_or_none(app.get("appId"))
    name = text_or_none(app.get("displayName"))
    if app_id is None and name is None:
        return None
    return Principal(
        id=app_id,
        login=lower_or_none(app.get("servicePrincipalName")),
        display_name=name,
        type=PrincipalType.SERVICE,
        tenant=tenant,
    )
