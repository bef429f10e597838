"""Push fatigue, low and slow: a per-identity push budget since the last success, over hours.

Bombing (``push_bombing``) is a burst; fatigue is one to three prompts an hour through a night, each too
few to trip a burst window, until the user approves one to make it stop. The budget counts the prompts
left unresolved (denied, timed out, or followed by another prompt without an answer) since the identity's
last successful authentication, over ``window_s``. It fires when ``budget`` prompts are spent across at
least ``min_span_s`` (a burst that fast is bombing's), and escalates: high at ``high_budget`` or when
most of the prompts fell at hours this identity never signs in at (its hour habit, kept here: the
user's own time, never raw UTC), critical when a push is approved after the budget was spent. NIST SP
800-63B 5.2.2 asks verifiers to limit failed attempts; a push budget is that limit for push."""

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
from pushguard.detect.episode import MAX_EVIDENCE, Episode, HourHabit, live
from pushguard.detect.familiarity import Familiarity, Level, assess
from pushguard.model import PROMPT_KINDS, Event, EventKind, IdentityProfile, Severity

_MAX_PROMPTS = 48


class FatigueState(msgspec.Struct, kw_only=True):
    unresolved: list[float] = []  # times of prompts left unresolved since the last success
    unresolved_ids: list[str] = []
    pending_ts: float = 0.0
    pending_id: str = ""
    level: int = Level.FAMILIAR  # the least familiar context among the unresolved prompts
    hostile: bool = False
    thin: bool = False
    context: str = ""  # how that context reads in a reason
    identity: str = ""  # for reports from advance(), which sees no event
    episode: Episode | None = None
    habit: HourHabit = msgspec.field(default_factory=HourHabit)


META = DetectorMeta(
    id="push_fatigue",
    title="Push fatigue: low-and-slow prompts over hours",
    description=(
        "Prompts left unresolved since the identity's last success, within window_s, spread over at least "
        "min_span_s: medium at budget from a context unfamiliar to the person and the organisation (low "
        "with thin history and nothing hostile), at partly_budget from a partly familiar one, info at twice "
        "the budget from the person's own; high at high_budget or when most prompts came at hours the "
        "identity is never active; critical when a push is approved from a context not the person's after."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1621",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-03", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting", "5.1.3.1 out-of-band authenticators"),
        "owasp_nhi": (),
    },
    tunables={
        "window_s": Tunable(12 * 3600, "how far back unresolved prompts count (seconds)"),
        "budget": Tunable(5, "unresolved prompts from an unfamiliar context since the last success"),
        "partly_budget": Tunable(7, "unresolved prompts from a partly familiar context"),
        "high_budget": Tunable(9, "unresolved prompts that make it high"),
        "min_span_s": Tunable(3600, "the prompts must spread over this long (a faster run is a burst)"),
        "min_history": Tunable(10, "past sign-ins needed before an hour can be unusual"),
        "episode_gap_s": Tunable(12 * 3600, "quiet after which new prompts are a new finding"),
        "push_lifetime_s": Tunable(
            300, "a prompt with no answer this long has timed out (Okta Verify: 5 min; Duo, Entra: less)"
        ),
    },
    actions=(
        "Call the user out of band: tell them to deny and report prompts they did not start.",
        "Reset the password: whoever sends the prompts holds it.",
        "Enforce number matching (or a phishing-resistant factor) for this identity now.",
        "If a prompt was approved: revoke sessions and tokens, remove factors enrolled since.",
    ),
    watches=kinds(PROMPT_KINDS, SUCCESS_KINDS),
)


class PushFatigue:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = FatigueState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.window_s = float(cfg["window_s"])
        self.budget = int(cfg["budget"])
        self.partly_budget = int(cfg["partly_budget"])
        self.high_budget = int(cfg["high_budget"])
        self.min_span_s = float(cfg["min_span_s"])
        self.min_history = int(cfg["min_history"])
        self.gap_s = float(cfg["episode_gap_s"])
        self.lifetime_s = float(cfg["push_lifetime_s"])

    def initial_state(self) -> FatigueState:
        return FatigueState()

    def observe(
        self, state: FatigueState, event: Event, profile: IdentityProfile
    ) -> tuple[FatigueState, list[Detection]]:
        kind = event.kind
        now = event.ts
        state.identity = event.identity
        if kind is EventKind.PUSH_SENT:
            found = []
            if state.pending_ts:
                found = self._unresolved(state, state.pending_ts, state.pending_id, now, event)
            state.pending_ts, state.pending_id = now, event.event_id
            self._note(state, assess(event, profile))
            return state, found
        if kind in (EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT):
            context = assess(event, profile)
            if context.network != "none" and not state.pending_ts:
                self._note(state, context)  # Entra, Duo: the record is the prompt, with its requester
            state.pending_ts, state.pending_id = 0.0, ""
            return state, self._unresolved(state, now, event.event_id, now, event)
        if kind is EventKind.PUSH_APPROVED:
            state.pending_ts, state.pending_id = 0.0, ""
            found = self._approved(state, event, profile)
            self._reset(state)
            self._learn(state, now)
            return state, found
        if kind is EventKind.MFA_SUCCESS:
            self._reset(state)  # the user got in with another factor
        if kind in (EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS):
            self._learn(state, now)
        return state, []

    def advance(self, state: FatigueState, watermark: float) -> tuple[FatigueState, list[Detection]]:
        """Silence: a prompt past its lifetime with no answer (Okta logs none for a timeout) is spent."""
        found: list[Detection] = []
        if state.pending_ts and watermark - state.pending_ts > self.lifetime_s:
            ts, event_id = state.pending_ts, state.pending_id
            state.pending_ts, state.pending_id = 0.0, ""
            found = self._unresolved(state, ts, event_id, watermark, None)
        state.episode = live(state.episode, watermark, self.gap_s)
        return state, found

    # -- helpers -----------------------------------------------------------------------------------

    def _learn(self, state: FatigueState, now: float) -> None:
        """Sign-ins teach the hour habit, except while an episode is open (the approval fatigue bought,
        and the attacker's sign-in after it, must not make the night usual)."""
        if state.episode is None or now - state.episode.last_ts > self.gap_s:
            state.habit.learn(now)

    @staticmethod
    def _note(state: FatigueState, context: Familiarity) -> None:
        """A prompt's requesting context joins the run's: the least familiar one is what it is judged by."""
        if context.network == "none" and context.device == "none":
            return
        level = int(context.level)
        if level > state.level or not state.context:
            state.level, state.context = level, context.describe()
        state.hostile = state.hostile or context.hostile
        state.thin = state.thin or context.thin

    @staticmethod
    def _reset(state: FatigueState) -> None:
        state.unresolved.clear()
        state.unresolved_ids.clear()
        state.level, state.hostile, state.thin, state.context = Level.FAMILIAR, False, False, ""

    def _unresolved(
        self, state: FatigueState, ts: float, event_id: str, now: float, event: Event | None
    ) -> list[Detection]:
        """Spend one prompt of the budget (``event``: the record that resolved it, None from advance)."""
        if event_id in state.unresolved_ids:
            return []
        state.unresolved.append(ts)
        state.unresolved_ids.append(event_id)
        before = len(state.unresolved)
        prune_before(state.unresolved, now - self.window_s)
        del state.unresolved_ids[: before - len(state.unresolved)]
        if len(state.unresolved) > _MAX_PROMPTS:
            del state.unresolved[0], state.unresolved_ids[0]
        count = len(state.unresolved)
        span = state.unresolved[-1] - state.unresolved[0] if count else 0.0
        budget = self._budget(state)
        if count < budget or span < self.min_span_s:
            return []
        episode = state.episode
        if episode is None or now - episode.last_ts > self.gap_s:
            episode = state.episode = Episode(
                anchor=state.unresolved_ids[0], first_ts=state.unresolved[0], last_ts=now
            )
        for known in state.unresolved_ids:
            if known not in episode.evidence:
                append_bounded(episode.evidence, known, MAX_EVIDENCE)
        if event is not None:
            episode.add(event)
        episode.last_ts = max(episode.last_ts, ts)
        odd = [t for t in state.unresolved if state.habit.unusual(t, self.min_history)]
        severity = Severity.MEDIUM
        if state.level == Level.FAMILIAR:
            severity = Severity.INFO
        elif count >= self.high_budget or 2 * len(odd) > count:
            severity = Severity.HIGH
        elif state.level == Level.UNFAMILIAR and state.thin and not state.hostile:
            severity = Severity.LOW
        if not episode.escalates_to(severity):
            return []
        per_hour = count / max(span / 3600.0, 1.0)
        reasons = [
            f"{count} push prompts left unresolved since the last success, over {span / 3600:.1f} h "
            f"({per_hour:.1f} an hour: below a burst, above a budget of {budget})",
            f"requested from {state.context or 'an unknown context'}",
        ]
        if odd:
            reasons.append(
                f"{len(odd)} of them at hours this identity never signs in at, the first at "
                f"{state.habit.describe(odd[0])}"
            )
        title = f"Push fatigue: {count} unresolved prompts over {span / 3600:.1f} h"
        confidence = 0.55 + 0.04 * min(count, 10)
        return [episode.report(self.meta.id, state.identity, severity, confidence, title, reasons, now)]

    def _budget(self, state: FatigueState) -> int:
        if state.level == Level.UNFAMILIAR:
            return self.budget
        return self.partly_budget if state.level == Level.PARTLY else 2 * self.budget

    def _approved(self, state: FatigueState, event: Event, profile: IdentityProfile) -> list[Detection]:
        episode = state.episode
        if episode is None or len(state.unresolved) < self._budget(state) or state.level == Level.FAMILIAR:
            return []
        if assess(event, profile).level is Level.FAMILIAR:
            return []  # the person signing in themselves, from their own network or device
        episode.add(event)
        if not episode.escalates_to(Severity.CRITICAL):
            return []
        count = len(state.unresolved)
        reasons = [
            f"a push was approved after {count} prompts had been left unresolved since the last success",
            f"approved from {event.ip or 'an unknown address'}: the fatigue probably worked",
        ]
        title = f"Push fatigue ended in an approval after {count} unresolved prompts"
        return [
            episode.report(
                self.meta.id, event.identity, Severity.CRITICAL, 0.85, title, reasons, event.ts, ("T1078",)
            )
        ]
