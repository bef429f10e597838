"""OCSF Identity & Access Management records → Events: Authentication (3002) and Account Change (3001).

Schema facts used (OCSF schema repository ``ocsf/ocsf-schema`` and its rendered docs):

- ``events/iam/authentication.json``: ``activity_id`` 1 Logon, 2 Logoff, 3 Authentication Ticket,
  4 Service Ticket Request, 5 Service Ticket Renew (later 6 Preauth, 7 Account Switch — CHANGELOG v1.6.0
  #1460); attributes ``user`` (the subject, required), ``actor``, ``is_mfa``, ``auth_factors`` (added with
  the ``auth_factor`` object in 1.1.0, #949), ``auth_protocol``/``auth_protocol_id``, ``status_detail``,
  ``service``, ``session``, ``src_endpoint``, ``dst_endpoint``, ``logon_type``.
- ``events/iam/account_change.json``: ``activity_id`` 1 Create, 2 Enable, 3 Password Change, 4 Password Reset,
  5 Disable, 6 Delete, 7 Attach Policy, 8 Detach Policy, 9 Lock, 10 MFA Factor Enable, 11 MFA Factor
  Disable (ocsf-schema PR #724), 12 Unlock (CHANGELOG v1.4.0, #1285); ``auth_factors`` on this class only
  from v1.7.0 (#1455).
- ``auth_factor`` object (docs.tenzir.com/reference/ocsf/1-7-0/objects/auth_factor; docs.rs ocsf-types
  ``AuthFactor``): ``factor_type_id`` 0 Unknown, 1 SMS, 2 Security Question, 3 Phone Call, 4 Biometric,
  5 Push Notification, 6 Hardware Token, 7 OTP, 8 Email, 9 U2F, 10 WebAuthn, 11 Password, 99 Other;
  siblings ``factor_type``, ``provider``, ``device``, ``is_totp``/``is_hotp``, ``email_addr``,
  ``phone_number``.
- Base event: ``time`` is epoch milliseconds (``timestamp_t``), ``status_id`` 0 Unknown, 1 Success,
  2 Failure, 99 Other; ``type_uid`` = class_uid * 100 + activity_id; ``metadata.uid`` / ``event_code`` /
  ``product.{name,vendor_name}``; the 1.0.0-rc.2 mappings write ``mfa`` where 1.1+ writes ``is_mfa``.

Mapping decisions: a Logon (or a Kerberos TGT request) with a push factor is a push outcome (success →
approved; failure → denied, or timeout / fraud when ``status_detail`` says so; unknown status → the push
was sent), otherwise ``mfa_*`` when MFA with a non-password factor, otherwise ``signin_*``. Records that
pushguard exported itself (``metadata.product.name == "pushguard"``) carry the canonical kind and identity
in ``unmapped`` and those are honoured, so kinds OCSF has no class for survive a round trip.
The Okta-derived samples write ``time`` in seconds; ``parse_time`` tells the two apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from pushguard.model import (
    PUSH_FACTORS,
    Device,
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
    ParseResult,
    Record,
    RecordError,
    Unmapped,
    asn_or_none,
    bool_or_none,
    canonical_ip,
    float_or_none,
    int_or_none,
    mapping,
    parse_time,
    text_or_none,
    vendor_geo,
)

AUTHENTICATION = 3002
ACCOUNT_CHANGE = 3001
PUSHGUARD_PRODUCT = "pushguard"

# Vendor coordinates are an IP fix: good to ~50 km at city level (same convention as the Okta source).

# Activity captions by id (later additions included so newer records read with their names).
AUTH_ACTIVITIES = {0: "Unknown", 1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 6: "Preauth"}
AUTH_ACTIVITIES |= {4: "Service Ticket Request", 5: "Service Ticket Renew", 7: "Account Switch", 99: "Other"}
ACCOUNT_ACTIVITIES = {0: "Unknown", 1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset"}
ACCOUNT_ACTIVITIES |= {5: "Disable", 6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock"}
ACCOUNT_ACTIVITIES |= {10: "MFA Factor Enable", 11: "MFA Factor Disable", 12: "Unlock", 99: "Other"}
_ACTIVITIES = {AUTHENTICATION: AUTH_ACTIVITIES, ACCOUNT_CHANGE: ACCOUNT_ACTIVITIES}
_SIGNIN_ACTIVITIES = frozenset({1, 3})  # Logon; Kerberos TGT request (the AS exchange is the logon)
_STATUS_CHANGED = EventKind.ACCOUNT_STATUS_CHANGED
_ACCOUNT_KINDS = {2: _STATUS_CHANGED, 3: EventKind.PASSWORD_CHANGED, 4: EventKind.PASSWORD_RESET}
_ACCOUNT_KINDS |= {5: _STATUS_CHANGED, 9: EventKind.ACCOUNT_LOCKED, 12: _STATUS_CHANGED}
_ACCOUNT_KINDS |= {10: EventKind.FACTOR_ENROLLED, 11: EventKind.FACTOR_REMOVED}
SUCCESS, FAILURE = 1, 2

# auth_factor.factor_type_id → factor; Push Notification (5) and OTP (7) depend on the provider.
# Biometric (4) says nothing about phishing resistance: OTHER. U2F (9) is WebAuthn's predecessor.
PUSH_NOTIFICATION, OTP = 5, 7
_FACTOR_TYPES = {1: Factor.SMS, 2: Factor.SECURITY_QUESTION, 3: Factor.VOICE, 4: Factor.OTHER}
_FACTOR_TYPES |= {6: Factor.HARDWARE_TOKEN, 8: Factor.EMAIL, 9: Factor.WEBAUTHN, 10: Factor.WEBAUTHN}
_FACTOR_TYPES |= {11: Factor.PASSWORD, 99: Factor.OTHER}
_FACTOR_NAMES = {"sms": 1, "security question": 2, "phone call": 3, "voice": 3, "biometric": 4, "push": 5}
_FACTOR_NAMES |= {"push notification": 5, "hardware token": 6, "otp": 7, "totp": 7, "email": 8, "u2f": 9}
_FACTOR_NAMES |= {"webauthn": 10, "security key": 10, "fido2": 10, "password": 11}
_PUSH_BY_VENDOR: tuple[tuple[str, Factor], ...] = (
    ("duo", Factor.DUO_PUSH),
    ("okta", Factor.OKTA_VERIFY_PUSH),
)
_PUSH_BY_VENDOR += (("microsoft", Factor.MS_AUTHENTICATOR_PUSH), ("entra", Factor.MS_AUTHENTICATOR_PUSH))
_OTP_BY_VENDOR = (("okta", Factor.OKTA_VERIFY_TOTP), ("microsoft", Factor.MS_AUTHENTICATOR_OTP))
_VENDOR_PRODUCTS = ("okta", "microsoft", "duo")
_PRINCIPAL_TYPE_IDS = {1: PrincipalType.USER, 2: PrincipalType.ADMIN, 3: PrincipalType.SYSTEM}
_PRINCIPAL_TYPE_NAMES = {"user": PrincipalType.USER, "admin": PrincipalType.ADMIN}
_PRINCIPAL_TYPE_NAMES |= {"system": PrincipalType.SYSTEM, "service": PrincipalType.SERVICE}
_TIMEOUT_WORDS = ("timeout", "timed out", "no_response", "no response")
_PLACEHOLDERS = frozenset({"-", "''"})


def _text(value: Any) -> str | None:
    """Like ``text_or_none``, also dropping the Windows placeholder ``-``."""
    text = text_or_none(value)
    return None if text is None or text in _PLACEHOLDERS else text


class OcsfSource:
    provider = Provider.OCSF

    def matches(self, record: Record) -> bool:
        return "class_uid" in record and isinstance(record.get("metadata"), Mapping)

    def parse(self, record: Record, ref: RawRef) -> ParseResult:
        class_uid = record.get("class_uid")
        if isinstance(class_uid, bool) or not isinstance(class_uid, int):
            raise RecordError(f"class_uid: expected an integer, got {class_uid!r}")
        if class_uid not in _ACTIVITIES:
            return Unmapped(f"ocsf: class {class_uid}")
        activity_id = _activity_id(record, class_uid)
        activity = _ACTIVITIES[class_uid].get(activity_id, str(activity_id))
        factors = _factors(record)
        kind = _kind(record, class_uid, activity_id, factors)
        if kind is None:
            unknown = class_uid == AUTHENTICATION and _status_id(record) not in (SUCCESS, FAILURE)
            return Unmapped(f"ocsf: class {class_uid} activity {activity}" + (" status unknown" * unknown))
        return [self._event(record, kind, activity, factors, ref)]

    def _event(
        self, record: Record, kind: EventKind, activity: str, factors: list[_FactorSeen], ref: RawRef
    ) -> Event:
        when = _time(record)
        meta = mapping(record.get("metadata"))
        hints = _pushguard_hints(record)
        subject = _subject(record)
        actor = _principal(mapping(record.get("actor")).get("user"))
        if subject is None:
            raise RecordError("user/actor.user: no user named")
        identity = text_or_none(hints.get("identity")) or subject.login or subject.id or ""
        src = mapping(record.get("src_endpoint"))
        chosen = _choose(factors)
        responder = mapping(chosen.device) if chosen else mapping(None)
        session = text_or_none(mapping(record.get("session")).get("uid")) or text_or_none(
            mapping(mapping(record.get("actor")).get("session")).get("uid")
        )
        app = text_or_none(mapping(record.get("service")).get("name")) or text_or_none(
            mapping(record.get("dst_endpoint")).get("svc_name")
        )
        reason = text_or_none(record.get("status_detail")) or _unmapped_reason(record)
        detail = text_or_none(hints.get("detail"))
        if detail is None and kind is EventKind.ACCOUNT_STATUS_CHANGED:
            detail = activity
        if detail is None and text_or_none(record.get("auth_protocol")) not in (None, "Other"):
            detail = text_or_none(record.get("auth_protocol"))
        user_kind = UserKind.NHI if subject.type is PrincipalType.SERVICE else UserKind.HUMAN
        if text_or_none(hints.get("user_kind")) == UserKind.NHI.value:
            user_kind = UserKind.NHI
        event_id = text_or_none(meta.get("uid")) or _record_hash(record)
        agent = _text(mapping(record.get("http_request")).get("user_agent"))
        return Event(
            provider=Provider.OCSF,
            event_id=event_id,
            time=when,
            kind=kind,
            identity=identity,
            subject=subject,
            actor=actor,
            user_kind=user_kind,
            ip=_ip(src.get("ip")),
            geo=_geo(src),
            responder_ip=_ip(responder.get("ip")),
            responder_geo=_geo(responder),
            device=_device(mapping(record.get("device")), src, agent),
            responder_device=_device(responder, responder),
            app=app,
            session_id=session,
            factor=chosen.factor if chosen else None,
            factor_id=text_or_none(hints.get("factor_id")),
            number_challenge=bool_or_none(hints.get("number_challenge")),
            single_factor=_single_factor(record, factors),
            reason=reason,
            vendor_risk=_lower(record.get("risk_level")) or _lower(hints.get("vendor_risk")),
            detail=detail,
            raw=RawRef(source=ref.source, position=ref.position, vendor_type=_vendor_type(meta)),
        )


class _FactorSeen(msgspec.Struct, frozen=True):
    factor: Factor
    push: bool  # a Push Notification factor, whoever's app (Factor.PUSH for an unknown vendor)
    device: Any = None


def _activity_id(record: Record, class_uid: int) -> int:
    value = record.get("activity_id")
    if value is None:
        type_uid = int_or_none(record.get("type_uid"))
        if type_uid is not None and type_uid // 100 == class_uid:
            return type_uid - class_uid * 100
        name = str(record.get("activity_name") or "").lower()
        found = [k for k, v in _ACTIVITIES[class_uid].items() if v.lower() == name]
        if found:
            return found[0]
        raise RecordError("activity_id: missing (and no type_uid or known activity_name)")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"activity_id: expected an integer, got {value!r}")
    return value


def _status_id(record: Record) -> int:
    status_id = record.get("status_id")
    if isinstance(status_id, int) and not isinstance(status_id, bool):
        return status_id
    if status_id is not None:
        raise RecordError(f"status_id: expected an integer, got {status_id!r}")
    status = str(record.get("status") or "").lower()
    return SUCCESS if status == "success" else FAILURE if status == "failure" else 0


def _kind(record: Record, class_uid: int, activity_id: int, factors: list[_FactorSeen]) -> EventKind | None:
    hinted = text_or_none(_pushguard_hints(record).get("kind"))
    if hinted is not None and hinted in EventKind._value2member_map_:
        return EventKind(hinted)
    if class_uid == ACCOUNT_CHANGE:
        return _ACCOUNT_KINDS.get(activity_id)
    if activity_id not in _SIGNIN_ACTIVITIES:
        return None
    status = _status_id(record)
    push = any(f.push for f in factors)
    detail = str(record.get("status_detail") or "").lower()
    if push:
        if status == SUCCESS:
            return EventKind.PUSH_APPROVED
        if status == FAILURE:
            if "fraud" in detail:
                return EventKind.FRAUD_REPORTED
            if any(word in detail for word in _TIMEOUT_WORDS):
                return EventKind.PUSH_TIMEOUT
            return EventKind.PUSH_DENIED
        return EventKind.PUSH_SENT  # the prompt is out; its answer is not known yet
    is_mfa = bool_or_none(record.get("is_mfa"))
    if is_mfa is None:
        is_mfa = bool_or_none(record.get("mfa"))  # 1.0.0-rc.2 name
    second = any(f.factor is not Factor.PASSWORD for f in factors)
    mfa = second and (is_mfa is not False)
    if status == SUCCESS:
        return EventKind.MFA_SUCCESS if mfa else EventKind.SIGNIN_SUCCESS
    if status == FAILURE:
        if "mfa required" in detail or "mfa_required" in detail:
            return EventKind.MFA_REQUIRED
        return EventKind.MFA_FAILURE if mfa else EventKind.SIGNIN_FAILURE
    return None


def _single_factor(record: Record, factors: list[_FactorSeen]) -> bool | None:
    """``is_mfa`` (``mfa`` in 1.0.0-rc.2): false with no factor but a password named is one factor alone;
    true is MFA met, whether or not ``auth_factors`` names the second factor."""
    is_mfa = bool_or_none(record.get("is_mfa"))
    if is_mfa is None:
        is_mfa = bool_or_none(record.get("mfa"))
    if is_mfa is None:
        return None
    if is_mfa:
        return False
    return True if all(f.factor is Factor.PASSWORD for f in factors) else None


def _factors(record: Record) -> list[_FactorSeen]:
    """``auth_factors`` (or, for 3001 records written by 1.3-era exporters, ``unmapped.auth_factors``)."""
    raw = record.get("auth_factors")
    if raw is None:
        raw = mapping(record.get("unmapped")).get("auth_factors")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RecordError("auth_factors: expected an array of Auth Factor objects")
    vendor = str(mapping(mapping(record.get("metadata")).get("product")).get("vendor_name") or "").lower()
    seen = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise RecordError("auth_factors[]: expected an object")
        found = _factor(item, vendor)
        if found is not None:
            seen.append(_FactorSeen(found[0], found[1], item.get("device")))
    return seen


def _factor(item: Record, vendor: str) -> tuple[Factor, bool] | None:
    """The factor named by one Auth Factor object, and whether it is a push."""
    type_id = item.get("factor_type_id")
    name = (text_or_none(item.get("factor_type")) or "").lower()
    if isinstance(type_id, bool) or (type_id is not None and not isinstance(type_id, int)):
        raise RecordError(f"auth_factors[].factor_type_id: expected an integer, got {type_id!r}")
    if type_id is None or type_id == 0:
        type_id = _FACTOR_NAMES.get(name)
        if type_id is None:
            return _named(name)
    provider = f"{(text_or_none(item.get('provider')) or '').lower()} {vendor}"
    if type_id == PUSH_NOTIFICATION:
        return next((f for key, f in _PUSH_BY_VENDOR if key in provider), Factor.PUSH), True
    if type_id == OTP:
        return next((f for key, f in _OTP_BY_VENDOR if key in provider), Factor.TOTP), False
    if type_id == 99 and name in Factor._value2member_map_:
        return _named(name)  # pushguard writes its own factor names as "Other" factor types
    return _FACTOR_TYPES.get(type_id, Factor.OTHER), False


def _named(name: str) -> tuple[Factor, bool] | None:
    if name not in Factor._value2member_map_:
        return None
    factor = Factor(name)
    return factor, factor in PUSH_FACTORS


def _choose(factors: list[_FactorSeen]) -> _FactorSeen | None:
    """The factor the event is about: a push, else the first beyond the password, else the password."""
    ranked = sorted(factors, key=lambda f: 0 if f.push else 1 if f.factor is not Factor.PASSWORD else 2)
    return ranked[0] if ranked else None


def _time(record: Record) -> datetime:
    if record.get("time") is not None:
        return parse_time(record.get("time"), "time")
    if record.get("time_dt") is not None:
        return parse_time(record.get("time_dt"), "time_dt")
    raise RecordError("time: missing")


def _pushguard_hints(record: Record) -> Record:
    product = mapping(mapping(record.get("metadata")).get("product"))
    if str(product.get("name") or "").lower() != PUSHGUARD_PRODUCT:
        return mapping(None)
    return mapping(mapping(record.get("unmapped")).get(PUSHGUARD_PRODUCT))


def _subject(record: Record) -> Principal | None:
    """The ``user`` object when it names someone, else ``actor.user``; a uid-only user borrows the
    login of an actor with the same uid (AWS console sign-ins)."""
    user = mapping(record.get("user"))
    actor_user = mapping(mapping(record.get("actor")).get("user"))
    subject = _principal(user)
    if subject is None:
        return _principal(actor_user)
    if subject.login is None and subject.id is not None:
        actor = _principal(actor_user)
        actor_ids = {_text(actor_user.get(k)) for k in ("uid", "uid_alt", "uuid")} - {None}
        user_ids = {_text(user.get(k)) for k in ("uid", "uid_alt", "uuid")} - {None}
        if actor is not None and actor.login and actor_ids & user_ids:
            return msgspec.structs.replace(subject, login=actor.login)
    return subject


def _principal(value: Any) -> Principal | None:
    data = mapping(value)
    login = _lower(data.get("email_addr")) or _lower(data.get("name"))
    uid = _text(data.get("uid")) or _text(data.get("uuid"))
    if login is None and uid is None:
        return None
    type_id = int_or_none(data.get("type_id"))
    type_name = str(data.get("type") or "").lower()
    ptype = _PRINCIPAL_TYPE_IDS.get(type_id or -1) or _PRINCIPAL_TYPE_NAMES.get(type_name)
    if ptype is None:
        ptype = PrincipalType.USER if not type_name else PrincipalType.UNKNOWN
    account = mapping(data.get("account"))
    return Principal(
        id=uid,
        login=login,
        display_name=_text(data.get("full_name")) or _text(data.get("display_name")),
        type=ptype,
        tenant=_text(data.get("domain")) or _text(account.get("uid")) or _text(data.get("account_uid")),
    )


def _lower(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text is not None else None


def _ip(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else canonical_ip(text)


def _geo(endpoint: Record) -> Geo | None:
    place = mapping(endpoint.get("location"))
    system = mapping(endpoint.get("autonomous_system"))
    lat = float_or_none(place.get("lat"))
    lon = float_or_none(place.get("long"))
    coordinates = place.get("coordinates")  # before 1.1.0: [lon, lat]
    if lat is None and isinstance(coordinates, list) and len(coordinates) == 2:
        lon, lat = float_or_none(coordinates[0]), float_or_none(coordinates[1])
    city = _text(place.get("city"))
    country = _text(place.get("country"))
    return vendor_geo(
        lat=lat,
        lon=lon,
        country=country,
        region=_text(place.get("region")),
        city=city,
        asn=asn_or_none(system.get("number")),
        as_org=_text(system.get("name")) or _text(place.get("isp")),
    )


def _device(dev: Record, src: Record, user_agent: str | None = None) -> Device | None:
    """A Device object; the endpoint ``src`` fills in the OS and type the device object lacks."""
    os_obj = mapping(dev.get("os")) or mapping(src.get("os"))
    os_name = _text(os_obj.get("name"))
    version = _text(os_obj.get("version"))
    result = Device(
        id=_text(dev.get("uid")),
        name=_text(dev.get("name")) or _text(dev.get("hostname")),
        managed=bool_or_none(dev.get("is_managed")),
        compliant=bool_or_none(dev.get("is_compliant")),
        os=f"{os_name} {version}" if os_name and version else os_name,
        user_agent=user_agent,
        kind=_text(dev.get("type")) or _text(src.get("type")),
    )
    return None if result == _NO_DEVICE else result


_NO_DEVICE = Device()


def _unmapped_reason(record: Record) -> str | None:
    # The Okta mappings in ocsf/examples leave Okta's outcome.reason in unmapped (e.g. LOCKED_OUT).
    return text_or_none(mapping(mapping(record.get("unmapped")).get("outcome")).get("reason"))


def _vendor_type(meta: Record) -> str | None:
    product = mapping(meta.get("product"))
    vendor = str(product.get("vendor_name") or "").lower()
    code = text_or_none(meta.get("event_code"))
    if any(name in vendor for name in _VENDOR_PRODUCTS):
        name = text_or_none(product.get("name")) or text_or_none(product.get("vendor_name"))
        return f"{name}: {code}" if code else name
    return code


def _record_hash(record: Record) -> str:
    try:
        encoded = msgspec.json.encode(record, order="sorted")
    except (TypeError, msgspec.EncodeError) as exc:
        raise RecordError(f"record: cannot be hashed for an event id: {exc}") from exc
    return "ocsf-" + hashlib.sha256(encoded).hexdigest()[:32]


SOURCE = OcsfSource()
