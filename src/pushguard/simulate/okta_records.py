"""Okta System Log records in the real LogEvent shape (same keys and nesting as Okta's API), for the
demo, tests and benchmarks. Values are synthetic; the shape follows the public samples."""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime
from typing import Any

PLACES: dict[str, dict[str, Any]] = {
    "paris": {
        "city": "Paris",
        "state": "Ile-de-France",
        "country": "France",
        "postalCode": "75001",
        "lat": 48.8566,
        "lon": 2.3522,
        "asn": 3215,
        "as_org": "Orange S.A.",
    },
    "lyon": {
        "city": "Lyon",
        "state": "Auvergne-Rhone-Alpes",
        "country": "France",
        "postalCode": "69001",
        "lat": 45.764,
        "lon": 4.8357,
        "asn": 3215,
        "as_org": "Orange S.A.",
    },
    "newyork": {
        "city": "New York",
        "state": "New York",
        "country": "United States",
        "postalCode": "10013",
        "lat": 40.7128,
        "lon": -74.006,
        "asn": 7922,
        "as_org": "Comcast Cable",
    },
    "lagos": {
        "city": "Lagos",
        "state": "Lagos",
        "country": "Nigeria",
        "postalCode": None,
        "lat": 6.5244,
        "lon": 3.3792,
        "asn": 36873,
        "as_org": "Airtel Networks",
    },
    "amsterdam-vps": {
        "city": "Amsterdam",
        "state": "North Holland",
        "country": "Netherlands",
        "postalCode": "1012",
        "lat": 52.3676,
        "lon": 4.9041,
        "asn": 14061,
        "as_org": "DigitalOcean, LLC",
    },
}

_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event_uuid(seed: str) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, seed))


def log_event(
    event_type: str,
    when: datetime,
    login: str,
    ip: str,
    place: str,
    *,
    result: str = "SUCCESS",
    reason: str | None = None,
    debug: dict[str, Any] | None = None,
    session: str = "idxSESSION",
    seed: str = "",
    display_message: str = "",
    targets: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One Okta LogEvent. ``seed`` makes the uuid deterministic."""
    where = PLACES[place]
    geo = {
        "city": where["city"],
        "state": where["state"],
        "country": where["country"],
        "postalCode": where["postalCode"],
        "geolocation": {"lat": where["lat"], "lon": where["lon"]},
    }
    user_id = "00u" + event_uuid(login).replace("-", "")[:17]
    return {
        "uuid": event_uuid(seed or f"{event_type}|{login}|{iso(when)}|{ip}"),
        "published": iso(when),
        "eventType": event_type,
        "version": "0",
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "legacyEventType": None,
        "displayMessage": display_message,
        "actor": {
            "id": user_id,
            "type": "User",
            "alternateId": login,
            "displayName": login.split("@")[0],
            "detailEntry": None,
        },
        "client": {
            "userAgent": {"rawUserAgent": _UA, "os": "Windows 10", "browser": "CHROME"},
            "zone": "null",
            "device": "Computer",
            "id": None,
            "ipAddress": ip,
            "geographicalContext": geo,
        },
        "device": None,
        "authenticationContext": {
            "authenticationProvider": None,
            "credentialProvider": None,
            "credentialType": None,
            "issuer": None,
            "interface": None,
            "authenticationStep": 0,
            "rootSessionId": session,
            "externalSessionId": session,
        },
        "outcome": {"result": result, "reason": reason},
        "securityContext": {
            "asNumber": where["asn"],
            "asOrg": where["as_org"],
            "isp": where["as_org"],
            "domain": None,
            "isProxy": False,
        },
        "debugContext": {"debugData": {"requestUri": "/idp/idx/authenticators/poll", **(debug or {})}},
        "transaction": {"type": "WEB", "id": event_uuid("tx" + (seed or iso(when)))[:20], "detail": {}},
        "request": {"ipChain": [{"ip": ip, "geographicalContext": geo, "version": "V4", "source": None}]},
        "target": targets
        if targets is not None
        else [
            {
                "id": user_id,
                "type": "User",
                "alternateId": login,
                "displayName": login.split("@")[0],
                "detailEntry": None,
            }
        ],
    }


def push_sent(when: datetime, login: str, ip: str, place: str, seed: str = "") -> dict[str, Any]:
    return log_event(
        "system.push.send_factor_verify_push",
        when,
        login,
        ip,
        place,
        seed=seed,
        display_message="A push was sent to a user for verification",
    )


def push_answer(
    when: datetime, login: str, ip: str, place: str, approved: bool, seed: str = "", number: bool = True
) -> dict[str, Any]:
    """OIE answer to a push: auth_via_mfa with debugData factor and the response type."""
    debug: dict[str, Any] = {"factor": "OKTA_VERIFY_PUSH"}
    if number:
        debug["pushWithNumberChallengeResponseType"] = (
            "OV_WITH_CHALLENGE_RESPONSE_CORRECT" if approved else "OV_WITH_CHALLENGE_RESPONSE_DENY"
        )
    else:
        debug["pushOnlyResponseType"] = "OV_RESPONSE_APPROVE" if approved else "OV_RESPONSE_DENY"
    return log_event(
        "user.authentication.auth_via_mfa",
        when,
        login,
        ip,
        place,
        seed=seed,
        debug=debug,
        result="SUCCESS" if approved else "FAILURE",
        reason=None if approved else "INVALID_CREDENTIALS",
        display_message="Authentication of user via MFA",
    )


def deny_push(when: datetime, login: str, ip: str, place: str, seed: str = "") -> dict[str, Any]:
    """Okta Classic: the user tapped 'No, it's not me' / Deny in Okta Verify."""
    return log_event(
        "user.mfa.okta_verify.deny_push",
        when,
        login,
        ip,
        place,
        seed=seed,
        result="FAILURE",
        reason="INVALID_CREDENTIALS",
        display_message="User rejected Okta push verify",
    )


def session_start(when: datetime, login: str, ip: str, place: str, seed: str = "") -> dict[str, Any]:
    return log_event(
        "user.session.start", when, login, ip, place, seed=seed, display_message="User login to Okta"
    )
