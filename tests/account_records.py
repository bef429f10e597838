"""Vendor records for the account detectors' tests (enrollment, resets, privileged actions), built in the
shapes of the fixtures: Okta System Log (tests/fixtures/okta/handmade.jsonl), Entra ID Graph
directoryAudit (tests/fixtures/entra/audit-graph-handmade.jsonl: no public sample has security-info
registrations, so it follows Microsoft's "Microsoft Entra audit activity reference") and Graph signIn,
Duo administrator log (tests/fixtures/duo/admin-own.jsonl) and Duo authentication log v2. Values are
invented; addresses are documentation ranges or illustrative."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pushguard.enrich import AliasMap
from pushguard.flow import analyze
from pushguard.model import Finding
from tests.events import at

Record = dict[str, Any]
PARIS = {"city": "Paris", "state": "Ile-de-France", "country": "France", "lat": 48.85, "lon": 2.35}
LAGOS = {"city": "Lagos", "state": "Lagos", "country": "Nigeria", "lat": 6.52, "lon": 3.38}
_uuid = iter(range(1, 1_000_000))


def iso(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


def run_records(
    tmp_path: Path, records: list[Record], name: str, detector: str, aliases: AliasMap | None = None
) -> list[Finding]:
    """Write the records as one JSON Lines file, analyze it, return the findings of one detector."""
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = analyze([path], aliases=aliases)
    assert result.stats.errors == 0, result.stats.error_samples
    return [f for f in result.findings if f.detector == detector]


# -- Okta System Log -------------------------------------------------------------------------------


def okta(
    event_type: str,
    seconds: float,
    *,
    actor: str = "alice.martin@corp.example",
    actor_id: str = "00u1a2b3c4d5e6f7g8h9",
    target: list[Record] | None = None,
    ip: str = "198.51.100.7",
    place: dict[str, Any] = PARIS,
    asn: int = 3215,
    as_org: str = "Orange",
    result: str = "SUCCESS",
    reason: str | None = None,
    debug: Record | None = None,
) -> Record:
    geo = {
        "city": place["city"],
        "state": place["state"],
        "country": place["country"],
        "postalCode": None,
        "geolocation": {"lat": place["lat"], "lon": place["lon"]},
    }
    return {
        "uuid": f"22222222-0000-4000-8000-{next(_uuid):012d}",
        "published": iso(seconds),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": "",
        "actor": {"id": actor_id, "type": "User", "alternateId": actor, "displayName": actor.split("@")[0]},
        "client": {
            "userAgent": {
                "rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                "os": "Mac OS X",
                "browser": "CHROME",
            },
            "device": "Computer",
            "ipAddress": ip,
            "geographicalContext": geo,
        },
        "authenticationContext": {"rootSessionId": "idxSESSION0001", "externalSessionId": "idxSESSION0001"},
        "outcome": {"result": result, "reason": reason},
        "securityContext": {"asNumber": asn, "asOrg": as_org, "isp": as_org, "isProxy": False},
        "debugContext": {"debugData": debug or {}},
        "transaction": {"type": "WEB", "id": "txn0001", "detail": {}},
        "request": {"ipChain": [{"ip": ip, "geographicalContext": geo, "version": "V4"}]},
        "target": target or [],
    }


ALICE_TARGET = {
    "id": "00u1a2b3c4d5e6f7g8h9",
    "type": "User",
    "alternateId": "alice.martin@corp.example",
    "displayName": "Alice Martin",
}


def okta_sign_in_history(days: int = 12) -> list[Record]:
    """Alice's ordinary mornings from home: a push sent, approved, the session started."""
    records: list[Record] = []
    for day in range(1, days + 1):
        start = -day * 86400.0
        app = [{"id": "0oaSALESFORCE", "type": "AppInstance", "alternateId": "Salesforce"}]
        records.append(okta("system.push.send_factor_verify_push", start, target=app))
        records.append(
            okta(
                "user.authentication.auth_via_mfa",
                start + 6,
                debug={"factor": "OKTA_VERIFY_PUSH", "pushOnlyResponseType": "ACCEPTED"},
                target=app,
            )
        )
        records.append(okta("user.session.start", start + 8))
    return records


def okta_factor_activate(seconds: float, **kw: Any) -> Record:
    """user.mfa.factor.activate: the target names the user and the new AuthenticatorEnrollment."""
    enrollment = {
        "id": "pfdATTACKER0000000001",
        "type": "AuthenticatorEnrollment",
        "displayName": "Okta Verify",
    }
    return okta(
        "user.mfa.factor.activate",
        seconds,
        reason="User set up OKTA_VERIFY_PUSH factor",
        debug={"factor": "OKTA_VERIFY_PUSH", "requestUri": "/idp/idx/credential/enroll"},
        target=[ALICE_TARGET, enrollment],
        **kw,
    )


def okta_deny_push(seconds: float, **kw: Any) -> Record:
    return okta(
        "user.mfa.okta_verify.deny_push",
        seconds,
        debug={"factor": "OKTA_VERIFY_PUSH", "pushOnlyResponseType": "REJECTED"},
        **kw,
    )


# -- Entra ID (Graph) ------------------------------------------------------------------------------

MARA = {
    "id": "0f3e9a7c-1b2d-4c5e-8f90-a1b2c3d4e5f6",
    "displayName": "Mara Lind",
    "userPrincipalName": "mara.lind@contoso-example.com",
}
NILS = {
    "id": "7c6b5a49-3827-4d16-a5f4-e3d2c1b0a987",
    "displayName": "Helpdesk Nils",
    "userPrincipalName": "nils.helpdesk@contoso-example.com",
}


def entra_audit(
    activity: str,
    seconds: float,
    *,
    by: Record = MARA,
    ip: str = "88.160.1.2",
    reason: str = "",
    targets: list[Record] | None = None,
    service: str = "Authentication Methods",
) -> Record:
    """A Graph directoryAudit record; targets default to Mara (the subject of a security-info change)."""
    return {
        "id": f"Audit_{next(_uuid):08d}",
        "category": "UserManagement",
        "correlationId": f"c0a80303-0000-4000-8000-{next(_uuid):012d}",
        "result": "success",
        "resultReason": reason,
        "activityDisplayName": activity,
        "activityDateTime": iso(seconds),
        "loggedByService": service,
        "operationType": "Add",
        "initiatedBy": {"user": {**by, "ipAddress": ip}, "app": None},
        "targetResources": targets
        if targets is not None
        else [{**MARA, "type": "User", "modifiedProperties": []}],
        "additionalDetails": [],
    }


def entra_signin(
    seconds: float, ip: str, place: dict[str, Any], *, detail: str = "Mobile app notification"
) -> Record:
    """A Graph beta signIn of Mara approved by push (the fields the parser reads)."""
    return {
        "id": f"signin-{next(_uuid):08d}",
        "createdDateTime": iso(seconds),
        "userPrincipalName": MARA["userPrincipalName"],
        "userId": MARA["id"],
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": ip,
        "isInteractive": True,
        "status": {"errorCode": 0},
        "authenticationRequirement": "multiFactorAuthentication",
        "authenticationDetails": [
            {
                "authenticationStepDateTime": iso(seconds),
                "authenticationMethod": "Password",
                "succeeded": True,
                "authenticationStepResultDetail": "Correct password",
            },
            {
                "authenticationStepDateTime": iso(seconds),
                "authenticationMethod": detail,
                "succeeded": True,
                "authenticationStepResultDetail": "MFA completed in Azure AD",
            },
        ],
        "location": {
            "city": place["city"],
            "countryOrRegion": place["country"][:2].upper(),
            "geoCoordinates": {"latitude": place["lat"], "longitude": place["lon"]},
        },
    }


# -- Duo -------------------------------------------------------------------------------------------


def duo_admin(action: str, seconds: float, obj: str | None, description: Record) -> Record:
    """A Duo Admin API administrator-log record (v1 /logs/administrator)."""
    moment = at(seconds)
    return {
        "action": action,
        "description": json.dumps(description),
        "isotimestamp": moment.isoformat(),
        "object": obj,
        "timestamp": int(moment.timestamp()),
        "username": "Dana Helpdesk",
        "eventtype": "administrator",
        "host": "api-example.duosecurity.com",
    }


def duo_auth(
    seconds: float,
    result: str,
    reason: str,
    *,
    user: str = "m.rivera@example.org",
    ip: str = "198.51.100.23",
    city: str = "Lisbon",
    country: str = "Portugal",
    event_type: str = "authentication",
    factor: str = "duo_push",
) -> Record:
    """A Duo authentication log v2 record (the shape of authlogs-v2-own.jsonl)."""
    moment = at(seconds)
    return {
        "access_device": {
            "browser": "Edge",
            "ip": ip,
            "location": {"city": city, "country": country, "state": city},
            "os": "Windows",
        },
        "application": {"key": "DIEXAMPLEAPPKEY00001", "name": "Example VPN"},
        "auth_device": {
            "ip": ip,
            "location": {"city": city, "country": country, "state": city},
            "name": "Pixel 7 (+351 555 0100)",
        },
        "email": user,
        "event_type": event_type,
        "factor": factor,
        "isotimestamp": moment.isoformat(),
        "reason": reason,
        "result": result,
        "timestamp": int(moment.timestamp()),
        "txid": f"7b1f0c2e-5a34-4c8e-9d21-{next(_uuid):012d}",
        "user": {"groups": ["Staff"], "key": "DUKEY" + user.split("@")[0].upper(), "name": user},
    }
