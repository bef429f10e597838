"""Duo Admin API logs → Events: authentication logs (v2 and legacy v1), administrator and offline
enrollment logs (in ``duo_admin``), telephony logs (counted as Unmapped).

Facts this module builds on (Duo Admin API docs "Authentication Logs", as quoted by Panther's Duo
schema and duo_client_python ``admin.py``; Elastic/Sekoia test records for the shapes):

- v2 record: ``txid``, ``timestamp`` (Unix seconds; only v2 *query* parameters and ``next_offset`` use
  milliseconds), ``isotimestamp``, ``user.{name,key,groups}``, ``email``, ``alias``, ``result``,
  ``reason``, ``event_type`` (``authentication`` | ``enrollment``), ``factor``, ``access_device`` (where the
  login came from: ip, hostname, location{city,state,country}, os, os_version, browser,
  browser_version, is_*_enabled as booleans *or* ``"unknown"``, epkey), ``auth_device`` (the phone that
  answered: ip, location, name, key), ``application.{key,name}``, ``trusted_endpoint_status``,
  ``adaptive_trust_assessments.more_secure_auth.{trust_level,reason,detected_attack_detectors}``.
  Duo geolocates both devices to city level and gives no coordinates.
- ``result``: success | denied | fraud | error (v1 writes SUCCESS | FAILURE | ERROR | FRAUD).
- ``reason`` (documented list): on success user_approved, valid_passcode, bypass_user,
  remembered_device, trusted_network, trusted_location, allowed_by_policy,
  allow_unenrolled_user(_on_trusted_network); on failure user_mistake, user_cancelled, no_response,
  invalid_passcode, no_keys_pressed, call_timed_out, locked_out, user_disabled, deny_unenrolled_user,
  anomalous_push, denied_by_policy, denied_network, anonymous_ip, location_restricted,
  factor/platform/version/software_restricted, rooted_device, no_screen_lock, touchid_disabled,
  no_disk_encryption, out_of_date, invalid_device, no_activated_duo_mobile_account,
  user_not_in_permitted_group, the endpoint_* / certificate / referrer checks; on error ``error``; on
  fraud ``user_marked_fraud``. Newer values not in that list but named by the design notes:
  ``frequent_attempts`` and ``verification_code_incorrect`` (Verified Push, wrong code).
- ``factor`` (documented list): duo_push, phone_call, sms_passcode, sms_refresh, passcode,
  duo_mobile_passcode, yubikey_passcode, digipass_go_7_token, hardware_token, u2f_token, bypass_code,
  remembered_device, trusted_network, not_available; WebAuthn and ``verified_duo_push`` appear in newer
  tenants (seen only in third-party test data: handled by name, not confirmed by a Duo sample).
- v1 (legacy) records are flat: username, ip, device (the phone), integration, location,
  new_enrollment, factor, result, reason, timestamp; factor and reason are words ("Duo Push",
  "User approved"). Both are normalised to the v2 tokens.
- Denying a Duo Push asks "Was this a suspicious login?": yes → result fraud / user_marked_fraud,
  no → denied / user_mistake (university Duo guides; the Elastic sample pairs denied with
  user_mistake). That user_cancelled is the login cancelled at the access device is our reading.

Kinds (push factors are duo_push and verified_duo_push; Verified Push is Duo's number matching, so
it sets ``number_challenge``):
- success → push_approved for a push, mfa_success otherwise; a success where no factor was verified
  (bypass_user, remembered_device, trusted_network, allowed_by_policy, …) is mfa_success with factor
  None (remembered_device keeps Factor.REMEMBERED_DEVICE) and the reason kept.
- fraud / user_marked_fraud → fraud_reported. verification_code_incorrect → push_denied with reason
  ``number_challenge_wrong``. user_mistake → push_denied (the owner tapped Deny).
- no_response → push_timeout. user_cancelled → push_timeout too: the prompt reached the phone and was
  never answered there (attackers cancel and re-send to spam prompts); the reason tells them apart.
- frequent_attempts and anomalous_push are Duo itself refusing the push (rate limit / risk engine;
  Panther's rule: "denied due to an anomalous 2FA push"). They are not the owner's answer, so not
  push_denied (which a detector reads as "the victim said no"): they are mfa_failure with factor
  duo_push and the reason kept (``DUO_BLOCKED_PUSH_REASONS``). They are still bombing evidence, and a
  bombing detector should count them as attempts.
- Policy, device-health, enrollment and account-state refusals (``ACCESS_BLOCKED_REASONS``) →
  access_blocked. Everything else that failed → mfa_failure with the reason kept.
- event_type enrollment with success (v1: new_enrollment true) → factor_enrolled; a failed enrollment is
  Unmapped. Telephony records only count SMS/voice credits (no outcome): Unmapped.
- The identity is ``user.name`` (``email`` when the name is missing). An ``email`` that differs from the
  name (a short ``jsmith`` beside the address) is kept as ``subject.email``: the identity resolver
  (``enrich.resolver``) links the Duo account to the person by it; ``user.key`` is ``subject.id``.
"""

from __future__ import annotations

from typing import Any

from pushguard.model import Device, Event, EventKind, Factor, Geo, GeoSource, Principal, Provider, RawRef
from pushguard.sources.base import (
    ParseResult,
    Record,
    RecordError,
    Unmapped,
    bool_or_none,
    ip_or_none,
    lower_or_none,
    mapping,
    text_or_none,
)
from pushguard.sources.duo_admin import parse_admin, record_id, record_time

_FACTORS: dict[str, Factor | None] = {
    "duo_push": Factor.DUO_PUSH,
    "verified_duo_push": Factor.DUO_PUSH,
    "phone_call": Factor.VOICE,
    "sms_passcode": Factor.SMS,
    "sms_refresh": Factor.SMS,
    "passcode": Factor.OTHER,  # a passcode of unknown origin (Duo Mobile, SMS or token)
    "duo_mobile_passcode": Factor.TOTP,
    "yubikey_passcode": Factor.HARDWARE_TOKEN,
    "yubikey_code": Factor.HARDWARE_TOKEN,
    "digipass_go_7_token": Factor.HARDWARE_TOKEN,
    "hardware_token": Factor.HARDWARE_TOKEN,
    "u2f_token": Factor.WEBAUTHN,
    "bypass_code": Factor.BYPASS_CODE,
    "remembered_device": Factor.REMEMBERED_DEVICE,
    "trusted_network": None,
    "not_available": None,
}
_WEBAUTHN_HINTS = ("webauthn", "u2f", "security_key", "touch_id", "face_id")

# Successes where no second factor was verified now.
_NO_FACTOR_SUCCESS = frozenset(
    {
        "bypass_user",
        "remembered_device",
        "trusted_network",
        "trusted_location",
        "allowed_by_policy",
        "allow_unenrolled_user",
        "allow_unenrolled_user_on_trusted_network",
    }
)
_WRONG_CODE = "verification_code_incorrect"
_USER_DENIED = frozenset({"user_mistake"})
_NO_ANSWER = frozenset({"no_response", "user_cancelled", "call_timed_out"})
DUO_BLOCKED_PUSH_REASONS = frozenset({"frequent_attempts", "anomalous_push"})
ACCESS_BLOCKED_REASONS = frozenset(
    {
        "locked_out",
        "user_disabled",
        "deny_unenrolled_user",
        "no_activated_duo_mobile_account",
        "user_not_in_permitted_group",
        "denied_by_policy",
        "denied_network",
        "anonymous_ip",
        "location_restricted",
        "factor_restricted",
        "platform_restricted",
        "version_restricted",
        "software_restricted",
        "rooted_device",
        "no_screen_lock",
        "touchid_disabled",
        "touch_id_disabled",
        "no_disk_encryption",
        "out_of_date",
        "invalid_device",
        "no_duo_certificate_present",
        "user_provided_invalid_certificate",
        "could_not_determine_if_endpoint_was_trusted",
        "invalid_management_certificate_collection_state",
        "no_referring_hostname_provided",
        "invalid_referring_hostname_provided",
        "no_web_referer_match",
        "endpoint_failed_google_verification",
        "endpoint_is_not_trusted",
        "endpoint_is_not_in_management_system",
    }
)
# Risk-based authentication trust level → our vendor_risk (low trust is high risk).
_TRUST_TO_RISK = {"normal": "low", "low": "high"}
_FAILED = frozenset({"denied", "failure", "error"})
_NOT_DUO = ("eventType", "class_uid", "createdDateTime", "activityDisplayName", "operationName")


def _token(value: Any) -> str | None:
    """Duo v1 words and v2 tokens alike: ``"Duo Push"`` → ``duo_push``."""
    text = lower_or_none(value)
    if text is None:
        return None
    return "_".join(text.replace("-", " ").split())


def _factor(key: str | None) -> Factor | None:
    if key is None:
        return None
    if key in _FACTORS:
        return _FACTORS[key]
    if any(hint in key for hint in _WEBAUTHN_HINTS):
        return Factor.WEBAUTHN
    return Factor.DUO_PUSH if key.endswith("push") else Factor.OTHER


Classified = tuple[EventKind, Factor | None, str | None, bool | None]


def classify(
    factor_key: str | None, result: str | None, reason: str | None, enrollment: bool
) -> Classified | Unmapped:
    """(kind, factor, reason, number_challenge) for one authentication-log outcome."""
    factor = _factor(factor_key)
    verified = factor_key is not None and factor_key.startswith("verified")
    push = factor is Factor.DUO_PUSH
    challenge: bool | None = True if verified else None
    if enrollment:
        if result == "success":
            return EventKind.FACTOR_ENROLLED, factor, reason, challenge
        return Unmapped(f"duo: enrollment with result {result or 'none'}")
    if result == "fraud" or reason == "user_marked_fraud":
        return EventKind.FRAUD_REPORTED, factor, reason, challenge
    if reason == _WRONG_CODE:
        return EventKind.PUSH_DENIED, Factor.DUO_PUSH, "number_challenge_wrong", True
    if result == "success":
        if reason in _NO_FACTOR_SUCCESS:
            kept = Factor.REMEMBERED_DEVICE if reason == "remembered_device" else None
            return EventKind.MFA_SUCCESS, kept, reason, None
        return (EventKind.PUSH_APPROVED if push else EventKind.MFA_SUCCESS), factor, reason, challenge
    if result not in _FAILED:
        return Unmapped(f"duo: result {result or 'none'}")
    if result == "error":
        return EventKind.MFA_FAILURE, factor, reason or "error", challenge
    if push and (reason in _USER_DENIED or reason is None):
        return EventKind.PUSH_DENIED, factor, reason, challenge
    if push and reason in _NO_ANSWER:
        return EventKind.PUSH_TIMEOUT, factor, reason, challenge
    if reason in DUO_BLOCKED_PUSH_REASONS:
        return EventKind.MFA_FAILURE, Factor.DUO_PUSH, reason, challenge
    if reason in ACCESS_BLOCKED_REASONS:
        return EventKind.ACCESS_BLOCKED, factor, reason, challenge
    return EventKind.MFA_FAILURE, factor, reason, challenge


class DuoSource:
    provider = Provider.DUO

    def matches(self, record: Record) -> bool:
        if any(key in record for key in _NOT_DUO) or ("properties" in record and "category" in record):
            return False
        if "eventtype" in record and ("published" in record or "uuid" in record or "actor" in record):
            return False  # Okta with lower-cased keys; Duo collectors add ``eventtype`` too (auth_log, …)
        if "txid" in record and ("access_device" in record or "auth_device" in record or "user" in record):
            return True
        if "access_device" in record and "auth_device" in record:
            return True
        if (
            "action" in record
            and "username" in record
            and ("isotimestamp" in record or "timestamp" in record)
        ):
            return True
        if "context" in record and "credits" in record and "phone" in record:
            return True  # telephony
        return "username" in record and "factor" in record and "result" in record  # v1 authentication

    def parse(self, record: Record, ref: RawRef) -> ParseResult:
        if "context" in record and "credits" in record:
            return Unmapped("duo: telephony log")
        if "action" in record:
            return parse_admin(record, ref)
        if isinstance(record.get("access_device"), dict) or isinstance(record.get("user"), dict):
            return self._v2(record, ref)
        if "username" in record and "factor" in record:
            return self._v1(record, ref)
        raise RecordError("duo: none of access_device/user (v2), action (admin), username+factor (v1)")

    # -- authentication logs -------------------------------------------------------------------

    def _v2(self, record: Record, ref: RawRef) -> ParseResult:
        user = mapping(record.get("user"))
        login = lower_or_none(user.get("name")) or lower_or_none(record.get("email"))
        if login is None:
            raise RecordError("user.name: missing (and no email)")
        event_type = _token(record.get("event_type"))
        factor_key = _token(record.get("factor"))
        verdict = classify(
            factor_key, _token(record.get("result")), _token(record.get("reason")), event_type == "enrollment"
        )
        if isinstance(verdict, Unmapped):
            return verdict
        when = record_time(record, "isotimestamp", "timestamp")
        kind, factor, reason, challenge = verdict
        email = lower_or_none(record.get("email"))
        subject = Principal(
            id=text_or_none(user.get("key")),
            login=login,
            tenant=text_or_none(record.get("host")),
            email=email if email != login else None,
        )
        access = mapping(record.get("access_device"))
        auth = mapping(record.get("auth_device"))
        app = mapping(record.get("application"))
        trust = mapping(mapping(record.get("adaptive_trust_assessments")).get("more_secure_auth"))
        level = lower_or_none(trust.get("trust_level"))
        detectors = trust.get("detected_attack_detectors")
        behaviors = tuple(sorted(str(d).lower() for d in detectors)) if isinstance(detectors, list) else ()
        return [
            Event(
                provider=Provider.DUO,
                event_id=text_or_none(record.get("txid")) or record_id(record),
                time=when,
                kind=kind,
                identity=login,
                subject=subject,
                actor=subject,
                ip=_ip(access.get("ip")),
                geo=_geo(access.get("location")),
                responder_ip=_ip(auth.get("ip")),
                responder_geo=_geo(auth.get("location")),
                device=_access_device(access, record.get("trusted_endpoint_status")),
                responder_device=_auth_device(auth.get("key"), auth.get("name")),
                app=text_or_none(app.get("name")) or text_or_none(app.get("key")),
                factor=factor,
                factor_id=_place(auth.get("key")),
                number_challenge=challenge,
                reason=reason,
                vendor_risk=_TRUST_TO_RISK.get(level) if level else None,
                behaviors=behaviors,
                raw=RawRef(
                    source=ref.source, position=ref.position, vendor_type=event_type or "authentication"
                ),
            )
        ]

    def _v1(self, record: Record, ref: RawRef) -> ParseResult:
        login = lower_or_none(record.get("username"))
        if login is None:
            raise RecordError("username: missing or empty")
        enrollment = bool_or_none(record.get("new_enrollment")) is True
        verdict = classify(
            _token(record.get("factor")),
            _token(record.get("result")),
            _token(record.get("reason")),
            enrollment,
        )
        if isinstance(verdict, Unmapped):
            return verdict
        when = record_time(record, "isotimestamp", "timestamp")
        kind, factor, reason, challenge = verdict
        subject = Principal(login=login, tenant=text_or_none(record.get("host")))
        access = mapping(record.get("access_device"))
        return [
            Event(
                provider=Provider.DUO,
                event_id=text_or_none(record.get("txid")) or record_id(record),
                time=when,
                kind=kind,
                identity=login,
                subject=subject,
                actor=subject,
                ip=_ip(record.get("ip")),
                geo=_geo(record.get("location")),
                device=_access_device(access, None),
                responder_device=_auth_device(None, record.get("device")),
                app=text_or_none(record.get("integration")),
                factor=factor,
                number_challenge=challenge,
                reason=reason,
                raw=RawRef(source=ref.source, position=ref.position, vendor_type="authentication_v1"),
            )
        ]


def _place(value: Any) -> str | None:
    text = text_or_none(value)
    return None if text is None or text == "-" else text


def _ip(value: Any) -> str | None:
    """Duo writes what the access device reported: sometimes with a port ("1.2.3.4:1234",
    "[2001:db8::1]:1234", "1.2.3.4 port 1234"), or "-" for none."""
    return ip_or_none(_place(value))


def _geo(value: Any) -> Geo | None:
    """Duo's GeoIP location: city / state / country, no coordinates, no published radius."""
    place = mapping(value)
    country, region, city = (
        _place(place.get("country")),
        _place(place.get("state")),
        _place(place.get("city")),
    )
    if country is None and region is None and city is None:
        return None
    return Geo(country=country, region=region, city=city, source=GeoSource.VENDOR)


def _access_device(access: Record, trusted: Any) -> Device | None:
    os_name = _place(access.get("os"))
    version = _place(access.get("os_version"))
    if os_name and version:
        os_name = f"{os_name} {version}"
    status = lower_or_none(trusted)
    device = Device(
        id=_place(access.get("epkey")),
        name=_place(access.get("hostname")),
        managed=True if status == "trusted" else False if status == "not trusted" else None,
        os=os_name,
        browser=_place(access.get("browser")),
    )
    return None if device == _NO_DEVICE else device


def _auth_device(key: Any, name: Any) -> Device | None:
    device = Device(id=_place(key), name=_place(name))
    return None if device == _NO_DEVICE else device


_NO_DEVICE = Device()

SOURCE = DuoSource()
