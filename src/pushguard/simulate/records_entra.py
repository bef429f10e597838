"""Entra ID records for the simulator: Microsoft Graph beta ``signIn`` (with ``authenticationDetails``,
``mfaDetail``, ``status``) and Graph ``directoryAudit``, in the keys and nesting of ../shared/samples/entra.

One sign-in record carries the whole attempt, push included: approved is errorCode 0 with "MFA completed
in Azure AD"; refused is 500121 with the ``additionalDetails`` wordings Microsoft documents ("MFA denied;
user declined the authentication", "… did not respond to mobile app notification", "… did not select the
correct number", "MFA denied; Phone App Reported Fraud"). Audit: "User registered security info",
"Admin registered security info" (Temporary Access Pass), "Admin deleted security info", "Reset user
password", "Add service principal credentials", "Consent to application"."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from pushguard.model import Provider
from pushguard.simulate.actions import ATTACKER_UA, Outcome, Written
from pushguard.simulate.common import ENTRA_SIGNINS, graph_time, new_uuid
from pushguard.simulate.places import Net
from pushguard.simulate.records_entra_audit import EntraAuditWriter
from pushguard.simulate.tenant import User

_MFA_FAILED = "Authentication failed during strong authentication request."
_DETAILS = {
    Outcome.DENIED: "MFA denied; user declined the authentication",
    Outcome.TIMEOUT: "MFA denied; user did not respond to mobile app notification",
    Outcome.WRONG_NUMBER: "MFA denied; user did not select the correct number",
    Outcome.FRAUD: "MFA denied; Phone App Reported Fraud",
    Outcome.BLOCKED: "MFA denied; user did not respond to mobile app notification",
}
_APP_IDS = {
    "Office 365 Exchange Online": "00000002-0000-0ff1-ce00-000000000000",
    "Microsoft Teams": "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    "SharePoint Online": "00000003-0000-0ff1-ce00-000000000000",
    "Azure Portal": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
    "Microsoft Graph": "00000003-0000-0000-c000-000000000000",
    "OneDrive SyncEngine": "ab9b8c07-8f02-4f72-87fa-80105867a763",
}
_PRIVILEGED = ("Add service principal credentials", "Consent to application")


def _step(
    when: datetime, method: str, detail: str | None, ok: bool, result: str, requirement: str
) -> dict[str, Any]:
    return {
        "authenticationStepDateTime": graph_time(when),
        "authenticationMethod": method,
        "authenticationMethodDetail": detail,
        "succeeded": ok,
        "authenticationStepResultDetail": result,
        "authenticationStepRequirement": requirement,
    }


def _password(when: datetime, ok: bool = True) -> dict[str, Any]:
    return _step(
        when,
        "Password",
        "Password in the cloud",
        ok,
        "Correct password"
        if ok
        else "Invalid username or password or Invalid on-premise username or password.",
        "Primary authentication",
    )


class EntraWriter(EntraAuditWriter):
    """Sign-ins here; audit records (enrollment, TAP, resets, privileged actions) in the base."""

    provider = Provider.ENTRA

    # -- sign-ins --------------------------------------------------------------------------------

    def _signin(
        self,
        user: User,
        when: datetime,
        src: Net,
        *,
        app: str,
        code: int,
        details: str | None,
        steps: list[dict[str, Any]],
        attacker: bool,
        mfa_method: str | None = None,
        interactive: bool = True,
        failure: str | None = None,
        client_app: str | None = None,
    ) -> str:
        rng = self.rng
        event_id = new_uuid(rng)
        laptop = user.laptop
        registered = not attacker and laptop.managed
        device = {
            "deviceId": new_uuid(random.Random(laptop.id)) if registered else "",
            "displayName": laptop.name if registered else None,
            "operatingSystem": "Linux" if attacker else f"{laptop.os.replace('Mac OS X', 'MacOs')}",
            "browser": "Chrome 124.0.0" if attacker else f"{laptop.browser} {laptop.browser_version}",
            "isCompliant": registered,
            "isManaged": registered,
            "trustType": "Azure AD joined" if registered else None,
        }
        if user.service:
            device = {
                "deviceId": "",
                "displayName": None,
                "operatingSystem": None,
                "browser": None,
                "isCompliant": False,
                "isManaged": False,
                "trustType": None,
            }
        requirement = "multiFactorAuthentication" if mfa_method else "singleFactorAuthentication"
        correlation = new_uuid(rng)
        record: dict[str, Any] = {
            "id": event_id,
            "createdDateTime": graph_time(when),
            "userDisplayName": user.display,
            "userPrincipalName": user.login,
            "userId": user.entra_id,
            "userType": "member",
            "appId": _APP_IDS.get(app, "00000003-0000-0000-c000-000000000000"),
            "appDisplayName": app,
            "ipAddress": src.ip,
            "autonomousSystemNumber": src.network.asn,
            "clientAppUsed": client_app or ("Browser" if interactive else "Mobile Apps and Desktop clients"),
            "userAgent": ATTACKER_UA
            if attacker
            else "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "correlationId": correlation,
            "conditionalAccessStatus": "success" if code == 0 else "notApplied",
            "originalRequestId": new_uuid(rng),
            "isInteractive": interactive,
            "signInEventTypes": ["interactiveUser"] if interactive else ["nonInteractiveUser"],
            "tokenIssuerType": "AzureAD",
            "homeTenantId": self.tenant.entra_tenant,
            "resourceTenantId": self.tenant.entra_tenant,
            "resourceDisplayName": app,
            "resourceId": _APP_IDS.get(app, "00000003-0000-0000-c000-000000000000"),
            "servicePrincipalId": "",
            "riskDetail": "none",
            "riskLevelAggregated": "none",
            "riskLevelDuringSignIn": "none",
            "riskState": "none",
            "riskEventTypes_v2": [],
            "status": {"errorCode": code, "failureReason": failure, "additionalDetails": details},
            "deviceDetail": device,
            "location": {
                "city": src.place.city,
                "state": src.place.state,
                "countryOrRegion": src.place.cc,
                "geoCoordinates": {"altitude": None, "latitude": src.place.lat, "longitude": src.place.lon},
            },
            "authenticationRequirement": requirement,
            "authenticationDetails": steps,
            "mfaDetail": {"authMethod": mfa_method, "authDetail": None} if mfa_method else None,
            "appliedConditionalAccessPolicies": [
                {
                    "id": "6b8c1a0e-4d0c-4f3a-9a51-0c1d2e3f4a5b",
                    "displayName": "CA001: Require MFA for all users",
                    "enforcedGrantControls": ["Mfa"],
                    "enforcedSessionControls": [],
                    "result": "success" if code == 0 and mfa_method else "notApplied",
                }
            ],
        }
        return self.logs.add(ENTRA_SIGNINS, when, event_id, record)

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
        answered = when + timedelta(seconds=answer_s)
        ok = outcome is Outcome.APPROVED
        details = "MFA completed in Azure AD" if ok else _DETAILS[outcome]
        push = _step(
            answered,
            "Mobile app notification",
            None,
            ok,
            "MFA successfully completed" if ok else _DETAILS[outcome],
            "Multifactor authentication",
        )
        event = self._signin(
            user,
            when,
            src,
            app=app,
            code=0 if ok else 500121,
            details=details,
            steps=[_password(when), push],
            attacker=attacker,
            mfa_method="Mobile app notification",
            failure=None if ok else _MFA_FAILED,
        )
        return Written([event], [when], [when] if outcome is Outcome.APPROVED else [])

    def interrupt(self, user: User, when: datetime, src: Net, *, app: str) -> Written:
        """50074: the sign-in asks for MFA (an interrupt, not a prompt)."""
        event = self._signin(
            user,
            when,
            src,
            app=app,
            code=50074,
            details="MFA required in Azure AD",
            steps=[_password(when)],
            attacker=False,
            failure="Strong Authentication is required.",
        )
        return Written([event])

    def signin_to_enroll(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        """50079: the password was right and the user must register a method first (an interrupt)."""
        event = self._signin(
            user,
            when,
            src,
            app="My Signins",
            code=50079,
            details=None,
            steps=[_password(when)],
            attacker=attacker,
            failure=(
                "Due to a configuration change made by your administrator, or because you moved to a new "
                "location, you must enroll in multi-factor authentication."
            ),
        )
        return Written([event])

    def password_failure(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        event = self._signin(
            user,
            when,
            src,
            app=app,
            code=50126,
            details=None,
            steps=[_password(when, ok=False)],
            attacker=attacker,
            failure="Error validating credentials due to invalid username or password.",
        )
        return Written([event])

    def password_alone(
        self, user: User, when: datetime, src: Net, *, app: str, attacker: bool, client_app: str = "Browser"
    ) -> Written:
        """A success with the password only (singleFactorAuthentication): no Conditional Access policy asked
        for more, or a legacy client (``client_app`` "IMAP4", "Authenticated SMTP") that cannot do MFA."""
        event = self._signin(
            user,
            when,
            src,
            app=app,
            code=0,
            details=None,
            steps=[_password(when)],
            attacker=attacker,
            client_app=client_app,
        )
        return Written([event])

    def quiet(self, user: User, when: datetime, src: Net, *, app: str) -> Written:
        steps = [
            _step(
                when,
                "Previously satisfied",
                None,
                True,
                "First factor requirement satisfied by claim in the token",
                "Primary authentication",
            ),
            _step(
                when,
                "Previously satisfied",
                None,
                True,
                "MFA requirement satisfied by claim in the token",
                "Multifactor authentication",
            ),
        ]
        event = self._signin(
            user,
            when,
            src,
            app=app,
            code=0,
            details="MFA requirement satisfied by claim in the token",
            steps=steps,
            attacker=False,
            mfa_method="Previously satisfied",
        )
        return Written([event])

    def use_bypass(self, user: User, when: datetime, src: Net, *, app: str, attacker: bool) -> Written:
        steps = [
            _step(
                when,
                "Temporary Access Pass",
                None,
                True,
                "Temporary Access Pass validated",
                "Primary authentication",
            )
        ]
        event = self._signin(
            user,
            when,
            src,
            app="My Signins",
            code=0,
            details=None,
            steps=steps,
            attacker=attacker,
            mfa_method="Temporary Access Pass",
        )
        return Written([event])

    def service(self, user: User, when: datetime, src: Net) -> Written:
        event = self._signin(
            user,
            when,
            src,
            app=user.apps[0],
            code=0,
            details=None,
            steps=[_password(when)],
            attacker=False,
            interactive=False,
        )
        return Written([event])

    def workload(self, sp_id: str, app_id: str, name: str, when: datetime, src: Net) -> Written:
        """A service principal signing in with its client credential (Graph ``servicePrincipal`` sign-in)."""
        event_id = new_uuid(self.rng)
        record = {
            "id": event_id,
            "createdDateTime": graph_time(when),
            "appId": app_id,
            "appDisplayName": name,
            "servicePrincipalId": sp_id,
            "servicePrincipalName": name,
            "servicePrincipalCredentialKeyId": new_uuid(random.Random(sp_id)),
            "clientCredentialType": "clientSecret",
            "ipAddress": src.ip,
            "correlationId": new_uuid(self.rng),
            "isInteractive": False,
            "signInEventTypes": ["servicePrincipal"],
            "resourceDisplayName": "Microsoft Graph",
            "resourceId": "00000003-0000-0000-c000-000000000000",
            "homeTenantId": self.tenant.entra_tenant,
            "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None},
            "location": {
                "city": src.place.city,
                "state": src.place.state,
                "countryOrRegion": src.place.cc,
                "geoCoordinates": {"altitude": None, "latitude": src.place.lat, "longitude": src.place.lon},
            },
        }
        return Written([self.logs.add(ENTRA_SIGNINS, when, event_id, record)])
