"""Enrollment abuse: a factor registered in circumstances an attacker creates, weighted into one score.

Attackers who cannot win a push enroll their own authenticator: right after bombing the victim or after
prompts were refused, from a country the identity never used, on hosting egress, several factors at once,
on an account dormant for weeks, or through an admin/helpdesk who registers it for someone else. Each
alone is ordinary (people buy phones, helpdesks re-enroll lost ones); the score needs several. Medium at
``min_score``, high at ``high_score``, critical at ``critical_score`` or when a new country meets two or
more refused or unanswered prompts. A denial or fraud report counts within ``denied_before_s``; a prompt
left to time out (Okta logs none: a push sent and never answered) only within ``one_refusal_s``, as
hours earlier it is a phone out of reach, not a bombing. A country or network first succeeded from
within ``fresh_place_s`` is still new: the attacker's own approval must not vouch for the place the
enrollment then comes from. The responder removes *that* factor (the finding names its id), not every
factor of the user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import (
    SUCCESS_KINDS,
    Detection,
    DetectorMeta,
    Tunable,
    append_bounded,
    kinds,
    settings,
)
from pushguard.detect.episode import REFUSAL_WEIGHT, Episode, Refusal, continue_or_open, live
from pushguard.detect.geo import is_hosting, place_text
from pushguard.model import Event, EventKind, IdentityProfile, Severity


class FreshPlace(msgspec.Struct, array_like=True):
    """A country or network the identity first succeeded from at ``ts``: the attacker's own approval
    must not vouch for the place the enrollment then comes from."""

    ts: int
    country: str
    asn: int  # 0: not known


class EnrollmentState(msgspec.Struct, kw_only=True):
    episode: Episode | None = None
    fresh: list[FreshPlace] = []  # the last MAX_FRESH, oldest first
    refusals: list[Refusal] = []  # the last MAX_REFUSALS, oldest first


MAX_FRESH = 8
MAX_REFUSALS = 16


META = DetectorMeta(
    id="enrollment_abuse",
    title="Suspicious MFA factor enrollment",
    description=(
        "A factor registration scored on (weights in brackets): refused or unanswered prompts before "
        "it, two or more (3) or one within one_refusal_s (2): denials within denied_before_s, timeouts "
        "and Okta pushes never answered within one_refusal_s only; a country new to "
        "the identity or first succeeded from within fresh_place_s (3: an attacker's own approval does "
        "not vouch for it); a new device (1); hosting/VPN egress it never used or first used within "
        "fresh_place_s (1); other enrollments within several_s (2); "
        "dormancy, no activity for dormant_s (2); registered by someone else, an admin or helpdesk (2); a "
        "reset, bypass code or Temporary Access Pass within reset_before_s (2). Medium at min_score, high "
        "at high_score, critical at critical_score or when a new country meets two or more refusals."
    ),
    severity=Severity.HIGH,
    techniques=("T1098.005", "T1556.006"),
    frameworks={
        "nist_csf_2": ("PR.AA-01", "PR.AA-02", "PR.AA-03", "DE.CM-03"),
        "sp800_63b": (
            "6.1.2.1 binding additional authenticators",
            "6.1.2.3 replacement of a lost authenticator",
        ),
        "owasp_nhi": (),
    },
    tunables={
        "denied_before_s": Tunable(6 * 3600, "denials / fraud reports this long before count"),
        "one_refusal_s": Tunable(
            3600, "timeouts count only this close, and so does a single denial (a fat finger)"
        ),
        "several_s": Tunable(3600, "other enrollments this close make it several at once"),
        "dormant_s": Tunable(30 * 86400, "no activity this long before the enrollment is dormancy"),
        "reset_before_s": Tunable(24 * 3600, "a reset / bypass / TAP this long before counts"),
        "min_history": Tunable(5, "past successes before a country or device can be new"),
        "fresh_place_s": Tunable(
            24 * 3600, "a country or network first succeeded from this recently still counts as new"
        ),
        "min_score": Tunable(4, "score that fires (medium)"),
        "high_score": Tunable(6, "score that makes it high"),
        "critical_score": Tunable(8, "score that makes it critical"),
        "episode_gap_s": Tunable(24 * 3600, "enrollments this close together are one finding"),
    },
    actions=(
        "Remove the factor named in the evidence (not the user's other factors) and revoke sessions.",
        "Confirm with the user, out of band and through a known channel, whether they enrolled it.",
        "Require an existing phishing-resistant factor or a second person's approval for re-enrollment.",
    ),
    watches=kinds(SUCCESS_KINDS, REFUSAL_WEIGHT, (EventKind.FACTOR_ENROLLED,)),
)

_WEIGHTS = {
    "refusals": 3,
    "refusal": 2,
    "new_country": 3,
    "new_device": 1,
    "hosting": 1,
    "several": 2,
    "dormant": 2,
    "by_other": 2,
    "after_reset": 2,
}


class EnrollmentAbuse:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = EnrollmentState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.denied_before_s = float(cfg["denied_before_s"])
        self.one_refusal_s = float(cfg["one_refusal_s"])
        self.several_s = float(cfg["several_s"])
        self.dormant_s = float(cfg["dormant_s"])
        self.reset_before_s = float(cfg["reset_before_s"])
        self.min_history = int(cfg["min_history"])
        self.fresh_s = float(cfg["fresh_place_s"])
        self.min_score = int(cfg["min_score"])
        self.high_score = int(cfg["high_score"])
        self.critical_score = int(cfg["critical_score"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> EnrollmentState:
        return EnrollmentState()

    def observe(
        self, state: EnrollmentState, event: Event, profile: IdentityProfile
    ) -> tuple[EnrollmentState, list[Detection]]:
        if event.kind in SUCCESS_KINDS:
            self._note_fresh_place(state, event, profile)
            return state, []
        weight = REFUSAL_WEIGHT.get(event.kind)
        if weight is not None:
            append_bounded(state.refusals, Refusal(int(event.ts), weight), MAX_REFUSALS)
            return state, []
        if event.kind is not EventKind.FACTOR_ENROLLED:
            return state, []
        fresh = [place for place in state.fresh if 0 <= event.ts - place.ts <= self.fresh_s]
        signals = self.signals(event, profile, fresh, state.refusals)
        score = sum(_WEIGHTS[name] for name in signals)
        if score < self.min_score:
            return state, []
        if score >= self.critical_score or ("new_country" in signals and "refusals" in signals):
            severity = Severity.CRITICAL
        elif score >= self.high_score:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        now = event.ts
        episode = state.episode = continue_or_open(state.episode, event, self.gap_s)
        if not episode.escalates_to(severity):
            return state, []
        factor = event.factor.value if event.factor else "a factor"
        reasons = [
            f"{factor} enrolled (score {score}, fires at {self.min_score}): " + "; ".join(signals.values())
        ]
        if event.factor_id:
            reasons.append(f"the enrolled factor's id: {event.factor_id} (remove this one)")
        reasons.append(f"from {place_text(event.geo, event.ip)}")
        title = f"Suspicious enrollment of {factor}: " + ", ".join(n.replace("_", " ") for n in signals)
        confidence = min(0.9, 0.4 + 0.06 * score)
        return state, [
            episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, now)
        ]

    def advance(self, state: EnrollmentState, watermark: float) -> tuple[EnrollmentState, list[Detection]]:
        state.episode = live(state.episode, watermark, self.gap_s)
        if state.fresh and watermark - state.fresh[-1].ts > self.fresh_s:
            state.fresh = []
        if state.refusals and watermark - state.refusals[-1].ts > self.denied_before_s:
            state.refusals = []
        return state, []

    def _note_fresh_place(self, state: EnrollmentState, event: Event, profile: IdentityProfile) -> None:
        """A success from a country or network the profile does not know yet (judged before it learns)."""
        geo = event.geo
        if geo is None or len(profile.successes) < self.min_history:
            return
        new_country = bool(geo.country) and not profile.knows_country(geo.country)
        new_asn = geo.asn is not None and not profile.knows_asn(geo.asn)
        if new_country or new_asn:
            country = geo.country if new_country and geo.country else ""
            asn = geo.asn if new_asn and geo.asn is not None else 0
            append_bounded(state.fresh, FreshPlace(int(event.ts), country, asn), MAX_FRESH)

    def signals(
        self,
        event: Event,
        profile: IdentityProfile,
        fresh: Sequence[FreshPlace] = (),
        refusals: Sequence[Refusal] | None = None,
    ) -> dict[str, str]:
        """Signal name → the sentence a reader gets (also used by the enrollment review). ``fresh``:
        places the identity first succeeded from within fresh_place_s (still new to it)."""
        now = event.ts
        found: dict[str, str] = {}
        # a prompt left to expire is a phone out of reach as often as an ignored attack: only close by
        unanswered = _unanswered(profile, now, self.one_refusal_s)
        if refusals is None:  # without the detector's own state: the profile cannot tell timeouts apart
            refused = [ts for ts in profile.denials if 0 <= now - ts <= self.denied_before_s]
        else:
            refused = [r.ts for r in refusals if r.weight >= 2 and 0 <= now - r.ts <= self.denied_before_s]
            unanswered += sum(1 for r in refusals if r.weight == 1 and 0 <= now - r.ts <= self.one_refusal_s)
        if len(refused) + unanswered >= 2:
            found["refusals"] = (
                f"{len(refused) + unanswered} prompts refused or unanswered before it"
                f" ({len(refused)} refused in {self.denied_before_s / 3600:.0f} h, {unanswered} unanswered"
                f" in {self.one_refusal_s / 60:.0f} min)"
            )
        elif refused and now - refused[-1] <= self.one_refusal_s:
            found["refusal"] = f"a prompt refused {(now - refused[-1]) / 60:.0f} min before"
        elif unanswered:
            found["refusal"] = f"a prompt left unanswered in the {self.one_refusal_s / 60:.0f} min before"
        history = len(profile.successes) >= self.min_history
        geo, device = event.geo, event.device
        if history and geo is not None and geo.country:
            first = next((p for p in fresh if p.country == geo.country), None)
            if not profile.knows_country(geo.country):
                found["new_country"] = f"from {geo.country}, a country this identity never succeeded from"
            elif first is not None:
                found["new_country"] = (
                    f"from {geo.country}, a country this identity first succeeded from "
                    f"{(now - first.ts) / 60:.0f} min before"
                )
        if (
            history
            and device is not None
            and device.id
            and profile.devices
            and not profile.knows_device(device.id)
        ):
            found["new_device"] = f"on device {device.id}, new to this identity"
        known_asn = (
            geo is not None
            and profile.knows_asn(geo.asn)
            and not any(p.asn and p.asn == geo.asn for p in fresh)
        )
        if is_hosting(geo) and not known_asn:
            found["hosting"] = "through hosting / VPN / proxy egress the identity never used"
        others = [ts for ts in profile.enrollments if 0 <= now - ts <= self.several_s]
        if others:
            found["several"] = f"{len(others) + 1} factors enrolled within {self.several_s / 60:.0f} min"
        if profile.events and now - profile.last_seen >= self.dormant_s:
            found["dormant"] = f"the identity was inactive for {(now - profile.last_seen) / 86400:.0f} days"
        if event.by_other:
            who = event.actor.login or event.actor.id if event.actor else None
            found["by_other"] = f"registered by {who or 'another account'} for this identity"
        resets = [ts for ts in profile.resets if 0 <= now - ts <= self.reset_before_s]
        if resets:
            found["after_reset"] = f"{(now - resets[-1]) / 60:.0f} min after a reset / bypass / access pass"
        return found


def _unanswered(profile: IdentityProfile, now: float, window: float) -> int:
    """Pushes sent in the window that no answer matches: Okta logs nothing for a push left to expire
    (Entra and Duo log the timeout itself, and no send, so this is 0 for them)."""

    def within(times: list[int]) -> int:
        return sum(1 for ts in times if 0 <= now - ts <= window)

    return max(0, within(profile.prompts) - within(profile.approvals) - within(profile.denials))
