"""Okta System Log (LogEvent) records → Events, Okta Classic and Okta Identity Engine alike.

Push prompts: ``system.push.send_factor_verify_push`` is the prompt; the answer is either
``user.mfa.okta_verify.deny_push`` (Classic) or ``user.authentication.auth_via_mfa`` with
``debugData.factor = OKTA_VERIFY_PUSH`` and, on OIE, ``pushOnlyResponseType`` /
``pushWithNumberChallengeResponseType`` (``OV_RESPONSE_DENY``, ``OV_WITH_CHALLENGE_RESPONSE_INVALID``…).
An unanswered push leaves only the send event; its timeout is inferred downstream from silence.

Okta Identity Engine treats the password as an authenticator: the password step is logged as
``user.authentication.auth_via_mfa`` too, with ``debugData.factor = PASSWORD_AS_FACTOR`` and an
``AuthenticatorEnrollment`` target named "Password" (``detailEntry.methodTypeUsed`` "Password"); a wrong
password is that event with FAILURE / INVALID_CREDENTIALS, next to a ``user.session.start`` FAILURE of the
same request. A knowledge factor (the password, a security question: Okta counts both as "knowledge",
and two of them are not two factor types) proves nothing a phished password does not, so such a step
is a sign-in step (``signin_success`` / ``signin_failure`` with the factor kept), never an MFA success
or a push answer.

Federated sign-ins (``user.authentication.auth_via_IDP``, ``auth_via_social``…) are logged with the
``SystemPrincipal`` "Okta System" as actor and the person as a ``User`` target: the target is the subject.
"""

from __future__ import annotations

import re
from typing import cast

import msgspec

from pushguard.model import (
    Event,
    EventKind,
    Factor,
    Geo,
    PrincipalType,
    Provider,
    RawRef,
    UserKind,
)
from pushguard.sources import okta_parts
from pushguard.sources.base import (
    NOT_JSON,
    VENDOR_CITY_ACCURACY_KM,
    ParseResult,
    Record,
    RecordError,
    Unmapped,
    float_or_none,
    parse_time,
    text_or_none,
)
from pushguard.sources.okta_log_event import (
    NO_ACTOR,
    NO_AUTHENTICATION,
    NO_CLIENT,
    NO_DETAIL,
    NO_OUTCOME,
    OktaDebugData,
    OktaLogEvent,
    OktaLogEventLine,
    OktaOutcome,
    OktaTypeLine,
)
from pushguard.sources.typed import convert_lenient, plain_checks_pass, plain_text_passes

# debugData.factor and AuthenticatorEnrollment names → our factors.
_FACTORS: dict[str, Factor] = {
    "OKTA_VERIFY_PUSH": Factor.OKTA_VERIFY_PUSH,
    "PUSH": Factor.OKTA_VERIFY_PUSH,
    "OKTA_VERIFY": Factor.OKTA_VERIFY_TOTP,
    "OKTA_VERIFY_TOTP": Factor.OKTA_VERIFY_TOTP,
    "TOKEN:SOFTWARE:TOTP": Factor.TOTP,
    "SIGNED_NONCE": Factor.OKTA_FASTPASS,
    "FASTPASS": Factor.OKTA_FASTPASS,
    "FIDO_WEBAUTHN": Factor.WEBAUTHN,
    "WEBAUTHN": Factor.WEBAUTHN,
    "SECURITY KEY OR BIOMETRIC": Factor.WEBAUTHN,
    "U2F": Factor.WEBAUTHN,
    "SMS_FACTOR": Factor.SMS,
    "SMS": Factor.SMS,
    "CALL_FACTOR": Factor.VOICE,
    "CALL": Factor.VOICE,
    "EMAIL_FACTOR": Factor.EMAIL,
    "EMAIL": Factor.EMAIL,
    "GOOGLE_OTP": Factor.TOTP,
    "GOOGLE AUTHENTICATOR": Factor.TOTP,
    "TOKEN:SOFTWARE:TOTP:GOOGLE": Factor.TOTP,
    "TOKEN:HARDWARE": Factor.HARDWARE_TOKEN,
    "RSA_SECURID": Factor.HARDWARE_TOKEN,
    "YUBIKEY_TOKEN": Factor.HARDWARE_TOKEN,
    "DUO_SECURITY": Factor.DUO_PUSH,
    "PASSWORD": Factor.PASSWORD,
    "PASSWORD_AS_FACTOR": Factor.PASSWORD,
    "SECURITY_QUESTION": Factor.SECURITY_QUESTION,
    "SMART_CARD_IDP": Factor.CERTIFICATE,
    "OKTA VERIFY": Factor.OKTA_VERIFY_PUSH,
}
# Factors that are something the user knows: verifying one is a sign-in step, not MFA (module docstring).
_KNOWLEDGE_FACTORS = frozenset({Factor.PASSWORD, Factor.SECURITY_QUESTION})
_FACTOR_IN_TEXT = re.compile(r"\b(" + "|".join(re.escape(k) for k in _FACTORS if " " not in k) + r")\b")

# Responses to a push (OIE debugData); anything else that failed is a denial as well (Okta records a
# rejected push as FAILURE / INVALID_CREDENTIALS).
_WRONG_NUMBER = "OV_WITH_CHALLENGE_RESPONSE_INVALID"

_PRIVILEGED = frozenset(
    {
        "user.account.privilege.grant",
        "group.privilege.grant",
        "system.api_token.create",
        "user.session.impersonation.grant",
        "user.session.access_admin_app",
        "application.user_membership.show_password",
        "system.idp.lifecycle.create",
        "system.idp.lifecycle.update",
        "policy.lifecycle.update",
        "policy.rule.update",
        "user.mfa.factor.reset_all",  # also mapped as factors_reset; listed here for the detail text
        "app.oauth2.as.consent.grant",  # a user granted an OAuth app scopes (Okta Workflows event card)
    }
)
_SIGNIN = frozenset(
    {
        "user.session.start",
        "user.authentication.sso",
        "user.authentication.auth_via_idp",
        "user.authentication.auth_via_social",
        "user.authentication.auth_via_radius",
        "user.authentication.auth_via_ad_agent",
        "user.authentication.auth_via_ldap_agent",
        "user.authentication.verify",
    }
)
_SIMPLE: dict[str, EventKind] = {
    "system.push.send_factor_verify_push": EventKind.PUSH_SENT,
    "user.mfa.okta_verify.deny_push": EventKind.PUSH_DENIED,
    "user.account.report_suspicious_activity_by_enduser": EventKind.FRAUD_REPORTED,
    "user.mfa.factor.activate": EventKind.FACTOR_ENROLLED,
    "system.mfa.factor.activate": EventKind.FACTOR_ENROLLED,
    "user.mfa.factor.deactivate": EventKind.FACTOR_REMOVED,
    "system.mfa.factor.deactivate": EventKind.FACTOR_REMOVED,
    "user.mfa.factor.suspend": EventKind.FACTOR_SUSPENDED,
    "user.mfa.factor.reset_all": EventKind.FACTORS_RESET,
    "user.mfa.attempt_bypass": EventKind.BYPASS_ISSUED,
    "user.account.reset_password": EventKind.PASSWORD_RESET,
    "user.account.update_password": EventKind.PASSWORD_CHANGED,
    "user.account.lock": EventKind.ACCOUNT_LOCKED,
    "user.account.lock.limit": EventKind.ACCOUNT_LOCKED,
    "user.lifecycle.suspend": EventKind.ACCOUNT_STATUS_CHANGED,
    "user.lifecycle.unsuspend": EventKind.ACCOUNT_STATUS_CHANGED,
    "user.lifecycle.deactivate": EventKind.ACCOUNT_STATUS_CHANGED,
    "user.lifecycle.reactivate": EventKind.ACCOUNT_STATUS_CHANGED,
    "user.account.unlock": EventKind.ACCOUNT_STATUS_CHANGED,
    "user.session.clear": EventKind.SESSION_REVOKED,
    "user.session.end": EventKind.SESSION_REVOKED,
    "security.threat.detected": EventKind.RISK_DETECTED,
}
# Events whose subject is the target user (someone may act on another's account); in the rest the
# actor authenticates for themself.
_SUBJECT_IS_TARGET = frozenset(
    {
        "user.mfa.factor.activate",
        "system.mfa.factor.activate",
        "user.mfa.factor.deactivate",
        "system.mfa.factor.deactivate",
        "user.mfa.factor.suspend",
        "user.mfa.factor.reset_all",
        "user.mfa.attempt_bypass",
        "user.account.reset_password",
        "user.account.update_password",
        "user.account.lock",
        "user.account.lock.limit",
        "user.account.unlock",
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.lifecycle.deactivate",
        "user.lifecycle.reactivate",
        "user.session.clear",
        "user.account.privilege.grant",
        "user.session.impersonation.grant",
        "user.account.report_suspicious_activity_by_enduser",
    }
)
_FACTOR_KINDS = frozenset(
    {
        EventKind.MFA_SUCCESS,
        EventKind.MFA_FAILURE,
        EventKind.FACTOR_ENROLLED,
        EventKind.FACTOR_REMOVED,
        EventKind.FACTOR_SUSPENDED,
        EventKind.BYPASS_ISSUED,
    }
)


def _lowercase_top(record: Record) -> Record:
    """Panther stores Okta events with lower-cased top-level keys; restore Okta's camelCase."""
    restore = {
        "eventtype": "eventType",
        "debugcontext": "debugContext",
        "authenticationcontext": "authenticationContext",
        "securitycontext": "securityContext",
        "displaymessage": "displayMessage",
        "legacyeventtype": "legacyEventType",
    }
    return {restore.get(key, key): value for key, value in record.items()}


class OktaSource:
    provider = Provider.OKTA

    def matches(self, record: Record) -> bool:
        return ("eventType" in record or "eventtype" in record) and (
            "published" in record or "uuid" in record or "actor" in record
        )

    def parse(self, record: Record, ref: RawRef) -> ParseResult:
        if "eventType" not in record and "eventtype" in record:
            record = _lowercase_top(record)
        actor = record.get("actor")
        if actor is not None and not (isinstance(actor, dict) and actor):
            # An empty actor names nobody, like null; as a Struct it would look like one of unknown keys.
            record = {key: value for key, value in record.items() if key != "actor"}
        return self.parse_decoded(convert_lenient(record, OktaLogEvent), ref)

    def decode_line(self, line: bytes) -> OktaLogEventLine | Unmapped | None:
        """The line's LogEvent, or None when the plain path must read it (see ``sources.typed``). A line
        of an event type no mapping takes (SSO, policy, app events: most of a real log) comes as the
        ``Unmapped`` its ``OktaTypeLine`` gives, the rest of the record skipped unbuilt."""
        try:
            head = _type_decoder.decode(line)
        except (*NOT_JSON, RecursionError):
            head = None
        if (
            head is not None
            and head.event_type.__class__ is str
            and head.event_type
            and head.published is not msgspec.UNSET
            and not (head.value or head.records or head.stat or head.data or head.class_uid)
        ):
            kind = _classify(head.event_type, head.outcome)
            if kind.__class__ is Unmapped and plain_text_passes(line):
                return kind
        try:
            event = _line_decoder.decode(line)
        except (*NOT_JSON, RecursionError):
            return None
        event_type = event.event_type
        if (
            event_type.__class__ is not str  # missing (lower-cased by Panther?) or odd: the plain path says
            or not event_type
            or event.published is msgspec.UNSET  # detected as Okta only with it (or with uuid or actor)
            or event.value
            or event.records
            or event.stat
            or event.data
            or event.class_uid
            or event.actor == NO_ACTOR  # {} is no actor, {"id": null} is one: the dict tells them apart
        ):
            return None
        return event if plain_checks_pass(line) else None

    def parse_decoded(self, decoded: OktaLogEvent | Unmapped, ref: RawRef) -> ParseResult:
        if isinstance(decoded, Unmapped):  # decode_line's answer for a type no mapping takes
            return decoded
        event_type = decoded.event_type
        if not isinstance(event_type, str) or not event_type:
            raise RecordError("eventType: missing or not a string")
        kind = _classify(event_type, decoded.outcome)
        if isinstance(kind, Unmapped):
            return kind
        if kind is None:
            kind = self._mfa_kind(decoded, _result(decoded.outcome))
        return [self._event(decoded, event_type, kind, ref)]

    # -- classification -------------------------------------------------------------------------

    def _mfa_kind(self, record: OktaLogEvent, result: str) -> EventKind:
        debug = okta_parts.debug_data(record)
        factor = self._factor(record, debug)
        push_answer = text_or_none(debug.push_only_response_type) or text_or_none(
            debug.push_with_number_challenge_response_type
        )
        is_push = factor is Factor.OKTA_VERIFY_PUSH or push_answer is not None
        if not is_push and factor in _KNOWLEDGE_FACTORS:
            # OIE's password step (PASSWORD_AS_FACTOR) and security questions: not MFA
            return EventKind.SIGNIN_SUCCESS if result == "SUCCESS" else EventKind.SIGNIN_FAILURE
        if result == "SUCCESS":
            return EventKind.PUSH_APPROVED if is_push else EventKind.MFA_SUCCESS
        if is_push:
            return EventKind.PUSH_DENIED
        return EventKind.MFA_FAILURE

    def _factor(self, record: OktaLogEvent, debug: OktaDebugData) -> Factor | None:
        name = text_or_none(debug.factor)
        if name:
            return _FACTORS.get(name.upper(), Factor.OTHER)
        for target in record.target or ():
            if target.type == "AuthenticatorEnrollment":
                detail = target.detail_entry or NO_DETAIL
                method = text_or_none(detail.method_type_used) or text_or_none(target.display_name)
                if method:
                    # An "Okta Verify" enrollment carries push (and TOTP): it is the push factor.
                    upper = method.upper()
                    return _FACTORS.get(upper.replace(" ", "_"), _FACTORS.get(upper, Factor.OTHER))
        reason = text_or_none((record.outcome or NO_OUTCOME).reason)
        if reason:
            match = _FACTOR_IN_TEXT.search(reason.upper())
            if match:
                return _FACTORS[match.group(1)]
        return None

    # -- building the event ----------------------------------------------------------------------

    def _event(self, record: OktaLogEvent, event_type: str, kind: EventKind, ref: RawRef) -> Event:
        uuid = text_or_none(record.uuid)
        if uuid is None:
            raise RecordError("uuid: missing")
        if record.published is msgspec.UNSET:
            raise RecordError("published: missing")
        when = parse_time(record.published, "published")
        debug = okta_parts.debug_data(record)
        outcome = record.outcome or NO_OUTCOME
        actor = okta_parts.principal(record.actor)
        targets = record.target or ()
        subject = actor
        # The subject is the target user where someone may act on another's account, and where the
        # actor is Okta itself (federated sign-ins: the person is the target).
        if event_type in _SUBJECT_IS_TARGET or (actor is not None and actor.type is PrincipalType.SYSTEM):
            target_user = next(
                (okta_parts.principal(t) for t in targets if str(t.type).lower() == "user"), None
            )
            if target_user is not None:
                subject = target_user
        client = record.client or NO_CLIENT
        ip = text_or_none(client.ip_address)
        if subject is None or (subject.login is None and subject.id is None):
            raise RecordError("actor/target: no user named")
        identity = subject.login or subject.id or ""
        if subject.type is PrincipalType.ADDRESS:
            identity = f"ip:{subject.id or ip}"  # nobody's account: keyed by the address
        geo = okta_parts.geo(client.geographical_context, record.security_context)
        device = okta_parts.device(client, record.device, debug)
        factor = (
            self._factor(record, debug)
            if kind in _FACTOR_KINDS or event_type.lower() == "user.authentication.auth_via_mfa"
            else None
        )
        if kind in (EventKind.PUSH_SENT, EventKind.PUSH_DENIED, EventKind.PUSH_APPROVED):
            factor = Factor.OKTA_VERIFY_PUSH
        reason = text_or_none(outcome.reason)
        number_challenge: bool | None = None
        challenge_answer = text_or_none(debug.push_with_number_challenge_response_type)
        if challenge_answer is not None:
            number_challenge = True
            if challenge_answer == _WRONG_NUMBER:
                reason = "number_challenge_wrong"
        push_answer = text_or_none(debug.push_only_response_type)
        if push_answer is not None:
            number_challenge = False
            if kind is EventKind.PUSH_DENIED:
                reason = reason or push_answer
        if kind is EventKind.PUSH_DENIED and reason is None:
            reason = "user_denied"
        responder_ip = None
        responder_geo = None
        ip_out, geo_out = ip, geo
        if event_type == "user.mfa.okta_verify.deny_push":
            # The rejection comes from the phone running Okta Verify: that client is the responder.
            responder_ip, responder_geo = ip, geo
        if kind is EventKind.FRAUD_REPORTED:
            # The report names the activity the user disowned: that IP is the suspect requester.
            suspect = text_or_none(debug.suspicious_activity_event_ip)
            if suspect:
                responder_ip, responder_geo = ip, geo
                ip_out = suspect
                geo_out = Geo(
                    lat=float_or_none(debug.suspicious_activity_event_latitude),
                    lon=float_or_none(debug.suspicious_activity_event_longitude),
                    country=text_or_none(debug.suspicious_activity_event_country),
                    region=text_or_none(debug.suspicious_activity_event_state),
                    city=text_or_none(debug.suspicious_activity_event_city),
                    accuracy_km=VENDOR_CITY_ACCURACY_KM,
                )
        # A client app or service principal acting for itself is a non-human identity.
        user_kind = (
            UserKind.NHI if subject is actor and subject.type is PrincipalType.SERVICE else UserKind.HUMAN
        )
        auth = record.authentication_context or NO_AUTHENTICATION
        session = text_or_none(auth.root_session_id) or text_or_none(auth.external_session_id)
        detail = event_type if kind is EventKind.PRIVILEGED_ACTION else None
        if kind is EventKind.RISK_DETECTED:
            detail = text_or_none(debug.threat_detections) or reason
        return Event(
            provider=Provider.OKTA,
            event_id=uuid,
            time=when,
            kind=kind,
            identity=identity,
            subject=subject,
            actor=actor,
            user_kind=user_kind,
            ip=ip_out,
            geo=geo_out,
            responder_ip=responder_ip,
            responder_geo=responder_geo,
            device=device,
            app=okta_parts.app(targets),
            session_id=session,
            factor=factor,
            factor_id=okta_parts.enrollment_id(targets),
            number_challenge=number_challenge,
            reason=reason,
            vendor_risk=okta_parts.risk_level(debug),
            behaviors=okta_parts.behaviors(debug),
            detail=detail,
            raw=RawRef(source=ref.source, position=ref.position, vendor_type=event_type),
        )


def _result(outcome: OktaOutcome | None) -> str:
    return str((outcome or NO_OUTCOME).result or "").upper()


def _classify(event_type: str, outcome: OktaOutcome | None) -> EventKind | Unmapped | None:
    """The kind an event type and outcome give, why none (Unmapped), or None: an MFA verification, whose
    kind the rest of the record tells (``_mfa_kind``)."""
    simple = _SIMPLE.get(event_type)
    if simple is not None:
        return simple
    result = None if outcome is None else outcome.result
    if result is None or result.__class__ is str:  # a log has a few hundred (type, outcome) pairs
        pair = (event_type, result)
        found = _CLASSIFIED.get(pair, _NOT_YET)
        if found is _NOT_YET:
            if len(_CLASSIFIED) >= _MAX_CLASSIFIED:
                _CLASSIFIED.clear()
            found = _CLASSIFIED[pair] = _classify_type(event_type, outcome)
        return cast(EventKind | Unmapped | None, found)
    return _classify_type(event_type, outcome)


_CLASSIFIED: dict[tuple[str, str | None], object] = {}
_MAX_CLASSIFIED = 4096
_NOT_YET = object()


def _classify_type(event_type: str, outcome: OktaOutcome | None) -> EventKind | Unmapped | None:
    low = event_type.lower()
    if low == "user.authentication.auth_via_mfa":
        return None
    result = _result(outcome)
    if low in _SIGNIN:
        if result in ("SUCCESS", "ALLOW"):
            return EventKind.SIGNIN_SUCCESS
        if result in ("FAILURE", "DENY"):
            return EventKind.SIGNIN_FAILURE
        return Unmapped(f"okta: {event_type} with outcome {result or 'none'}")
    if event_type in _PRIVILEGED:
        return EventKind.PRIVILEGED_ACTION
    if low == "policy.evaluate_sign_on":
        if result == "DENY":
            return EventKind.ACCESS_BLOCKED
        if result == "CHALLENGE":
            return EventKind.MFA_REQUIRED
        return Unmapped(f"okta: policy.evaluate_sign_on with outcome {result or 'none'}")
    return Unmapped(f"okta: eventType {event_type}")


_line_decoder = msgspec.json.Decoder(OktaLogEventLine)
_type_decoder = msgspec.json.Decoder(OktaTypeLine)


SOURCE = OktaSource()
