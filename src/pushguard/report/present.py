"""Words and times as a security lead reads them: human names for factors and event kinds, local times
with UTC on hover (one precision, the second), and the detectors' internal scoring taken out of reasons.

Everything here is presentation: the findings themselves keep their exact wording (JSON Lines, OCSF)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from markupsafe import Markup, escape

from pushguard.detect.registry import META_BY_ID
from pushguard.model import Device, Event, EventKind, Factor

FACTOR_NAMES: dict[str, str] = {
    Factor.OKTA_VERIFY_PUSH: "Okta Verify push",
    Factor.OKTA_VERIFY_TOTP: "Okta Verify code",
    Factor.OKTA_FASTPASS: "Okta FastPass",
    Factor.DUO_PUSH: "Duo push",
    Factor.PUSH: "push",
    Factor.MS_AUTHENTICATOR_PUSH: "Microsoft Authenticator push",
    Factor.MS_AUTHENTICATOR_OTP: "Microsoft Authenticator code",
    Factor.MS_AUTHENTICATOR_PASSWORDLESS: "Microsoft Authenticator passwordless",
    Factor.SMS: "SMS",
    Factor.VOICE: "voice call",
    Factor.EMAIL: "email",
    Factor.TOTP: "authenticator code",
    Factor.HARDWARE_TOKEN: "hardware token",
    Factor.WEBAUTHN: "security key / passkey",
    Factor.WINDOWS_HELLO: "Windows Hello",
    Factor.CERTIFICATE: "certificate",
    Factor.PASSWORD: "password",
    Factor.SECURITY_QUESTION: "security question",
    Factor.BYPASS_CODE: "bypass code",
    Factor.TEMPORARY_ACCESS_PASS: "Temporary Access Pass",
    Factor.REMEMBERED_DEVICE: "remembered device",
    Factor.OTHER: "other factor",
}
PROVIDER_NAMES = {"okta": "Okta", "entra": "Entra ID", "duo": "Duo", "ocsf": "OCSF", "pushguard": "pushguard"}
_KIND_WORDS: dict[EventKind, str] = {
    EventKind.PUSH_SENT: "push sent",
    EventKind.PUSH_APPROVED: "push approved",
    EventKind.PUSH_DENIED: "push denied",
    EventKind.PUSH_TIMEOUT: "push unanswered",
    EventKind.FRAUD_REPORTED: "reported as fraud",
    EventKind.MFA_SUCCESS: "MFA passed",
    EventKind.MFA_FAILURE: "MFA failed",
    EventKind.SIGNIN_SUCCESS: "sign-in succeeded",
    EventKind.SIGNIN_FAILURE: "sign-in failed",
    EventKind.ACCESS_BLOCKED: "access blocked by policy",
    EventKind.FACTOR_ENROLLED: "factor enrolled",
    EventKind.FACTOR_REMOVED: "factor removed",
    EventKind.FACTORS_RESET: "factors reset",
    EventKind.BYPASS_ISSUED: "bypass code / access pass issued",
    EventKind.PASSWORD_RESET: "password reset",
    EventKind.SESSION_REVOKED: "sessions revoked",
    EventKind.PRIVILEGED_ACTION: "privileged action",
}
_FACTOR_PATTERN = re.compile(
    r"\b(" + "|".join(sorted((str(f) for f in FACTOR_NAMES), key=len, reverse=True)) + r")\b"
)
_DETECTOR_PATTERN = re.compile(r"\b(" + "|".join(sorted(META_BY_ID, key=len, reverse=True)) + r")\b")
# The detectors' scoring, useful to whoever tunes them (it stays in the findings), noise to a reader.
_JARGON = (
    (re.compile(r"\s*\(score \d+, fires at \d+\)"), ""),
    (re.compile(r"context score \d+ \(fires at \d+\): "), "new here: "),
    (re.compile(r"; weight \d+\)"), ")"),
    (re.compile(r" \(weight \d+: [^)]*\)"), ""),
    (re.compile(r"\bip:(?=[0-9a-fA-F.:]+\b)"), ""),
    (re.compile(r"\basn:(?=\d)"), "AS"),
)


def plain(text: str) -> str:
    """A reason or title without scores and thresholds, with the names a reader knows for factors and
    detectors ("push_bombing finding open" → "Push bombing (MFA fatigue burst) finding open")."""
    for pattern, replacement in _JARGON:
        text = pattern.sub(replacement, text)
    text = _FACTOR_PATTERN.sub(lambda m: FACTOR_NAMES.get(m.group(1), m.group(1)), text)
    return _DETECTOR_PATTERN.sub(lambda m: META_BY_ID[m.group(1)].title, text)


def identity_label(identity: str) -> str:
    """``ip:…`` / ``asn:…`` identities are attack sources, not people."""
    if identity.startswith("ip:"):
        return f"source {identity[3:]}"
    if identity.startswith("asn:"):
        return f"network AS{identity[4:]}"
    return identity


def is_source(identity: str) -> bool:
    return identity.startswith(("ip:", "asn:"))


def confidence_words(confidence: float) -> str:
    if confidence >= 0.85:
        return "strong evidence"
    if confidence >= 0.65:
        return "likely"
    return "possible"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def when(moment: datetime | str) -> Markup:
    """A ``<time>``: UTC to the second as text (the page's script turns it into the reader's local time)
    and the UTC moment on hover. Never broken across lines (the stylesheet keeps ``time`` whole)."""
    value = parse_time(moment) if isinstance(moment, str) else moment.astimezone(UTC)
    iso = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    utc = value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, utc, utc)


_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def times(text: str) -> Markup:
    """``text`` escaped, each ISO UTC moment in it shown as ``when`` shows it."""
    moments = _ISO_MOMENT.findall(text)
    out = Markup("")
    for index, part in enumerate(_ISO_MOMENT.split(text)):
        out += escape(part)
        if index < len(moments):
            out += when(moments[index])
    return out


def breakable(text: str) -> Markup:
    """An e-mail-like identity that may wrap before its ``@`` rather than anywhere."""
    return Markup("<wbr>@").join(escape(part) for part in text.split("@"))


def device_text(device: Device | None) -> str:
    if device is None:
        return ""
    parts = [device.name, device.os, device.browser]
    text = " · ".join(dict.fromkeys(p for p in parts if p))
    if device.managed:
        text += " (managed)"
    return text


def event_words(event: Event) -> str:
    """What happened, naming the privileged action, the factor and who acted on someone else."""
    words = _KIND_WORDS.get(event.kind, event.kind.value.replace("_", " "))
    if event.kind is EventKind.PRIVILEGED_ACTION and event.detail:
        words = f"{words}: {event.detail}"
    elif event.factor is not None and event.kind in (
        EventKind.FACTOR_ENROLLED,
        EventKind.FACTOR_REMOVED,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_SENT,
    ):
        words = f"{words} ({FACTOR_NAMES.get(event.factor, event.factor.value)})"
    if event.app and event.kind in (EventKind.SIGNIN_SUCCESS, EventKind.SIGNIN_FAILURE):
        words = f"{words} to {event.app}"
    if event.by_other and event.actor is not None:
        words = f"{words}, by {event.actor.login or event.actor.id}"
    return words


def place_text(event: Event) -> str:
    geo = event.geo
    if geo is None:
        return ""
    place = ", ".join(x for x in (geo.city, geo.country) if x)
    if geo.is_hosting or geo.is_proxy:
        place = f"{place} (hosting/VPN)" if place else "hosting/VPN"
    return place
