"""Events → OCSF 1.3.0 records (Identity & Access Management category, ``category_uid`` 3).

Class choice, by kind:

- Authentication (3002), activity Logon (1): sign-ins, MFA verifications and push prompts, with
  ``status_id`` 1 Success / 2 Failure, ``is_mfa`` and one ``auth_factors`` entry. A push that was sent but
  not yet answered is a Logon with ``status_id`` 0 Unknown; a timeout or a fraud report is a Failure whose
  ``status_detail`` says so; ``mfa_required`` and ``access_blocked`` are Failures (the kind is kept in
  ``unmapped``). ``session_revoked`` is a Logoff (2).
- Account Change (3001): factor_enrolled → MFA Factor Enable (10); factor_removed, factor_suspended and
  factors_reset → MFA Factor Disable (11); bypass_issued → MFA Factor Enable (10) with the bypass code /
  Temporary Access Pass as the factor; password_reset → Password Reset (4); password_changed → Password
  Change (3); account_locked → Lock (9); account_status_changed → Enable (2), Disable (5) or, when the
  detail says so, Unlock (12, an OCSF 1.4 activity: 1.3 readers see an unknown activity id).
- Kinds OCSF has no IAM class for (privileged_action, risk_detected, decision) → Account Change, activity
  Other (99) with ``activity_name`` set to the kind: the closest home that still names the account.

OCSF 1.3 has no place for some Event fields; they go to ``unmapped.pushguard`` (the canonical kind and
identity, number challenge, factor id, vendor risk, behaviours, detail, geo accuracy/proxy/hosting, the
original provider and raw pointer). Account Change gets ``auth_factors`` only from OCSF 1.7.0, so a 3001
record carries its factor in ``unmapped.auth_factors`` (same Auth Factor shape). The push responder's
device, IP and location go to the Auth Factor's ``device``. ``time`` is epoch milliseconds.
"""

from __future__ import annotations

from typing import Any

from pushguard.model import Device, Event, EventKind, Factor, Geo, Principal, PrincipalType, UserKind

OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "pushguard", "vendor_name": "pushguard"}
AUTHENTICATION, ACCOUNT_CHANGE = 3002, 3001
LOGON, LOGOFF, OTHER = 1, 2, 99
UNKNOWN_STATUS, SUCCESS, FAILURE = 0, 1, 2

_CLASS_NAMES = {AUTHENTICATION: "Authentication", ACCOUNT_CHANGE: "Account Change"}
_ACTIVITY_NAMES = {
    AUTHENTICATION: {LOGON: "Logon", LOGOFF: "Logoff"},
    ACCOUNT_CHANGE: {
        2: "Enable",
        3: "Password Change",
        4: "Password Reset",
        5: "Disable",
        9: "Lock",
        10: "MFA Factor Enable",
        11: "MFA Factor Disable",
        12: "Unlock",
        OTHER: "Other",
    },
}
_STATUS_NAMES = {UNKNOWN_STATUS: "Unknown", SUCCESS: "Success", FAILURE: "Failure"}
_SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}

# kind → (class, activity, status)
_AUTH: dict[EventKind, tuple[int, int]] = {
    EventKind.PUSH_SENT: (LOGON, UNKNOWN_STATUS),
    EventKind.PUSH_APPROVED: (LOGON, SUCCESS),
    EventKind.PUSH_DENIED: (LOGON, FAILURE),
    EventKind.PUSH_TIMEOUT: (LOGON, FAILURE),
    EventKind.FRAUD_REPORTED: (LOGON, FAILURE),
    EventKind.MFA_SUCCESS: (LOGON, SUCCESS),
    EventKind.MFA_FAILURE: (LOGON, FAILURE),
    EventKind.MFA_REQUIRED: (LOGON, FAILURE),
    EventKind.SIGNIN_INTERRUPTED: (LOGON, UNKNOWN_STATUS),
    EventKind.SIGNIN_SUCCESS: (LOGON, SUCCESS),
    EventKind.SIGNIN_FAILURE: (LOGON, FAILURE),
    EventKind.ACCESS_BLOCKED: (LOGON, FAILURE),
    EventKind.SESSION_REVOKED: (LOGOFF, SUCCESS),
}
_ACCOUNT: dict[EventKind, int] = {
    EventKind.FACTOR_ENROLLED: 10,
    EventKind.BYPASS_ISSUED: 10,
    EventKind.FACTOR_REMOVED: 11,
    EventKind.FACTOR_SUSPENDED: 11,
    EventKind.FACTORS_RESET: 11,
    EventKind.PASSWORD_RESET: 4,
    EventKind.PASSWORD_CHANGED: 3,
    EventKind.ACCOUNT_LOCKED: 9,
}
_DEFAULT_DETAIL = {
    EventKind.PUSH_TIMEOUT: "push_timeout",
    EventKind.FRAUD_REPORTED: "fraud_reported",
    EventKind.MFA_REQUIRED: "mfa_required",
    EventKind.SIGNIN_INTERRUPTED: "signin_interrupted",
    EventKind.ACCESS_BLOCKED: "access_blocked",
    EventKind.SESSION_REVOKED: "session_revoked",
}
_MFA_KINDS = frozenset(
    {
        EventKind.PUSH_SENT,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_TIMEOUT,
        EventKind.FRAUD_REPORTED,
        EventKind.MFA_SUCCESS,
        EventKind.MFA_FAILURE,
    }
)
_SEVERITY = {
    EventKind.FRAUD_REPORTED: 4,
    EventKind.FACTORS_RESET: 3,
    EventKind.BYPASS_ISSUED: 3,
    EventKind.PRIVILEGED_ACTION: 3,
    EventKind.FACTOR_ENROLLED: 2,
    EventKind.FACTOR_REMOVED: 2,
    EventKind.PUSH_DENIED: 2,
    EventKind.PUSH_TIMEOUT: 2,
    EventKind.ACCOUNT_LOCKED: 2,
    EventKind.ACCESS_BLOCKED: 2,
}
_RISK_SEVERITY = {"low": 2, "medium": 3, "high": 4}

# Factor → (factor_type_id, factor_type, provider). Factors OCSF has no type for are Other (99) with our
# own name as factor_type, which the OCSF source reads back.
_FACTOR_TYPES: dict[Factor, tuple[int, str, str | None]] = {
    Factor.OKTA_VERIFY_PUSH: (5, "Push Notification", "Okta Verify"),
    Factor.DUO_PUSH: (5, "Push Notification", "Duo"),
    Factor.MS_AUTHENTICATOR_PUSH: (5, "Push Notification", "Microsoft Authenticator"),
    Factor.OKTA_VERIFY_TOTP: (7, "OTP", "Okta Verify"),
    Factor.MS_AUTHENTICATOR_OTP: (7, "OTP", "Microsoft Authenticator"),
    Factor.TOTP: (7, "OTP", None),
    Factor.SMS: (1, "SMS", None),
    Factor.SECURITY_QUESTION: (2, "Security Question", None),
    Factor.VOICE: (3, "Phone Call", None),
    Factor.HARDWARE_TOKEN: (6, "Hardware Token", None),
    Factor.EMAIL: (8, "Email", None),
    Factor.WEBAUTHN: (10, "WebAuthn", None),
    Factor.PASSWORD: (11, "Password", None),
}
_USER_TYPE_IDS = {PrincipalType.USER: 1, PrincipalType.ADMIN: 2, PrincipalType.SYSTEM: 3}
_DEVICE_TYPE_IDS = {"server": 1, "desktop": 2, "computer": 2, "laptop": 3, "tablet": 4, "mobile": 5}
_OS_TYPE_IDS = {"windows": 100, "linux": 200, "android": 201, "mac": 300, "ios": 301, "ipados": 302}


def event_to_ocsf(event: Event) -> dict[str, Any]:
    """One Event as one OCSF 1.3.0 record (a plain dict, ready for JSON)."""
    class_uid, activity_id, status_id = _classify(event)
    class_name = _CLASS_NAMES[class_uid]
    activity_name = _ACTIVITY_NAMES[class_uid].get(activity_id, "Other")
    if activity_id == OTHER:
        activity_name = event.detail or event.kind.value
    severity_id = _severity(event)
    profiles = ["datetime", "host"] if event.device else ["datetime"]
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": dict(PRODUCT),
        "uid": event.event_id,
        "original_time": _iso(event),
        "profiles": profiles,
    }
    if event.raw and event.raw.vendor_type:
        metadata["event_code"] = event.raw.vendor_type
    record: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "time": round(event.ts * 1000),
        "time_dt": _iso(event),
        "severity_id": severity_id,
        "severity": _SEVERITY_NAMES[severity_id],
        "status_id": status_id,
        "status": _STATUS_NAMES[status_id],
        "metadata": metadata,
        "user": _user(event.subject, event.identity),
    }
    detail = event.reason or _DEFAULT_DETAIL.get(event.kind)
    if detail:
        record["status_detail"] = detail
    actor = _actor(event)
    if actor:
        record["actor"] = actor
    src = _endpoint(event.ip, event.geo)
    if src:
        record["src_endpoint"] = src
    if event.device:
        record["device"] = _device(event.device)
        if event.device.user_agent:
            record["http_request"] = {"user_agent": event.device.user_agent}
    factor = _auth_factor(event)
    unmapped = _unmapped(event)
    if class_uid == AUTHENTICATION:
        record["is_mfa"] = event.kind in _MFA_KINDS or (
            event.factor is not None and event.factor is not Factor.PASSWORD
        )
        if factor:
            record["auth_factors"] = [factor]
        if event.session_id:
            record["session"] = {"uid": event.session_id}
        if event.app:
            record["service"] = {"name": event.app}
    elif factor:
        unmapped["auth_factors"] = [factor]  # Account Change.auth_factors exists only from OCSF 1.7.0
    record["unmapped"] = unmapped
    return record


def _classify(event: Event) -> tuple[int, int, int]:
    auth = _AUTH.get(event.kind)
    if auth is not None:
        return AUTHENTICATION, auth[0], auth[1]
    activity = _ACCOUNT.get(event.kind)
    if activity is None and event.kind is EventKind.ACCOUNT_STATUS_CHANGED:
        detail = (event.detail or "").lower()
        activity = 12 if "unlock" in detail else 5 if "disable" in detail or "suspend" in detail else 2
    return ACCOUNT_CHANGE, activity if activity is not None else OTHER, SUCCESS


def _severity(event: Event) -> int:
    if event.kind is EventKind.RISK_DETECTED:
        return _RISK_SEVERITY.get((event.vendor_risk or "").lower(), 1)
    return _SEVERITY.get(event.kind, 1)


def _iso(event: Event) -> str:
    return event.time.isoformat().replace("+00:00", "Z")


def _user(who: Principal | None, identity: str) -> dict[str, Any]:
    if who is None:
        return {"name": identity, "type_id": 0, "type": "Unknown"}
    login = who.login or identity
    user: dict[str, Any] = {"name": login}
    if "@" in login:
        user["email_addr"] = login
    if who.id:
        user["uid"] = who.id
    if who.display_name:
        user["full_name"] = who.display_name
    if who.tenant:
        user["domain"] = who.tenant
    type_id = _USER_TYPE_IDS.get(who.type, 99 if who.type is not PrincipalType.UNKNOWN else 0)
    user["type_id"] = type_id
    user["type"] = {0: "Unknown", 1: "User", 2: "Admin", 3: "System"}.get(type_id, who.type.value.title())
    return user


def _actor(event: Event) -> dict[str, Any]:
    actor: dict[str, Any] = {}
    if event.actor is not None:
        actor["user"] = _user(event.actor, event.actor.login or event.actor.id or "")
    if event.session_id:
        actor["session"] = {"uid": event.session_id}
    return actor


def _endpoint(ip: str | None, geo: Geo | None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {}
    if ip:
        endpoint["ip"] = ip
    if geo is None:
        return endpoint
    location = {
        key: value
        for key, value in (
            ("city", geo.city),
            ("country", geo.country),
            ("region", geo.region),
            ("lat", geo.lat),
            ("long", geo.lon),
        )
        if value is not None
    }
    if location:
        endpoint["location"] = location
    if geo.asn is not None or geo.as_org:
        system: dict[str, Any] = {}
        if geo.asn is not None:
            system["number"] = geo.asn
        if geo.as_org:
            system["name"] = geo.as_org
        endpoint["autonomous_system"] = system
    return endpoint


def _device(device: Device) -> dict[str, Any]:
    kind = (device.kind or "").lower()
    type_id = _DEVICE_TYPE_IDS.get(kind, 99 if kind else 0)
    out: dict[str, Any] = {"type_id": type_id, "type": device.kind or "Unknown"}
    if device.id:
        out["uid"] = device.id
    if device.name:
        out["name"] = device.name
    if device.os:
        os_low = device.os.lower()
        os_type = next((v for k, v in _OS_TYPE_IDS.items() if os_low.startswith(k)), 99)
        out["os"] = {"name": device.os, "type_id": os_type}
    if device.managed is not None:
        out["is_managed"] = device.managed
    if device.compliant is not None:
        out["is_compliant"] = device.compliant
    return out


def _auth_factor(event: Event) -> dict[str, Any] | None:
    if event.factor is None:
        return None
    type_id, type_name, provider = _FACTOR_TYPES.get(event.factor, (99, event.factor.value, None))
    factor: dict[str, Any] = {"factor_type_id": type_id, "factor_type": type_name}
    if provider:
        factor["provider"] = provider
    if event.factor in (Factor.TOTP, Factor.OKTA_VERIFY_TOTP, Factor.MS_AUTHENTICATOR_OTP):
        factor["is_totp"] = True
    responder = _device(event.responder_device) if event.responder_device else {}
    responder.update(_endpoint(event.responder_ip, event.responder_geo))
    if responder:
        responder.setdefault("type_id", 0)
        factor["device"] = responder
    return factor


def _unmapped(event: Event) -> dict[str, Any]:
    """Event fields with no OCSF 1.3 home, under ``unmapped.pushguard``."""
    ours: dict[str, Any] = {
        "kind": event.kind.value,
        "identity": event.identity,
        "provider": event.provider.value,
    }
    if event.user_kind is UserKind.NHI:
        ours["user_kind"] = event.user_kind.value
    for name in ("number_challenge", "factor_id", "vendor_risk", "detail"):
        value = getattr(event, name)
        if value is not None:
            ours[name] = value
    if event.behaviors:
        ours["behaviors"] = list(event.behaviors)
    for prefix, geo in (("geo", event.geo), ("responder_geo", event.responder_geo)):
        if geo is not None:
            extra = {
                "accuracy_km": geo.accuracy_km,
                "is_proxy": geo.is_proxy,
                "is_hosting": geo.is_hosting,
                "source": geo.source.value,
            }
            ours[prefix] = {k: v for k, v in extra.items() if v is not None}
    if event.device is not None:
        extra_device = {"registered": event.device.registered, "browser": event.device.browser}
        kept = {k: v for k, v in extra_device.items() if v is not None}
        if kept:
            ours["device"] = kept
    if event.factor is None and (event.responder_ip or event.responder_device):
        ours["responder_ip"] = event.responder_ip
    if event.raw is not None:
        ours["raw"] = {"source": event.raw.source, "position": event.raw.position}
    return {"pushguard": ours}
