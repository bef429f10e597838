"""The variables a policy rule can read: typed values computed from (request, profile), no clock.

``VARIABLES`` is the single source of truth: name → (CEL type, description). The linter checks rules
against it, ``compute_signals`` produces exactly these names, and the docs print it. Time is the request's
own time; every "last N" window ends at it, and profile entries later than it are ignored (a backtest
replays an old request over newer state without seeing the future)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from typing import Final

from pushguard.decide.context import familiarity
from pushguard.detect.familiarity import THIN_DAYS
from pushguard.model import (
    PHISHING_RESISTANT_FACTORS,
    PUSH_FACTORS,
    DecisionRequest,
    IdentityProfile,
    Seen,
    SignalValue,
    UserKind,
)
from pushguard.model.assurance import AAL_OF, factor_class

NEVER_MINUTES: Final = 10_000_000  # "minutes since" when there is no such event (≈ 19 years)
OPEN_FINDING_WINDOW_S: Final = 24 * 3600.0  # a finding reported this long before the request still counts
FRAUD_WINDOW_S: Final = 7 * 24 * 3600.0
# Detectors whose finding means "the user reported a push as fraud" (detect/fraud_report.py). The profile
# does not keep fraud reports apart from denials, so this is how the signal reads them.
FRAUD_DETECTORS: Final = frozenset({"fraud_report"})
# A finding of this detector (an NHI did interactive MFA) marks the identity as non-human for good.
NHI_DETECTORS: Final = frozenset({"nhi_interactive_mfa"})

# CEL types used in the table: bool, int, double, string, list(string).
VARIABLES: Final[dict[str, tuple[str, str]]] = {
    # -- the request -------------------------------------------------------------------------------
    "operation": ("string", "what is about to happen: 'push' or 'enroll'"),
    "identity": ("string", "canonical identity of the subject"),
    "provider": ("string", "IdP: okta | entra | duo | ocsf | pushguard; '' when not given"),
    "app": ("string", "application the push is for; '' when not given"),
    "app_sensitivity": ("string", "'normal' | 'high' | 'privileged'"),
    "factor": ("string", "factor about to be used (push) or enrolled (enroll); '' when not given"),
    "factor_is_push": ("bool", "the factor is a push notification (Okta Verify, Duo, Microsoft, generic)"),
    "factor_phishing_resistant": (
        "bool",
        "the factor is phishing resistant (WebAuthn, Hello, PKI, FastPass)",
    ),
    "factor_class": (
        "string",
        "class of the factor (model.assurance): password_only | email_code | sms_voice | push_approve | "
        "push_number_match | totp | phishing_resistant | unknown; a push is push_approve until number "
        "matching is applied ('' when no factor is given)",
    ),
    "factor_aal": (
        "string",
        "the SP 800-63B-4 AAL the session reaches with this factor after a password: AAL1 | AAL2 ('' when "
        "not known); an approve-only push is AAL1 (no secret binds the prompt to the sign-in)",
    ),
    "ip": ("string", "client IP of the request; '' when not given"),
    "country": ("string", "ISO country of the request's geo; '' when unknown"),
    "asn": ("int", "autonomous system of the request's geo; 0 when unknown"),
    "hosting_asn": ("bool", "the request comes from a hosting / VPN / proxy network (geo flags)"),
    "device_managed": ("bool", "the device is managed (MDM); false when unknown"),
    "device_compliant": ("bool", "the device is compliant; false when unknown"),
    "is_nhi": (
        "bool",
        "non-human identity (service account, workload): the request's user_kind, or an earlier "
        + "/".join(sorted(NHI_DETECTORS))
        + " finding",
    ),
    # -- the identity's history (profile) -----------------------------------------------------------
    "has_history": ("bool", "one successful authentication is known: 'new_*' mean something"),
    "new_country": ("bool", "has_history and the request's country was never seen in a success"),
    "new_asn": ("bool", "has_history and the request's ASN was never seen in a success"),
    "new_ip": ("bool", "has_history and the request's IP was never seen in a success"),
    "new_device": ("bool", "has_history and the request's device id was never seen in a success"),
    # -- familiarity: the detectors' own judgement of the requesting side (detect/familiarity.py) ----
    "context_level": (
        "string",
        "'familiar' (the person's own network or registered device, or their browser at their own "
        "operator), 'partly' (some of it is theirs or the organisation's), 'unfamiliar' (none of it is, "
        "or only a browser, which anyone can claim, with hostile signs)",
    ),
    "familiar_network": (
        "bool",
        "the address or its /24 is one the person came back to (two successes, the first 4 hours "
        "before), or one the organisation uses (5 colleagues, or the configured allow-list)",
    ),
    "familiar_device": ("bool", "the device id is a registered device the person came back to"),
    "familiar_browser": (
        "bool",
        "the person's own device, or the operating system and browser they came back to (claimable)",
    ),
    "org_network": (
        "bool",
        "the organisation uses this network (office, gateway, allow-list), whether or not the person does",
    ),
    "hostile_context": (
        "bool",
        "a country nobody in the organisation signs in from, or hosting/VPN egress nobody here uses",
    ),
    "history_days": ("int", "UTC days with a successful authentication (the profile's active days)"),
    "thin_history": (
        "bool",
        f"fewer than {THIN_DAYS} days with a success: too little history for 'new' to mean much",
    ),
    "context": ("string", "the familiarity judgement in words, for a rule's message"),
    "prompts_last_10m": ("int", "pushes sent to the identity in the 10 minutes before the request"),
    "prompts_last_hour": ("int", "pushes sent in the hour before the request"),
    "prompts_since_success": ("int", "pushes sent since the last successful authentication"),
    "denials_last_hour": ("int", "denied / timed-out / fraud-reported pushes in the last hour"),
    "denials_last_day": ("int", "denied / timed-out / fraud-reported pushes in the last 24 hours"),
    "approvals_last_day": ("int", "approved pushes in the last 24 hours"),
    "minutes_since_last_success": ("int", f"minutes since the last success; {NEVER_MINUTES} when none"),
    "minutes_since_last_reset": (
        "int",
        f"minutes since the last factor/password reset or bypass/TAP issued; {NEVER_MINUTES} when none",
    ),
    "minutes_since_last_enrollment": (
        "int",
        f"minutes since the last factor enrolled; {NEVER_MINUTES} when none",
    ),
    "open_findings": ("int", "findings about the identity reported in the 24 hours before the request"),
    "open_finding_max_severity": (
        "int",
        "highest severity of those findings: 0 info (or none), 1 low, 2 medium, 3 high, 4 critical",
    ),
    "open_detectors": ("list(string)", "ids of the detectors with such a finding, e.g. 'push_bombing'"),
    "fraud_reported_recently": (
        "bool",
        "a fraud report finding ("
        + ", ".join(sorted(FRAUD_DETECTORS))
        + ") in the 7 days before the request",
    ),
}


def _count_between(times: Sequence[float], start: float, end: float) -> int:
    """Entries of a time-ordered ring within [start, end]."""
    return bisect_right(times, end) - bisect_left(times, start)


def _minutes_since(times: Sequence[float], now: float) -> int:
    index = bisect_right(times, now)
    if index == 0:
        return NEVER_MINUTES
    return int((now - times[index - 1]) // 60)


def compute_signals(
    request: DecisionRequest, profile: IdentityProfile, org: int | None = None
) -> dict[str, SignalValue]:
    """Every variable of ``VARIABLES`` for this request over this profile (read only, never mutated);
    ``org``: the ORG_* bits the organisation table gives the request's network (None: the profile's
    own ``org``, which is 0 outside the engine)."""
    now = request.time.timestamp()
    judged = familiarity(request, profile, org)
    geo = request.geo
    country = (geo.country or "") if geo is not None else ""
    asn = (geo.asn or 0) if geo is not None else 0
    hosting = bool(geo is not None and (geo.is_hosting or geo.is_proxy))
    factor = request.factor
    assurance_class = factor_class(factor)
    aal = AAL_OF[assurance_class]
    history = _has_history(profile, now)
    last_success = _last_success(profile, now)
    prompts = profile.prompts
    since_success = (
        _count_between(prompts, last_success + 1e-6, now)
        if last_success is not None
        else _count_between(prompts, float("-inf"), now)
    )
    max_severity = 0
    detectors: list[str] = []
    fraud = False
    for detector, (rank, at) in _findings(profile):
        if at > now:
            continue
        if now - at <= FRAUD_WINDOW_S and detector in FRAUD_DETECTORS:
            fraud = True
        if now - at <= OPEN_FINDING_WINDOW_S:
            detectors.append(detector)
            max_severity = max(max_severity, int(rank))
    detectors.sort()
    return {
        "operation": request.operation.value,
        "identity": request.identity,
        "provider": request.provider.value if request.provider is not None else "",
        "app": request.app or "",
        "app_sensitivity": request.app_sensitivity.value,
        "factor": factor.value if factor is not None else "",
        "factor_is_push": factor in PUSH_FACTORS,
        "factor_phishing_resistant": factor in PHISHING_RESISTANT_FACTORS,
        "factor_class": assurance_class.value if factor is not None else "",
        "factor_aal": aal.value if factor is not None and aal is not None else "",
        "ip": request.ip or "",
        "country": country,
        "asn": asn,
        "hosting_asn": hosting,
        "device_managed": bool(request.device_managed),
        "device_compliant": bool(request.device_compliant),
        "is_nhi": request.user_kind is UserKind.NHI or any(d in profile.open_findings for d in NHI_DETECTORS),
        "has_history": history,
        "new_country": history and bool(country) and not _known(profile.countries, country, now),
        "new_asn": history and asn != 0 and not _known(profile.asns, str(asn), now),
        "new_ip": history and bool(request.ip) and not _known(profile.ips, request.ip or "", now),
        "new_device": history
        and bool(request.device_id)
        and not _known(profile.devices, request.device_id or "", now),
        "context_level": judged.level.name.lower(),
        "familiar_network": judged.network == "own",
        "familiar_device": judged.device == "own",
        "familiar_browser": judged.device in ("own", "agent"),
        "org_network": judged.org_network,
        "hostile_context": judged.hostile,
        "history_days": profile.active_days,
        "thin_history": judged.thin,
        "context": judged.describe(),
        "prompts_last_10m": _count_between(prompts, now - 600, now),
        "prompts_last_hour": _count_between(prompts, now - 3600, now),
        "prompts_since_success": since_success,
        "denials_last_hour": _count_between(profile.denials, now - 3600, now),
        "denials_last_day": _count_between(profile.denials, now - 86400, now),
        "approvals_last_day": _count_between(profile.approvals, now - 86400, now),
        "minutes_since_last_success": (
            int((now - last_success) // 60) if last_success is not None else NEVER_MINUTES
        ),
        "minutes_since_last_reset": _minutes_since(profile.resets, now),
        "minutes_since_last_enrollment": _minutes_since(profile.enrollments, now),
        "open_findings": len(detectors),
        "open_finding_max_severity": max_severity,
        "open_detectors": detectors,
        "fraud_reported_recently": fraud,
    }


def _findings(profile: IdentityProfile) -> list[tuple[str, tuple[float, float]]]:
    found: list[tuple[str, tuple[float, float]]] = []
    for detector, entry in profile.open_findings.items():
        if len(entry) >= 2:
            found.append((detector, (entry[0], entry[1])))
    return found


def _known(seen: Mapping[str, Seen], key: str, now: float) -> bool:
    """Known before the request: a value first learnt after it is still new at the request's time."""
    at = seen.get(key)
    return at is not None and at.first <= now


def _last_success(profile: IdentityProfile, now: float) -> float | None:
    if profile.last_success is not None and profile.last_success <= now:
        return profile.last_success
    index = bisect_right(profile.successes, now)
    return profile.successes[index - 1] if index else None


def _has_history(profile: IdentityProfile, now: float) -> bool:
    return _last_success(profile, now) is not None


def risk_score(signals: dict[str, SignalValue]) -> int:
    """A 0..100 score from the signals, used when no matched rule states its own risk. Additive and
    explainable on purpose: each term is a reason an analyst would give."""

    def num(name: str) -> int:
        value = signals.get(name, 0)
        return int(value) if isinstance(value, int | float) else 0

    def flag(name: str) -> bool:
        return signals.get(name) is True

    score = 0
    score += min(num("prompts_since_success"), 10) * 4  # unresolved pushes: up to 40
    score += min(num("denials_last_hour"), 5) * 5  # denials: up to 25
    score += 15 if flag("new_country") else 0
    score += 5 if flag("new_asn") else 0
    score += 5 if flag("new_device") else 0
    score += 5 if flag("hosting_asn") else 0
    if num("open_findings"):
        score += 10 + num("open_finding_max_severity") * 10  # up to 50
    score += 30 if flag("fraud_reported_recently") else 0
    score += 20 if flag("is_nhi") else 0
    if signals.get("operation") == "enroll" and num("minutes_since_last_reset") < 24 * 60:
        score += 20
    return max(0, min(100, score))
