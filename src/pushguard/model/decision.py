"""The Decision contract (DESIGN.md): what the inline decision point answers for a push or an enrollment.

Strength order (DESIGN.md, "Decision strength"): allow < number_match < throttle < step_up < deny. The
strictest enforced matching action wins. ``required_aal`` and ``phishing_resistant`` are separate: AAL2
does not imply phishing resistance."""

from __future__ import annotations

import enum
import ipaddress
from datetime import UTC, datetime
from typing import Annotated

import msgspec

from pushguard.model.event import Factor, Geo, Provider, UserKind


class DecisionAction(enum.StrEnum):
    ALLOW = "allow"
    NUMBER_MATCH = "number_match"
    THROTTLE = "throttle"
    STEP_UP = "step_up"
    DENY = "deny"

    @property
    def rank(self) -> int:
        """Strength: the higher, the stricter."""
        return _ACTION_RANK[self]


_ACTION_RANK = {
    DecisionAction.ALLOW: 0,
    DecisionAction.NUMBER_MATCH: 1,
    DecisionAction.THROTTLE: 2,
    DecisionAction.STEP_UP: 3,
    DecisionAction.DENY: 4,
}


class Operation(enum.StrEnum):
    PUSH = "push"  # a push prompt is about to be sent
    ENROLL = "enroll"  # a new authenticator is about to be enrolled


class AppSensitivity(enum.StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    PRIVILEGED = "privileged"


class Aal(enum.StrEnum):
    """SP 800-63B authenticator assurance level."""

    AAL1 = "AAL1"
    AAL2 = "AAL2"
    AAL3 = "AAL3"


# An RFC 3339 time with its zone, years 1000 to 9998, and a day its month has (29 February in leap years
# only): every text the pattern takes is a valid time, so a request the schema allows is never refused.
_YEAR = r"(1\d{3}|[2-8]\d{3}|9[0-8]\d{2}|99[0-8]\d|999[0-8])"
_LEAP_YEAR = r"([1-9]\d(0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26])00)"
_MONTH_DAY = r"((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))"
_CLOCK = r"[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
RFC3339_PATTERN = rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29){_CLOCK}$"
RequestTime = Annotated[
    datetime, msgspec.Meta(extra_json_schema={"pattern": RFC3339_PATTERN, "maxLength": 35})
]

# The bounds of a request's text fields (the schema carries them; decoding enforces them).
Identity = Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=r"\S")]  # not blank
IpText = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=64,
        pattern=r"^[0-9A-Za-z.:%_-]+$",  # digits, hex, dots and colons (and an IPv6 zone)
        extra_json_schema={"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        description="an IPv4 or IPv6 address",
    ),
]
ShortText = Annotated[str, msgspec.Meta(max_length=256)]
UserAgentText = Annotated[str, msgspec.Meta(max_length=2048)]


class DecisionRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A push (or enrollment) about to happen. ``time`` is the request's own UTC time: decide reads no
    clock, so the same request over the same state gives the same decision (backtests replay it)."""

    operation: Operation
    identity: Identity  # the login/UPN: lowercased and trimmed here, as the sources do; callers alias it
    time: RequestTime  # timezone-aware
    ip: IpText | None = None
    user_agent: UserAgentText | None = None
    device_id: ShortText | None = None
    # the requesting client's operating system and browser as the IdP names them (else parsed from
    # user_agent): the familiarity judgement compares them with the ones the person succeeded from
    device_os: ShortText | None = None
    device_browser: ShortText | None = None
    device_managed: bool | None = None
    device_compliant: bool | None = None
    app: ShortText | None = None
    app_sensitivity: AppSensitivity = AppSensitivity.NORMAL
    factor: Factor | None = None  # the factor about to be used (push) or enrolled (enroll)
    provider: Provider | None = None
    geo: Geo | None = None
    user_kind: UserKind = UserKind.HUMAN  # the caller's (or the NHI classifier's) view of the identity

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError("time must carry a time zone (UTC, e.g. 2026-03-02T09:00:00Z)")
        try:
            self.time.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
            raise ValueError("time is out of range once converted to UTC (years 1 to 9999)") from None
        canonical = self.identity.strip().lower()
        if not canonical:
            raise ValueError("identity must not be empty")
        if self.ip is not None:
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                raise ValueError("ip must be an IPv4 or IPv6 address") from None
        if canonical != self.identity:  # YUKI.WRIGHT@… and yuki.wright@… are one identity's history
            msgspec.structs.force_setattr(self, "identity", canonical)


class Reason(msgspec.Struct, frozen=True):
    code: str
    message: str


class MatchedRule(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    action: DecisionAction
    report_only: bool = False  # listed, never enforced
    risk: int | None = None


SignalValue = bool | int | float | str | list[str]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    decision: DecisionAction
    risk: int  # 0..100
    reasons: tuple[Reason, ...]
    required_aal: Aal
    phishing_resistant: bool
    matched_rules: tuple[MatchedRule, ...]
    policy_version: str
    report_only: bool  # the whole policy runs in report-only mode: callers log, they do not enforce
    evaluated_at: str  # RFC 3339 UTC: the request's time, not the wall clock
    signals: dict[str, SignalValue]  # the variables the policy's rules read, with their values
    fallback: bool = False  # the policy's fallback was applied (an evaluation or store error)
