"""Okta System Log (LogEvent, Identity Engine) records for the simulator, in the keys and nesting of
Okta's API (see ../shared/samples/okta and ``sources.okta``).

A push is ``system.push.send_factor_verify_push``; its answer ``user.authentication.auth_via_mfa`` with
``debugData.factor = OKTA_VERIFY_PUSH`` and ``pushWithNumberChallengeResponseType`` (number challenge) or
``pushOnlyResponseType``; a push-only denial is ``user.mfa.okta_verify.deny_push`` from the phone; no
answer leaves only the send. A fraud report is ``user.account.report_suspicious_activity_by_enduser``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from pushguard.model import Provider
from pushguard.simulate.actions import ATTACKER_UA, Outcome, Written
from pushguard.simulate.common import OKTA_LOG, Logs, jitter, new_uuid, okta_time, token
from pushguard.simulate.places import Net
from pushguard.simulate.tenant import Laptop, Tenant, User

_UA = {
    "Windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "Mac OS X": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15"
    ),
}
_OV_UA = "OktaVerify/9.27.0 (iPhone; iOS 17.6.1)"
_ANSWER = {
    Outcome.APPROVED: ("OV_WITH_CHALLENGE_RESPONSE_CORRECT", "OV_RESPONSE_APPROVE"),
    Outcome.DENIED: ("OV_WITH_CHALLENGE_RESPONSE_DENY", "OV_RESPONSE_DENY"),
    Outcome.FRAUD: ("OV_WITH_CHALLENGE_RESPONSE_DENY", "OV_RESPONSE_DENY"),
    Outcome.WRONG_NUMBER: ("OV_WITH_CHALLENGE_RESPONSE_INVALID", "OV_RESPONSE_DENY"),
}
_PRIVILEGED = ("system.api_token.create", "group.privilege.grant", "policy.rule.update")


def _geo(src: Net) -> dict[str, Any]:
    place = src.place
    return {
        "city": place.city,
        "state": place.state,
        "country": place.country,
        "postalCode": place.postal,
        "geolocation": {"lat": place.lat, "lon": place.lon},
    }


def _principal(user: User) -> dict[str, Any]:
    return {
        "id": user.okta_id,
        "type": "User",
        "alternateId": user.login,
        "displayName": user.display,
        "detailEntry": None,
    }


class OktaWriter:
    provider = Provider.OKTA

    def __init__(self, rng: random.Random, logs: Logs, tenant: Tenant) -> None:
        self.rng = rng
        self.logs = logs
        self.tenant = tenant

    # -- the record ------------------------------------------------------------------------------

    def _event(
        self,
        event_type: str,
        when: datetime,
        actor: User,
        src: Net,
        *,
        message: str,
        result: str = "SUCCESS",
        reason: str | None = None,
        debug: dict[str, Any] | None = None,
        targets: list[dict[str, Any]] | None = None,
        laptop: Laptop | None = None,
        agent: str | None = None,
        session: str | None = None,
    ) -> str:
        rng = self.rng
        uuid = new_uuid(rng)
        geo = _geo(src)
        if agent is not None:
            user_agent = {"rawUserAgent": agent, "os": "Unknown", "browser": "UNKNOWN"}
            device_kind = "Mobile" if agent is _OV_UA else "Computer"
        elif laptop is not None:
            user_agent = {
                "rawUserAgent": _UA.get(laptop.os, _UA["Windows"]),
                "os": f"{laptop.os} {laptop.os_version}".replace("Windows 11", "Windows 10"),
                "browser": laptop.browser.upper(),
            }
            device_kind = "Computer"
        else:
            user_agent = {"rawUserAgent": ATTACKER_UA, "os": "Linux", "browser": "CHROME"}
            device_kind = "Computer"
        device = None
        if laptop is not None and event_type == "user.session.start":
            device = {
                "id": laptop.id,
                "name": laptop.name,
                "os_platform": "WINDOWS" if laptop.os == "Windows" else "OSX",
                "os_version": laptop.os_version,
                "managed": laptop.managed,
                "registered": True,
                "device_integrator": None,
                "disk_encryption_type": "ALL_INTERNAL_VOLUMES",
                "screen_lock_type": "BIOMETRIC",
                "jailbreak": None,
                "secure_hardware_present": True,
            }
        sid = session or "idx" + token(rng, 22)
        record: dict[str, Any] = {
            "actor": _principal(actor),
            "client": {
                "userAgent": user_agent,
                "zone": "null",
                "device": device_kind,
                "id": None,
                "ipAddress": src.ip,
                "geographicalContext": geo,
            },
            "device": device,
            "authenticationContext": {
                "authenticationProvider": None,
                "credentialProvider": None,
                "credentialType": None,
                "issuer": None,
                "interface": None,
                "authenticationStep": 0,
                "rootSessionId": sid,
                "externalSessionId": sid,
            },
            "displayMessage": message,
            "eventType": event_type,
            "outcome": {"result": result, "reason": reason},
            "published": okta_time(when),
            "securityContext": {
                "asNumber": src.network.asn,
                "asOrg": src.network.org,
                "isp": src.network.org,
                "domain": None,
                "isProxy": src.proxy,
            },
            "severity": "INFO" if result == "SUCCESS" else "WARN",
            "debugContext": {
                "debugData": {
                    "requestId": token(rng, 27),
                    "requestUri": "/idp/idx/authenticators/poll",
                    "url": "/idp/idx/authenticators/poll",
                    "dtHash": token(rng, 64, "0123456789abcdef"),
                    **(debug or {}),
                }
            },
            "legacyEventType": None,
            "transaction": {"type": "WEB", "id": token(rng, 27), "detail": {}},
            "uuid": uuid,
            "version": "0",
            "request": {
                "ipChain": [{"ip": src.ip, "geographicalContext": geo, "version": "V4", "source": None}]
            },
            "target": targets if targets is not None else [_principal(actor)],
        }
        return self.logs.add(OKTA_LOG, when, uuid, record)

    def _ov(self, user: User, push: bool = True) -> dict[str, Any]:
        return {
            "id": user.phone.enrollment_id,
            "type": "AuthenticatorEnrollment",
            "alternateId": "unknown",
            "displayName": "Okta Verify",
            "detailEntry": {
                "methodTypeUsed": "Get a push notification",
                "methodUsedVerifiedProperties": "[POSSESSION, USER_PRESENCE]",
            }
            if push
            else None,
        }

    @staticmethod
    def _app(name: str) -> dict[str, Any]:
        return {
            "id": "0oa" + name.replace(" ", "")[:10].lower().ljust(17, "x"),
            "type": "AppInstance",
            "alternateId": name,
            "displayName": name,
            "detailEntry": None,
        }

    # -- actions ---------------------------------------------------------------------------------

    def attempt(
        self,
        user: User,
        when: datetime,
        src: Net,
        outcome: Outcome,
        *,
        app: str,
        phone: Net | None,
        attacker: bool = False,
        answer_s: float = 8.0,
    ) -> Written:
        laptop = None if attacker else user.laptop
        session = "idx" + token(self.rng, 22)
        out = Written()
        out.ids.append(
            self._event(
                "system.push.send_factor_verify_push",
                when,
                user,
                src,
                laptop=laptop,
                session=session,
                message="A push was sent to a user for verification",
            )
        )
        out.prompts.append(when)
        if outcome is Outcome.APPROVED:
            out.approvals.append(when)
        answered = when + timedelta(seconds=answer_s) + jitter(self.rng, 0, 1)
        if outcome in (Outcome.TIMEOUT, Outcome.BLOCKED):
            return out
        number = user.number_match
        if outcome in (Outcome.DENIED, Outcome.FRAUD) and not number and phone is not None:
            out.ids.append(
                self._event(
                    "user.mfa.okta_verify.deny_push",
                    answered,
                    user,
                    phone,
                    agent=_OV_UA,
                    session=session,
                    result="FAILURE",
                    reason="INVALID_CREDENTIALS",
                    message="User rejected Okta push verify",
                )
            )
        else:
            key = "pushWithNumberChallengeResponseType" if number else "pushOnlyResponseType"
            debug = {"factor": "OKTA_VERIFY_PUSH", key: _ANSWER[outcome][0 if number else 1]}
            ok = outcome is Outcome.APPROVED
            out.ids.append(
                self._event(
                    "user.authentication.auth_via_mfa",
                    answered,
                    user,
                    src,
                    laptop=laptop,
                    session=session,
                    result="SUCCESS" if ok else "FAILURE",
                    reason=None if ok else "INVALID_CREDENTIALS",
                    debug=debug,
                    targets=[_principal(user), self._ov(user)],
                    message="Authentication of user via MFA",
                )
            )
        if outcome is Outcome.FRAUD and phone is not None:
            debug = {
                "suspiciousActivityEventType": "system.push.send_factor_verify_push",
                "suspiciousActivityEventIp": src.ip,
                "suspiciousActivityEventCity": src.place.city,
                "suspiciousActivityEventState": src.place.state,
                "suspiciousActivityEventCountry": src.place.country,
                "suspiciousActivityEventLatitude": str(src.place.lat),
                "suspiciousActivityEventLongitude": str(src.place.lon),
                "suspiciousActivityTimestamp": okta_time(when),
            }
            out.ids.append(
                self._event(
                    "user.account.report_suspicious_activity_by_enduser",
                    answered + jitter(self.rng, 3, 20),
                    user,
                    phone,
                    agent=_OV_UA,
                    debug=debug,
                    message="User reported suspicious activity",
                )
            )
        if outcome is Outcome.APPROVED:
            start = answered + jitter(self.rng, 0.3, 1.5)
            out.ids.append(
                self._event(
                    "user.session.start",
                    start,
                    user,
                    src,
                    laptop=laptop,
                    session=session,
                    message="User login to Okta",
                )
            )
            out.ids.append(
                self._event(
                    "user.authentication.sso",
                    start + jitter(self.rng, 1, 4),
                    user,
                    src,
                    laptop=laptop,
                    session=session,
                    targets=[self._app(app)],
                    message="User single sign on to app",
                )
            )
        return out

    def password_failure(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        event = self._event(
            "user.session.start",
            when,
            user,
            src,
            laptop=None if attacker else user.laptop,
            result="FAILURE",
            reason="INVALID_CREDENTIALS",
            message="User login to Okta",
        )
        return Written([event])

    def quiet(self, user: User, when: datetime, src: Net, *, app: str) -> Written:
        event = self._event(
            "user.authentication.sso",
            when,
            user,
            src,
            laptop=user.laptop,
            targets=[self._app(app)],
            message="User single sign on to app",
        )
        return Written([event])

    def enroll(self, user: User, when: datetime, src: Net, *, phone_name: str, attacker: bool) -> Written:
        enrollment = self._ov(user, push=False)
        enrollment["id"] = "pfd" + token(self.rng, 17)
        event = self._event(
            "user.mfa.factor.activate",
            when,
            user,
            src,
            laptop=None if attacker else user.laptop,
            targets=[_principal(user), enrollment],
            debug={"factor": "OKTA_VERIFY_PUSH"},
            message="Activate factor or authenticator",
        )
        return Written([event])

    def remove_factors(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._event(
            "user.mfa.factor.reset_all",
            when,
            admin,
            src,
            laptop=admin.laptop,
            targets=[_principal(user)],
            message="Reset all factors for user",
        )
        return Written([event])

    def delete_authenticator(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._event(
            "user.mfa.factor.deactivate",
            when,
            admin,
            src,
            laptop=admin.laptop,
            targets=[_principal(user), self._ov(user, push=False)],
            debug={"factor": "OKTA_VERIFY_PUSH"},
            message="Reset factor for user",
        )
        return Written([event])

    def password_reset(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        return self.issue_bypass(user, when, admin, src)  # Okta's temporary password is a password reset

    def signin_to_enroll(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        return self.use_bypass(user, when, src, app=app, attacker=attacker)  # a session, then enrollment

    def issue_bypass(self, user: User, when: datetime, admin: User, src: Net) -> Written:
        event = self._event(
            "user.account.reset_password",
            when,
            admin,
            src,
            laptop=admin.laptop,
            targets=[_principal(user)],
            message="Fires when an admin resets a user's password",
        )
        return Written([event])

    def use_bypass(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        laptop = None if attacker else user.laptop
        first = self._event(
            "user.session.start", when, user, src, laptop=laptop, message="User login to Okta"
        )
        return Written([first])

    def privileged(self, user: User, when: datetime, src: Net, *, action: int) -> Written:
        event_type = _PRIVILEGED[action % len(_PRIVILEGED)]
        targets = [
            {
                "id": "00g" + token(self.rng, 17),
                "type": "UserGroup",
                "alternateId": "unknown",
                "displayName": "Super Administrators",
                "detailEntry": None,
            }
        ]
        event = self._event(
            event_type,
            when,
            user,
            src,
            laptop=None,
            targets=targets,
            message=f"Privileged action {event_type}",
        )
        return Written([event])

    def service(self, user: User, when: datetime, src: Net) -> Written:
        event = self._event(
            "user.session.start",
            when,
            user,
            src,
            agent="python-requests/2.32.3",
            message="User login to Okta",
            debug={"requestUri": "/api/v1/authn", "url": "/api/v1/authn"},
        )
        return Written([event])
