"""Duo administrator and offline-enrollment logs → Events (the authentication logs are in ``duo``).

Administrator log records (Admin API ``/admin/v1/logs/administrator``): ``action``, ``username`` (the
admin's *full name*, or ``API``, ``System``, ``AD Sync: <directory>``), ``object`` (what was acted on: a
username, a phone number, a policy name…), ``timestamp`` (Unix seconds), ``isotimestamp`` and
``description``: per Duo "either free-form text or serialized JSON", holding the *new* values of what
changed (``{"status": "Disabled"}``). The records carry no id: ``record_id`` hashes the record.

Action names (Duo Admin API docs; duo_client_python ``get_administrator_log``; Elastic ``cisco_duo``
admin pipeline): admin_login, admin_login_error, admin_2fa_error, admin_lockout, admin_create /
_update / _delete, admin_reset_password, admin_activate_duo_push, admin_reactivates_duo_push,
admin_factor_restrictions_update, activation_create_link / _send_link / _delete_link, bypass_create /
_delete / _view, phone_create / _update / _delete / _associate / _disassociate, user_create / _update /
_delete / _pending_delete / _restore / _import, group_*, integration_* (integration_skey_view),
policy_*, hardtoken_*, directory sync actions. Offline enrollment (``/admin/v1/logs/offline_enrollment``,
Duo Authentication for Windows Logon): o2fa_user_provisioned, o2fa_user_reenrolled,
o2fa_user_deprovisioned; ``object`` is the Windows Logon integration, ``username`` the Duo user.

Mapping decisions:
- admin_login / admin_login_error / admin_lockout are the *admin's own* sign-ins: signin_success /
  signin_failure / account_locked with the admin as actor and subject (identity: the ``email`` in the
  description when given, else the lowercase ``username``). admin_2fa_error is mfa_failure, except when
  the error says the login was reported as fraudulent (fraud_reported).
- bypass_create → bypass_issued; user_update ``status: Bypass`` → bypass_issued (reason
  ``bypass_status``: MFA switched off for the user); other status changes, user_delete,
  user_pending_delete, user_restore → account_status_changed with the new status as reason.
- user_update ``phones``: the description holds the new value, so ``""`` means the user's phones were
  cleared (factor_removed) and a number means phones were set (factor_enrolled). This is inferred from
  the new-value convention, not documented per field.
- phone_create / phone_associate / activation_*_link / admin_(re)activate(s)_duo_push →
  factor_enrolled; phone_delete / phone_disassociate / bypass_delete → factor_removed. In the phone
  actions, and in the activation ones when it reads as a phone number (Duo activates a *phone*: the
  Admin API's activation endpoints hang off ``/phones/{id}``), ``object`` is the phone (kept as
  ``factor_id``), never a user. The subject is the user named by ``object`` or the description; for
  admin_(re)activate(s)_duo_push the administrator the description names (``email``, else ``name``).
  An action that names nobody is Unmapped (the phone alone does not say whose account it is): the phone
  number is never an identity, and no ``object`` that reads as a phone number is taken for a username.
- Admin role, policy, SSO, integration-secret and bypass-code viewing changes → privileged_action with
  the admin as subject and ``detail = "<action>: <object>"``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import msgspec

from pushguard.model import Device, Event, EventKind, Factor, Principal, PrincipalType, Provider, RawRef
from pushguard.sources.base import (
    NOT_JSON,
    ParseResult,
    Record,
    RecordError,
    Unmapped,
    ip_or_none,
    lower_or_none,
    parse_time,
    text_or_none,
)

_json = msgspec.json.Decoder()
_canonical = msgspec.json.Encoder(order="sorted")

# Factor names used in administrator / offline descriptions ("factor": "push").
_DESCRIPTION_FACTORS: dict[str, Factor] = {
    "push": Factor.DUO_PUSH,
    "duo_push": Factor.DUO_PUSH,
    "verified_push": Factor.DUO_PUSH,
    "sms": Factor.SMS,
    "sms_passcode": Factor.SMS,
    "phone": Factor.VOICE,
    "phone_call": Factor.VOICE,
    "duo_otp": Factor.TOTP,
    "duo_mobile_passcode": Factor.TOTP,
    "passcode": Factor.OTHER,
    "hardware_token": Factor.HARDWARE_TOKEN,
    "yubikey": Factor.HARDWARE_TOKEN,
    "security_key": Factor.WEBAUTHN,
    "webauthn": Factor.WEBAUTHN,
    "u2f_token": Factor.WEBAUTHN,
    "bypass_code": Factor.BYPASS_CODE,
}

_STATUS_ACTIONS = {
    "user_delete": "deleted",
    "user_pending_delete": "pending_delete",
    "user_restore": "restored",
}
_ENROLL_ACTIONS = frozenset(
    {
        "phone_create",
        "phone_associate",
        "activation_create_link",
        "activation_send_link",
        "admin_activate_duo_push",
        "admin_reactivates_duo_push",
    }
)
_REMOVE_ACTIONS = frozenset({"phone_delete", "phone_disassociate", "bypass_delete"})
_ADMIN_PHONE_ACTIONS = frozenset({"admin_activate_duo_push", "admin_reactivates_duo_push"})
_PUSH_ACTIONS = frozenset(
    {
        "activation_create_link",
        "activation_send_link",
        "admin_activate_duo_push",
        "admin_reactivates_duo_push",
    }
)
_PRIVILEGED = frozenset(
    {
        "admin_create",
        "admin_delete",
        "admin_update",
        "admin_reset_password",
        "admin_factor_restrictions_update",
        "update_admin_factor_restrictions",
        "admin_single_sign_on_update",
        "integration_create",
        "integration_skey_view",
        "policy_create",
        "policy_update",
        "policy_delete",
        "bypass_view",
        "customer_update",
    }
)
_ADMIN_SELF = {
    "admin_login": EventKind.SIGNIN_SUCCESS,
    "admin_login_error": EventKind.SIGNIN_FAILURE,
    "admin_lockout": EventKind.ACCOUNT_LOCKED,
    "admin_2fa_error": EventKind.MFA_FAILURE,
}
_OFFLINE = {
    "o2fa_user_provisioned": EventKind.FACTOR_ENROLLED,
    "o2fa_user_reenrolled": EventKind.FACTOR_ENROLLED,
    "o2fa_user_deprovisioned": EventKind.FACTOR_REMOVED,
}


def record_id(record: Record) -> str:
    """A stable id for a Duo record that has no ``txid`` (admin logs, v1 logs): a hash of its content."""
    digest = hashlib.sha256(_canonical.encode(record)).hexdigest()
    return f"duo-{digest[:32]}"


def record_time(record: Record, *fields: str) -> datetime:
    """The first time field that is present and valid (ISO first: it keeps sub-second precision). Duo
    writes the time twice (``isotimestamp`` and the epoch ``timestamp``): one garbled by a collector
    leaves the other; only when none is usable is the record refused, with the first field's error."""
    first_error: RecordError | None = None
    for field in fields:
        value = record.get(field)
        if value in (None, ""):
            continue
        try:
            return parse_time(value, field)
        except RecordError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    raise RecordError(f"{'/'.join(fields)}: missing")


def description_of(value: Any) -> dict[str, Any]:
    """The description decoded when it is JSON; free-form text becomes ``{"text": ...}``."""
    if isinstance(value, dict):
        return value
    text = text_or_none(value)
    if text is None:
        return {}
    if text.startswith("{"):
        try:
            decoded = _json.decode(text)
        except NOT_JSON:
            return {"text": text}
        return decoded if isinstance(decoded, dict) else {"text": text}
    return {"text": text}


def description_factor(value: Any) -> Factor | None:
    name = lower_or_none(value)
    if name is None:
        return None
    return _DESCRIPTION_FACTORS.get(name.replace(" ", "_").replace("-", "_"), Factor.OTHER)


def _admin_principal(username: Any, email: Any, host: Any) -> Principal | None:
    name = text_or_none(username)
    mail = lower_or_none(email)
    if name is None and mail is None:
        return None
    ptype = PrincipalType.ADMIN
    if name == "API":
        ptype = PrincipalType.SERVICE
    elif name is not None and (name == "System" or " Sync" in name or name.endswith("Sync")):
        ptype = PrincipalType.SYSTEM
    return Principal(
        login=mail or (name.lower() if name else None),
        display_name=name,
        type=ptype,
        tenant=text_or_none(host),
    )


def parse_admin(record: Record, ref: RawRef) -> ParseResult:
    """An administrator-log or offline-enrollment record → Events, Unmapped, or RecordError."""
    action = text_or_none(record.get("action"))
    if action is None:
        raise RecordError("action: missing or empty")
    if "username" not in record:
        raise RecordError("username: missing")
    when = record_time(record, "isotimestamp", "timestamp")
    desc = description_of(record.get("description"))
    host = record.get("host")
    obj = text_or_none(record.get("object"))
    if action in _OFFLINE:
        return _offline(record, action, when, desc, obj, ref)
    actor = _admin_principal(
        record.get("username"), desc.get("email") if action in _ADMIN_SELF else None, host
    )
    kind: EventKind | None = None
    subject: Principal | None = None
    reason: str | None = None
    factor: Factor | None = None
    factor_id: str | None = None
    detail: str | None = None
    if action in _ADMIN_SELF:
        kind, subject = _ADMIN_SELF[action], actor
        factor = description_factor(desc.get("factor"))
        reason = (
            text_or_none(desc.get("error"))
            or text_or_none(desc.get("message"))
            or text_or_none(desc.get("text"))
        )
        if action == "admin_2fa_error" and reason and "fraud" in reason.lower():
            kind = EventKind.FRAUD_REPORTED
    elif action == "bypass_create":
        kind, factor, subject = EventKind.BYPASS_ISSUED, Factor.BYPASS_CODE, _user(desc, obj, host)
        codes = desc.get("bypass_code_ids")
        factor_id = ",".join(str(c) for c in codes) if isinstance(codes, list) and codes else None
    elif action == "user_update":
        subject = _user(desc, obj, host)
        kind, reason, factor = _user_update(desc)
        if kind is None:
            return Unmapped("duo: admin action user_update (no status or phones change)")
        factor_id = text_or_none(desc.get("phones"))
    elif action in _STATUS_ACTIONS:
        kind, subject, reason = (
            EventKind.ACCOUNT_STATUS_CHANGED,
            _user(desc, obj, host),
            _STATUS_ACTIONS[action],
        )
    elif action in _ENROLL_ACTIONS or action in _REMOVE_ACTIONS:
        kind = EventKind.FACTOR_ENROLLED if action in _ENROLL_ACTIONS else EventKind.FACTOR_REMOVED
        phone = obj if obj is not None and is_phone_number(obj) else None
        if action in _ADMIN_PHONE_ACTIONS:  # an administrator's phone: the administrator it names
            name = desc.get("name") or (None if phone else obj)
            subject = _admin_principal(name, desc.get("email"), host)
        else:
            named = None if action.startswith("phone_") or action == "bypass_delete" else obj
            subject = _user(desc, named, host)
        if subject is None:
            return Unmapped(f"duo: admin action {action} names no user")
        if action.startswith("phone_") or phone:
            factor_id = obj  # the phone; it carries push, SMS and voice alike
        if action == "bypass_delete":
            factor = Factor.BYPASS_CODE
        elif action in _PUSH_ACTIONS:
            factor = Factor.DUO_PUSH
        detail = action
    elif action in _PRIVILEGED:
        kind, subject, detail = EventKind.PRIVILEGED_ACTION, actor, f"{action}: {obj}" if obj else action
    else:
        return Unmapped(f"duo: admin action {action}")
    if subject is None or (subject.login is None and subject.id is None):
        raise RecordError(f"object/description: admin action {action} names no user")
    return [
        Event(
            provider=Provider.DUO,
            event_id=record_id(record),
            time=when,
            kind=kind,
            identity=subject.login or subject.id or "",
            subject=subject,
            actor=actor,
            ip=ip_or_none(desc.get("ip_address")),
            factor=factor,
            factor_id=factor_id,
            reason=reason,
            detail=detail,
            raw=RawRef(source=ref.source, position=ref.position, vendor_type=action),
        )
    ]


# A phone number as Duo writes it ("+13135559542", "+1 313-555-9542", "555-123-4567"): digits and
# separators only. Digits alone without "+" could be an employee-number username: not taken for a phone.
_PHONE = re.compile(r"\+?[\d\s().-]{7,}")


def is_phone_number(text: str) -> bool:
    text = text.strip()
    return bool(_PHONE.fullmatch(text)) and (text.startswith("+") or not text.isdigit())


def _user(desc: dict[str, Any], obj: str | None, host: Any) -> Principal | None:
    """The end user an admin action concerns: the action's object (a username), else a user named in
    the description (``email`` last: in user_update it is the user's *new* address). An object that is a
    phone number names no user."""
    login = obj.lower() if obj and not is_phone_number(obj) else None
    for key in ("username", "user_name", "user", "email"):
        if login:
            break
        value = desc.get(key)
        login = lower_or_none(value) if isinstance(value, str) else None
    user_id = text_or_none(desc.get("user_id"))
    if login is None and user_id is None:
        return None
    return Principal(id=user_id, login=login, tenant=text_or_none(host))


def _user_update(desc: dict[str, Any]) -> tuple[EventKind | None, str | None, Factor | None]:
    status = lower_or_none(desc.get("status"))
    if status == "bypass":
        return EventKind.BYPASS_ISSUED, "bypass_status", None
    if status is not None:
        return EventKind.ACCOUNT_STATUS_CHANGED, status.replace(" ", "_"), None
    if "phones" in desc:
        if text_or_none(desc.get("phones")) is None:
            return EventKind.FACTOR_REMOVED, "phones_cleared", None
        return EventKind.FACTOR_ENROLLED, "phones_set", None
    return None, None, None


def _offline(
    record: Record, action: str, when: datetime, desc: dict[str, Any], obj: str | None, ref: RawRef
) -> ParseResult:
    login = lower_or_none(record.get("username"))
    if login is None:
        raise RecordError("username: missing or empty")
    user = Principal(login=login, tenant=text_or_none(record.get("host")))
    agent = text_or_none(desc.get("user_agent"))
    hostname = text_or_none(desc.get("hostname"))
    device = Device(name=hostname, user_agent=agent) if hostname or agent else None
    return [
        Event(
            provider=Provider.DUO,
            event_id=record_id(record),
            time=when,
            kind=_OFFLINE[action],
            identity=login,
            subject=user,
            actor=user,
            device=device,
            app=obj,
            factor=description_factor(desc.get("factor")),
            detail=action,
            raw=RawRef(source=ref.source, position=ref.position, vendor_type=action),
        )
    ]
