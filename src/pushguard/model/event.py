"""The canonical, vendor-neutral Event every source produces."""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec


class Provider(enum.StrEnum):
    OKTA = "okta"
    ENTRA = "entra"
    DUO = "duo"
    OCSF = "ocsf"
    PUSHGUARD = "pushguard"  # events pushguard records itself (decide calls)


class EventKind(enum.StrEnum):
    # prompts and their outcomes
    PUSH_SENT = "push_sent"
    PUSH_APPROVED = "push_approved"
    PUSH_DENIED = "push_denied"
    PUSH_TIMEOUT = "push_timeout"
    FRAUD_REPORTED = "fraud_reported"
    # other factor verifications (not push)
    MFA_SUCCESS = "mfa_success"
    MFA_FAILURE = "mfa_failure"
    MFA_REQUIRED = "mfa_required"  # an interrupt asking for MFA, not a prompt
    # an interrupt asking for something else ("stay signed in?", a registered device, a new session):
    # neither a failure nor a success, and no detector's input
    SIGNIN_INTERRUPTED = "signin_interrupted"
    # primary sign-in
    SIGNIN_SUCCESS = "signin_success"
    SIGNIN_FAILURE = "signin_failure"
    ACCESS_BLOCKED = "access_blocked"  # policy / Conditional Access block
    # lifecycle
    FACTOR_ENROLLED = "factor_enrolled"
    FACTOR_REMOVED = "factor_removed"
    FACTOR_SUSPENDED = "factor_suspended"
    FACTORS_RESET = "factors_reset"
    BYPASS_ISSUED = "bypass_issued"  # bypass code / Temporary Access Pass
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_STATUS_CHANGED = "account_status_changed"
    SESSION_REVOKED = "session_revoked"
    PRIVILEGED_ACTION = "privileged_action"
    RISK_DETECTED = "risk_detected"  # vendor risk engine / threat detection
    DECISION = "decision"  # a pushguard decide call, recorded for later joining


# A successful authentication step: what profiles learn from and what posture counts as a sign-in.
SUCCESS_KINDS = frozenset({EventKind.PUSH_APPROVED, EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS})
PROMPT_KINDS = frozenset(
    {EventKind.PUSH_SENT, EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT}
)
PUSH_OUTCOME_KINDS = frozenset(
    {EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)


class Factor(enum.StrEnum):
    OKTA_VERIFY_PUSH = "okta_verify_push"
    OKTA_VERIFY_TOTP = "okta_verify_totp"
    OKTA_FASTPASS = "okta_fastpass"
    DUO_PUSH = "duo_push"
    PUSH = "push"  # a push notification whose vendor app is not known (OCSF, generic sources)
    MS_AUTHENTICATOR_PUSH = "ms_authenticator_push"
    MS_AUTHENTICATOR_OTP = "ms_authenticator_otp"
    MS_AUTHENTICATOR_PASSWORDLESS = "ms_authenticator_passwordless"
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    TOTP = "totp"
    HARDWARE_TOKEN = "hardware_token"
    WEBAUTHN = "webauthn"
    WINDOWS_HELLO = "windows_hello"
    CERTIFICATE = "certificate"
    PASSWORD = "password"
    SECURITY_QUESTION = "security_question"
    BYPASS_CODE = "bypass_code"
    TEMPORARY_ACCESS_PASS = "temporary_access_pass"
    REMEMBERED_DEVICE = "remembered_device"
    OTHER = "other"


# Factors that resist phishing (verifier-impersonation resistant, SP 800-63B 5.2.5).
PHISHING_RESISTANT_FACTORS = frozenset(
    {Factor.WEBAUTHN, Factor.WINDOWS_HELLO, Factor.CERTIFICATE, Factor.OKTA_FASTPASS}
)
PUSH_FACTORS = frozenset(
    {Factor.OKTA_VERIFY_PUSH, Factor.DUO_PUSH, Factor.MS_AUTHENTICATOR_PUSH, Factor.PUSH}
)


class UserKind(enum.StrEnum):
    HUMAN = "human"
    NHI = "nhi"


class PrincipalType(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"
    SERVICE = "service"  # service principal, API token, app
    SYSTEM = "system"  # the IdP itself
    ADDRESS = "ip"  # only an IP is known (threat detections, spray)
    UNKNOWN = "unknown"


class GeoSource(enum.StrEnum):
    VENDOR = "vendor"
    MMDB = "mmdb"
    BUNDLED = "bundled"
    PRIVATE = "private"  # RFC 1918 / reserved: no location
    SIGNIN = "signin"  # the record had none: a sign-in of the same identity from the address placed it
    GAZETTEER = "gazetteer"  # the vendor named a city but gave no point: the bundled city list placed it


# gc=False on the event and its parts: frozen, made of strings, numbers, tuples and each other, so they
# cannot form a reference cycle; untracked, the hundreds of thousands alive in a run's reorder buffer
# no longer make every garbage collection walk them.
class Principal(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    """Who did something, or whose account it concerns."""

    id: str | None = None  # vendor's immutable id (Okta 00u…, Entra object id, Duo user key)
    login: str | None = None  # lowercase login / UPN / username
    display_name: str | None = None
    type: PrincipalType = PrincipalType.USER
    tenant: str | None = None
    # the address a record gives beside a login that differs from it (Duo ``email`` beside a short
    # ``user.name``): what the identity resolver (enrich.resolver) links the account by
    email: str | None = None


class Geo(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    lat: float | None = None
    lon: float | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    accuracy_km: float | None = None  # radius; None when unknown
    asn: int | None = None
    as_org: str | None = None
    is_proxy: bool | None = None  # vendor says proxy / anonymizer
    is_hosting: bool | None = None  # cloud / hosting / VPN egress ASN
    source: GeoSource = GeoSource.VENDOR


class Device(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    id: str | None = None
    name: str | None = None
    managed: bool | None = None
    compliant: bool | None = None
    registered: bool | None = None
    os: str | None = None
    browser: str | None = None
    user_agent: str | None = None
    kind: str | None = None  # Computer, Mobile, …


class RawRef(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    """Where the record came from: file and 1-based record number, or a stream id."""

    source: str
    position: int = 0
    vendor_type: str | None = None  # vendor's own event type / operation name


class Event(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    provider: Provider
    event_id: str
    time: datetime  # UTC, timezone-aware
    kind: EventKind
    identity: str  # canonical identity of the subject (alias map, else lowercase login)
    subject: Principal | None = None
    actor: Principal | None = None
    user_kind: UserKind = UserKind.HUMAN
    ip: str | None = None
    geo: Geo | None = None
    responder_ip: str | None = None
    responder_geo: Geo | None = None
    device: Device | None = None
    responder_device: Device | None = None
    app: str | None = None
    session_id: str | None = None
    interactive: bool | None = None  # False: a token / non-interactive sign-in (no person at a prompt)
    factor: Factor | None = None
    factor_id: str | None = None  # vendor id of the factor / authenticator enrollment concerned
    number_challenge: bool | None = None
    # True: the vendor says the sign-in needed one factor only (Entra authenticationRequirement
    # singleFactorAuthentication); False: it says MFA was required and met. None: not said.
    single_factor: bool | None = None
    legacy_protocol: str | None = None  # a legacy-auth client / protocol (Entra clientAppUsed: IMAP4, …)
    reason: str | None = None  # vendor outcome reason, normalized where it matters
    vendor_risk: str | None = None  # none | low | medium | high
    behaviors: tuple[str, ...] = ()  # vendor behaviour flags that were positive (new_device, …)
    detail: str | None = None  # e.g. which privileged action
    raw: RawRef | None = None
    # ``time`` as epoch seconds, derived on construction: detectors read it dozens of times per event and
    # datetime.timestamp() was a tenth of the engine's time. Any value given is replaced.
    ts: float = 0.0

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "ts", self.time.timestamp())

    @property
    def by_other(self) -> bool:
        """The actor is someone other than the subject (an admin, helpdesk, the system)."""
        if self.actor is None or self.subject is None:
            return False
        if self.actor.id and self.subject.id:
            return self.actor.id != self.subject.id
        return bool(self.actor.login and self.subject.login and self.actor.login != self.subject.login)

    def sort_key(self) -> tuple[datetime, str, str]:
        return (self.time, self.provider.value, self.event_id)
