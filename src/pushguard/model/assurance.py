"""The assurance a sign-in reached: the class of factor used and the SP 800-63B-4 AAL it gives.

Read from what the sources keep of each vendor's documented fields: ``Event.factor`` (Entra
``authenticationDetails[].authenticationMethod``, Okta ``debugData.factor`` / the authenticator enrollment,
Duo ``factor``, OCSF ``auth_factors``), ``Event.number_challenge`` (Okta OIE push answers, Duo
``verified_duo_push``, Entra's number-matching wording), ``Event.single_factor`` (Entra
``authenticationRequirement``) and ``Event.legacy_protocol`` (Entra ``clientAppUsed``).

AAL (SP 800-63B-4, section 2 and 3.1):
- a password (or any knowledge factor) alone is AAL1;
- an approve-only push is AAL1 as well: an out-of-band authenticator binds the two channels by a secret
  the claimant transfers or compares (3.1.3.1); an "Approve" button transfers none, which is why a push
  can be approved for someone else's sign-in;
- push with number matching, SMS/voice (restricted, 3.2.9), OTP apps and tokens: AAL2, not phishing
  resistant;
- FIDO2/WebAuthn, Okta FastPass, Windows Hello, certificates: phishing resistant (3.2.5), AAL2 here; AAL3
  needs a hardware-bound, non-exportable key, which no sign-in log shows (a synced passkey is AAL2);
- email codes: 63B-4 does not accept email as an out-of-band channel (3.1.3.1): AAL1.
"""

from __future__ import annotations

import enum

import msgspec

from pushguard.model.decision import Aal
from pushguard.model.event import SUCCESS_KINDS, Event, Factor


class FactorClass(enum.StrEnum):
    PASSWORD_ONLY = "password_only"
    EMAIL_CODE = "email_code"
    SMS_VOICE = "sms_voice"
    PUSH_APPROVE = "push_approve"
    PUSH_NUMBER_MATCH = "push_number_match"
    TOTP = "totp"
    PHISHING_RESISTANT = "phishing_resistant"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Strength, for choosing the strongest step of a session (unknown is the weakest claim)."""
        return _RANK[self]


_RANK = {
    FactorClass.UNKNOWN: 0,
    FactorClass.PASSWORD_ONLY: 1,
    FactorClass.EMAIL_CODE: 2,
    FactorClass.PUSH_APPROVE: 3,
    FactorClass.SMS_VOICE: 4,
    FactorClass.TOTP: 5,
    FactorClass.PUSH_NUMBER_MATCH: 6,
    FactorClass.PHISHING_RESISTANT: 7,
}

AAL_OF: dict[FactorClass, Aal | None] = {
    FactorClass.PASSWORD_ONLY: Aal.AAL1,
    FactorClass.EMAIL_CODE: Aal.AAL1,
    FactorClass.PUSH_APPROVE: Aal.AAL1,
    FactorClass.SMS_VOICE: Aal.AAL2,
    FactorClass.TOTP: Aal.AAL2,
    FactorClass.PUSH_NUMBER_MATCH: Aal.AAL2,
    FactorClass.PHISHING_RESISTANT: Aal.AAL2,
    FactorClass.UNKNOWN: None,
}

# Entra clientAppUsed values that are legacy authentication (no modern auth, so no MFA): the sign-in
# logs' "Client app" filter groups them under "Legacy Authentication Clients".
LEGACY_CLIENT_APPS = frozenset(
    {
        "authenticated smtp",
        "autodiscover",
        "exchange activesync",
        "exchange online powershell",
        "exchange web services",
        "imap",
        "imap4",
        "mapi over http",
        "offline address book",
        "other clients",
        "outlook anywhere (rpc over http)",
        "pop",
        "pop3",
        "reporting web services",
        "smtp",
        "universal outlook",
    }
)

_KNOWLEDGE = frozenset({Factor.PASSWORD, Factor.SECURITY_QUESTION})
_PUSH = frozenset({Factor.OKTA_VERIFY_PUSH, Factor.DUO_PUSH, Factor.PUSH})
_OTP = frozenset({Factor.OKTA_VERIFY_TOTP, Factor.MS_AUTHENTICATOR_OTP, Factor.TOTP, Factor.HARDWARE_TOKEN})
_RESISTANT = frozenset({Factor.WEBAUTHN, Factor.WINDOWS_HELLO, Factor.CERTIFICATE, Factor.OKTA_FASTPASS})
# Microsoft Authenticator: number matching is enforced for every push (since May 2023) and for phone
# sign-in, so these are number-matched even where the record does not say so.
_ALWAYS_MATCHED = frozenset({Factor.MS_AUTHENTICATOR_PUSH, Factor.MS_AUTHENTICATOR_PASSWORDLESS})


class Assurance(msgspec.Struct, frozen=True):
    factor_class: FactorClass
    aal: Aal | None  # None: not known from the record


def is_legacy_client(client_app: str | None) -> bool:
    return client_app is not None and client_app.strip().lower() in LEGACY_CLIENT_APPS


def factor_class(factor: Factor | None, number_challenge: bool | None = None) -> FactorClass:
    """The class of one factor (None: no factor named)."""
    if factor is None:
        return FactorClass.UNKNOWN
    if factor in _KNOWLEDGE:
        return FactorClass.PASSWORD_ONLY
    if factor in _RESISTANT:
        return FactorClass.PHISHING_RESISTANT
    if factor in _ALWAYS_MATCHED:
        return FactorClass.PUSH_NUMBER_MATCH
    if factor in _PUSH:
        return FactorClass.PUSH_NUMBER_MATCH if number_challenge else FactorClass.PUSH_APPROVE
    if factor in _OTP:
        return FactorClass.TOTP
    if factor in (Factor.SMS, Factor.VOICE):
        return FactorClass.SMS_VOICE
    if factor is Factor.EMAIL:
        return FactorClass.EMAIL_CODE
    return FactorClass.UNKNOWN  # bypass codes, TAP, remembered devices, OTHER


def assess(event: Event) -> Assurance:
    """The assurance one record shows. A legacy protocol, or Entra's ``singleFactorAuthentication`` with no
    second factor named, is a password alone whatever else the record says."""
    if event.legacy_protocol is not None:
        return Assurance(FactorClass.PASSWORD_ONLY, Aal.AAL1)
    cls = factor_class(event.factor, event.number_challenge)
    if cls is FactorClass.UNKNOWN:
        if event.single_factor is True:
            return Assurance(FactorClass.PASSWORD_ONLY, Aal.AAL1)
        if event.single_factor is False:
            # MFA was required and met, by a factor the record does not name (a claim in the token)
            return Assurance(FactorClass.UNKNOWN, Aal.AAL2)
    return Assurance(cls, AAL_OF[cls])


def strongest(first: Assurance, second: Assurance) -> Assurance:
    """A session's assurance: its strongest step (a password then a push is the push)."""
    if second.factor_class.rank > first.factor_class.rank:
        return second
    if second.factor_class is first.factor_class and first.aal is None:
        return second
    return first


SIGNIN_SUCCESS_KINDS = SUCCESS_KINDS  # a successful sign-in step, for posture: the detectors' own set
