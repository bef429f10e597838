"""Enrollment abuse: a factor registered in circumstances an attacker creates, weighted into one score.

Attackers who cannot win a push enroll their own authenticator: right after bombing the victim or after
prompts were refused, from a context that is neither the person's nor the organisation's, several factors
at once, on an account dormant for weeks, or through an admin/helpdesk who registers it for someone else.
Each alone is ordinary (people buy phones, helpdesks re-enroll lost ones); the score needs several.

Where the enrollment came from is judged by ``familiarity.assess`` (the one kit every detector uses), not
by new-country or new-ASN checks of its own: ``unfamiliar`` when nothing about it (network, operator,
device) is the person's or the organisation's, or only a browser anyone can claim; and two signs that
hold on any day, ``new_country`` (a country nobody here signs in from: only once the organisation knows
some countries) and ``hosting`` (hosting/VPN egress nobody here uses: more suspicious, never less). An
enrollment the person makes from their own network or device, at home or the office (familiar, nothing
hostile), scores nothing for its place and is at most low whatever else scored: prompts left unanswered,
the helpdesk's reset and several methods registered anew are a lost phone.
The attacker's own approval must not vouch for the place the enrollment then comes from: a success from
an unfamiliar or hostile context within ``fresh_place_s`` is remembered, and an enrollment from the same
address or network, country or hosting operator inherits that judgement; when that success was within
``session_s`` and hostile, it won the very session the factor was enrolled in (``hostile_session``: the
attacker approves one push, then registers their own authenticator). An enrollment an admin registered
for the person is not judged on its place (the admin's) but counts as ``by_other``.

Thin history (fewer than three days with a success: a new hire) does not count ``unfamiliar`` or several
enrollments at once (onboarding registers several), and lowers the confidence; hostile signs still count.
Medium at ``min_score``, high at ``high_score``, critical at ``critical_score`` or when a hostile sign meets
two or more refused or unanswered prompts. A denial or fraud report counts within ``denied_before_s``; a
prompt left to time out (Okta logs none: a push sent and never answered) only within ``one_refusal_s``.
Triage: call the person on the directory's number; if the factor is not theirs, remove *that* factor (the
finding names its id), not every factor of the user, and revoke sessions. Known false positives: a
traveller enrolling a new phone abroad after a refused prompt; a new hire whose first sign-ins come from
hosting egress nobody else uses."""

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
from pushguard.detect.familiarity import THIN_DAYS, Familiarity, Level, assess, requester_ip
from pushguard.detect.geo import is_hosting, place_text
from pushguard.detect.org import net_of
from pushguard.model import Event, EventKind, IdentityProfile, Severity


class FreshPlace(msgspec.Struct, array_like=True):
    """A success at ``ts`` from a context that was not the person's: the attacker's own approval must not
    vouch for the place the enrollment then comes from."""

    ts: int
    country: str  # a country nobody here used before it ("" when it was known)
    asn: int  # hosting egress nobody here used before it (0: none)
    ip: str = ""
    net: str = ""
    level: int = 0  # its familiarity.Level


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
        "and Okta pushes never answered within one_refusal_s only; its context unfamiliar to the person "
        "and the organisation by familiarity (2: network, operator, device and browser none of theirs); "
        "a country nobody here signs in from (1) and hosting/VPN egress nobody here uses (1), also when "
        "first succeeded from within fresh_place_s (an attacker's own approval does not vouch for it); "
        "a success from that same unfamiliar, hostile context within session_s (1: the session won); "
        "other enrollments within several_s (2); dormancy, no activity for dormant_s (2); registered by "
        "someone else, an admin or helpdesk (2, its place not judged); a reset, bypass code or Temporary "
        "Access Pass within reset_before_s (2). Thin history (a new hire) counts neither 'unfamiliar' "
        "nor 'several' and lowers confidence. Medium at min_score, high at high_score, critical at "
        "critical_score or when a country or hosting nobody here uses meets two or more refusals. An "
        "enrollment the person makes from their own network or device (home, office) is low at most: "
        "a lost phone re-enrolled after unanswered prompts and a reset. Known false "
        "positives: a traveller's new phone abroad after a refused prompt."
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
        "fresh_place_s": Tunable(
            24 * 3600, "a context first succeeded from this recently still counts as it was then"
        ),
        "session_s": Tunable(
            3600, "a success this soon before, from the same hostile context, won the enrolling session"
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
    triage=(
        "Check who enrolled the factor, from where, and what the account did in the hour after: an "
        "enrollment from the session that followed refused prompts, or from hosting nobody here "
        "uses, is the attacker's; a re-enrollment at home after a lost phone is not."
    ),
    false_positives=(
        "A traveller's new phone enrolled abroad after a refused prompt.",
        "A device replacement day when IT re-enrolls many phones from a staging network.",
    ),
    watches=kinds(SUCCESS_KINDS, REFUSAL_WEIGHT, (EventKind.FACTOR_ENROLLED,)),
)

_WEIGHTS = {
    "refusals": 3,
    "refusal": 2,
    "unfamiliar": 2,
    "new_device": 2,
    "new_country": 1,
    "hosting": 1,
    "hostile_session": 1,
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
        self.fresh_s = float(cfg["fresh_place_s"])
        self.session_s = float(cfg["session_s"])
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
        hostile = "new_country" in signals or "hosting" in signals
        if _own_context(event, profile, fresh):
            # the person's own network or device: the phone lost (prompts unanswered, the helpdesk's
            # reset, several methods registered anew) and re-enrolled at home or the office
            severity = Severity.LOW
        elif score >= self.critical_score or (hostile and "refusals" in signals):
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
        confidence = min(0.9, 0.4 + 0.06 * score) - (0.2 if profile.active_days < THIN_DAYS else 0.0)
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
        """A success from a context that is not the person's (judged before the profile learns it)."""
        seen = assess(event, profile)
        if seen.level is Level.FAMILIAR and not seen.hostile:
            return
        geo = event.geo
        ip = requester_ip(event) or ""
        country = geo.country if seen.country_new and geo is not None and geo.country else ""
        asn = geo.asn if seen.hosting_unknown and geo is not None and geo.asn is not None else 0
        place = FreshPlace(int(event.ts), country, asn, ip, net_of(ip) if ip else "", int(seen.level))
        append_bounded(state.fresh, place, MAX_FRESH)

    def signals(
        self,
        event: Event,
        profile: IdentityProfile,
        fresh: Sequence[FreshPlace] = (),
        refusals: Sequence[Refusal] | None = None,
    ) -> dict[str, str]:
        """Signal name → the sentence a reader gets (also used by the enrollment review). ``fresh``:
        successes within fresh_place_s from contexts that were not the person's."""
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
        thin = profile.active_days < THIN_DAYS
        if not event.by_other:  # an admin's registration came from the admin's place, not the person's
            found.update(_context(event, assess(event, profile), fresh, thin, self.session_s))
        others = [ts for ts in profile.enrollments if 0 <= now - ts <= self.several_s]
        if others and not thin:  # onboarding registers several methods at once
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


def _context(
    event: Event, seen: Familiarity, fresh: Sequence[FreshPlace], thin: bool, session_s: float
) -> dict[str, str]:
    """The place signals of the person's own enrollment: its familiarity, and how a success from the same
    context within fresh_place_s was judged (an attacker's approval does not vouch for its place)."""
    now, geo = event.ts, event.geo
    country = geo.country if geo is not None else None
    asn = geo.asn if geo is not None else None
    found: dict[str, str] = {}
    earlier_country = next((p for p in fresh if country and p.country == country), None)
    if seen.country_new:
        found["new_country"] = (
            f"from {country}, a country neither this identity nor the organisation signs in from"
        )
    elif earlier_country is not None:
        found["new_country"] = (
            f"from {country}, a country this identity first succeeded from "
            f"{(now - earlier_country.ts) / 60:.0f} min before"
        )
    earlier_hosting = next((p for p in fresh if asn is not None and p.asn == asn), None)
    if seen.hosting_unknown:
        found["hosting"] = (
            "through hosting / VPN / proxy egress neither this identity nor the organisation uses"
        )
    elif earlier_hosting is not None and is_hosting(geo):
        found["hosting"] = (
            f"through hosting / VPN / proxy egress AS{asn} this identity first used "
            f"{(now - earlier_hosting.ts) / 60:.0f} min before"
        )
    session: FreshPlace | None = None  # the hostile success that won the enrolling session
    first: FreshPlace | None = None  # the earliest success from this network judged less familiar
    for place in _same_network(event, fresh):
        if place.level > seen.level and (first is None or place.level > first.level):
            first = place
        hostile = place.level == Level.UNFAMILIAR and (place.country or place.asn)
        if hostile and 0 <= now - place.ts <= session_s:
            session = place
    if session is not None:
        found["hostile_session"] = (
            f"the account signed in from this same unfamiliar, hostile context "
            f"{(now - session.ts) / 60:.0f} min before: the session the factor was enrolled in"
        )
    thin_ok = not thin or bool(found)  # thin history: only with a hostile sign
    if first is not None and first.level == Level.UNFAMILIAR and thin_ok:
        found["unfamiliar"] = (
            f"from a network first succeeded from {(now - first.ts) / 60:.0f} min before, from a context "
            "then unfamiliar to this person and the organisation (it does not vouch for itself)"
        )
    elif seen.level is Level.UNFAMILIAR and thin_ok:
        found["unfamiliar"] = (
            f"from a context unfamiliar to this person and the organisation: {seen.describe()}"
        )
    device = event.device
    if (
        "unfamiliar" in found
        and seen.device == "new"
        and device is not None
        and (device.os or device.browser)  # the requesting browser, not the authenticator enrolled
    ):
        # attackers enroll from their own machine; a person's new phone is enrolled from their laptop
        found["new_device"] = (
            f"from a browser this person never used ({device.os or '?'}, {device.browser or '?'})"
        )
    return found


def _same_network(event: Event, fresh: Sequence[FreshPlace]) -> list[FreshPlace]:
    """The remembered successes from the event's own address or /24 (/64)."""
    ip = requester_ip(event)
    if not ip:
        return []
    net = net_of(ip)
    return [place for place in fresh if place.ip == ip or (net and place.net == net)]


def _own_context(event: Event, profile: IdentityProfile, fresh: Sequence[FreshPlace]) -> bool:
    """The person registered it themself from their own network or device (familiar, nothing hostile),
    and no success from that network within fresh_place_s was judged otherwise."""
    if event.by_other:
        return False
    seen = assess(event, profile)
    if seen.level is not Level.FAMILIAR or seen.hostile:
        return False
    return all(place.level == Level.FAMILIAR for place in _same_network(event, fresh))


def _unanswered(profile: IdentityProfile, now: float, window: float) -> int:
    """Pushes sent in the window that no answer matches: Okta logs nothing for a push left to expire
    (Entra and Duo log the timeout itself, and no send, so this is 0 for them)."""

    def within(times: list[int]) -> int:
        return sum(1 for ts in times if 0 <= now - ts <= window)

    return max(0, within(profile.prompts) - within(profile.approvals) - within(profile.denials))
