"""New context at an approval or a successful sign-in: a network, country or device unfamiliar to the person
and the organisation (``detect.familiarity``), hosting nobody here uses, right after refused prompts, each
weighted into one score.

Each alone is daily life (people travel, buy phones, change ISPs), so the score needs several together and
the identity needs a history long enough for "new" to mean something (``min_history`` successes seen). A
context that is the person's own (their network or registered device) is never new; one that is partly
theirs (their browser on a hotel network at home) is low at most.
Refusals in the last ``refusal_window_s`` are weighed as ``approval_after_denials`` weighs them: an explicit
denial 2, a timeout or a prompt left unanswered until the next one 1, a fraud report 3; a phone out of
reach (two timeouts) is not a user saying no, and travellers miss pushes. Low severity at ``min_score``;
medium at ``medium_score``; high when a new country meets refusals weighing ``strong_refusals`` (the shape
of an attacker who finally got a push approved). One finding per identity and ``episode_gap_s``,
escalating."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import (
    SUCCESS_KINDS,
    Detection,
    DetectorMeta,
    Tunable,
    append_bounded,
    kinds,
    prune_before,
    settings,
)
from pushguard.detect.episode import (
    REFUSAL_WEIGHT,
    UNANSWERED_WEIGHT,
    Episode,
    Refusal,
    continue_or_open,
    live,
)
from pushguard.detect.familiarity import Familiarity, Level, assess
from pushguard.detect.geo import place_text
from pushguard.model import PROMPT_KINDS, PUSH_OUTCOME_KINDS, Event, EventKind, IdentityProfile, Severity

_MAX_REFUSALS = 24
_ANSWERS = frozenset(
    {EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED}
)


class NewContextState(msgspec.Struct, kw_only=True):
    refusals: list[Refusal] = []  # recent refused prompts, oldest first, bounded
    pending_ts: float = 0.0  # a push sent and not answered yet (0: none)
    episode: Episode | None = None


META = DetectorMeta(
    id="new_context",
    title="Approval or sign-in from a new context",
    description=(
        "Weights (tunable), for a success whose context is not the person's own: a country the person never "
        "used (more when nobody in the organisation does), a network neither uses, a new device (more when "
        "unmanaged or non-compliant), hosting/VPN egress nobody here uses, refusals in refusal_window_s "
        "(denial 2, timeout or unanswered 1, fraud report 3). Needs min_history past successes. Low at "
        "min_score, medium at medium_score or for a new device in a hostile context (partly familiar "
        "contexts stay low), high for a new country right after refusals weighing strong_refusals."
    ),
    severity=Severity.LOW,
    techniques=("T1078",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "PR.AA-05", "DE.CM-01", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting"),
        "owasp_nhi": (),
    },
    tunables={
        "weight_new_country": Tunable(3, "a country the identity never succeeded from"),
        "weight_country_nobody": Tunable(2, "... and nobody in the organisation does either"),
        "weight_new_network": Tunable(2, "a network neither the identity nor the organisation uses"),
        "weight_new_device": Tunable(2, "a device or browser the identity never used (when it has some)"),
        "weight_unmanaged": Tunable(1, "a new device that is reported unmanaged"),
        "weight_noncompliant": Tunable(2, "a new device that is reported non-compliant"),
        "weight_hosting": Tunable(2, "hosting / VPN / proxy egress nobody in the organisation uses"),
        "weight_recent_denials": Tunable(3, "refusals in the window weighing strong_refusals or more"),
        "weight_recent_denial": Tunable(
            1, "refusals weighing 2 or 3: one denial (a fat finger, often) or two missed pushes"
        ),
        "strong_refusals": Tunable(4, "refusal weight that is 'several': two denials, four timeouts"),
        "refusal_window_s": Tunable(
            4 * 3600, "refusals this long before the success count (seconds; approval_after_denials uses 4 h)"
        ),
        "min_score": Tunable(7, "score that fires (low): more than a trip (new country and network)"),
        "medium_score": Tunable(9, "score that makes it medium"),
        "min_history": Tunable(10, "past successes before anything can be new"),
        "episode_gap_s": Tunable(24 * 3600, "new contexts this close together are one finding"),
    },
    actions=(
        "Confirm with the user that the new device / place is theirs.",
        "If not: revoke the session, remove any factor enrolled from that context, reset the password.",
    ),
    triage=(
        "Ask whether the new device or place is the person's own (new phone, trip, new home "
        "network); weigh it higher when refusals or other findings came just before."
    ),
    false_positives=(
        "Business travel, a new phone or laptop, a new home internet provider.",
        "A person on their first weeks, before the profile knows their usual places.",
    ),
    watches=kinds(PROMPT_KINDS, PUSH_OUTCOME_KINDS, SUCCESS_KINDS),
)


class NewContext:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = NewContextState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.weights = {
            name.removeprefix("weight_"): int(v) for name, v in cfg.items() if name.startswith("weight_")
        }
        self.strong_refusals = int(cfg["strong_refusals"])
        self.refusal_window = float(cfg["refusal_window_s"])
        self.min_score = int(cfg["min_score"])
        self.medium_score = int(cfg["medium_score"])
        self.min_history = int(cfg["min_history"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> NewContextState:
        return NewContextState()

    def observe(
        self, state: NewContextState, event: Event, profile: IdentityProfile
    ) -> tuple[NewContextState, list[Detection]]:
        self._track_refusals(state, event)
        if event.kind not in SUCCESS_KINDS or len(profile.successes) < self.min_history:
            return state, []
        context = assess(event, profile)
        if context.level is Level.FAMILIAR:
            return state, []
        refused = sum(r.weight for r in state.refusals if event.ts - r.ts <= self.refusal_window)
        signals = self._signals(event, context)
        if refused >= self.strong_refusals:
            signals["recent_denials"] = f"refusals weighing {refused} in the last {self._window_text()}"
        elif refused >= 2:
            signals["recent_denial"] = f"refusals weighing {refused} in the last {self._window_text()}"
        score = sum(self.weights[name] for name in signals)
        if score < self.min_score:
            return state, []
        if "new_country" in signals and "recent_denials" in signals and context.level is Level.UNFAMILIAR:
            severity = Severity.HIGH
        elif context.level is Level.UNFAMILIAR and (
            score >= self.medium_score or (context.hostile and context.device == "new")
        ):
            # a device the person never used, from a country or hosting nobody here uses: no one's trip
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        now = event.ts
        episode = state.episode = continue_or_open(state.episode, event, self.gap_s)
        if not episode.escalates_to(severity):
            return state, []
        reasons = [f"context score {score} (fires at {self.min_score}): " + "; ".join(signals.values())]
        reasons.append(f"{event.kind.value.replace('_', ' ')} from {place_text(event.geo, event.ip)}")
        reasons.append(f"the context: {context.describe()}")
        title = "Success from a new context: " + ", ".join(name.replace("_", " ") for name in signals)
        confidence = min(0.8, 0.3 + 0.05 * score)
        return state, [
            episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, now)
        ]

    def advance(self, state: NewContextState, watermark: float) -> tuple[NewContextState, list[Detection]]:
        state.episode = live(state.episode, watermark, self.gap_s)
        prune_before(state.refusals, watermark - self.refusal_window)
        return state, []

    def _track_refusals(self, state: NewContextState, event: Event) -> None:
        """Explicit denials, timeouts, fraud reports, and a push left unanswered until the next one."""
        kind, ts = event.kind, event.ts
        if kind is EventKind.PUSH_SENT:
            if state.pending_ts:
                append_bounded(
                    state.refusals, Refusal(int(state.pending_ts), UNANSWERED_WEIGHT), _MAX_REFUSALS
                )
            state.pending_ts = ts
        elif kind in _ANSWERS:
            state.pending_ts = 0.0
            weight = REFUSAL_WEIGHT.get(kind)
            if weight is not None:
                append_bounded(state.refusals, Refusal(int(ts), weight), _MAX_REFUSALS)
        elif kind in SUCCESS_KINDS:
            state.pending_ts = 0.0

    def _window_text(self) -> str:
        minutes = self.refusal_window / 60.0
        return f"{minutes / 60.0:g} h" if minutes >= 60 else f"{minutes:g} min"

    @staticmethod
    def _signals(event: Event, context: Familiarity) -> dict[str, str]:
        """Signal name → the sentence a reader gets."""
        found: dict[str, str] = {}
        geo, device = event.geo, event.device
        if context.abroad and geo is not None:
            found["new_country"] = f"first success from {geo.country}"
            if context.country_new:
                found["country_nobody"] = "a country nobody in the organisation signs in from"
        if context.network == "new":
            asn = f" (AS{geo.asn}{f' {geo.as_org}' if geo.as_org else ''})" if geo and geo.asn else ""
            found["new_network"] = f"a network neither this identity nor the organisation uses{asn}"
        if context.device == "new" and device is not None:
            found["new_device"] = f"first success on device {device.id or device.browser or 'unknown'}"
            # posture only matters on a device the identity never used: BYOD users live unmanaged
            if device.managed is False:
                found["unmanaged"] = "the new device is not managed"
            if device.compliant is False:
                found["noncompliant"] = "the new device is not compliant"
        if context.hosting_unknown:
            found["hosting"] = "through hosting / VPN / proxy egress nobody here uses"
        return found
