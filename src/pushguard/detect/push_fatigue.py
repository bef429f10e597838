"""Push fatigue, low and slow: a per-source push budget over hours or days.

Bombing (``push_bombing``) is a burst; fatigue is one to three prompts an hour through a night, or a few a
day for days, each too few to trip a burst window, until the person approves one to make it stop. The
budget counts the prompts left unresolved (denied, timed out, or followed by another prompt without an
answer) within ``window_s``. A success resolves only the prompts that came from where it came from (its
requesting address): the person signing in from home in the morning does not excuse the prompts an
attacker's address sent overnight.

Who asked for the prompts decides the budget (``detect.familiarity``): from a context unfamiliar to the
person and the organisation, ``budget`` prompts spent across at least ``min_span_s`` (a run that fast is
bombing's) fire; partly familiar, ``partly_budget``; from the person's own network or device (a phone that
keeps missing prompts while they work), only an info finding at twice the budget. It escalates: high at
``high_budget`` or when most of the prompts fell at hours this identity never signs in at (its hour habit,
kept here: the user's own time, never raw UTC), critical when a push is approved from an address that
sent unresolved prompts, after the budget was spent. With thin history and nothing hostile an unfamiliar
run is low. NIST SP 800-63B 5.2.2 asks verifiers to limit failed attempts; a push budget is that limit.

Triage: where did the prompts come from (source_ips), and was the person awake and working then?
Known false positives: a person whose phone lost its push registration while they work from a new
network (partly familiar, so it takes ``partly_budget``)."""

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
from pushguard.detect.episode import Episode, HourHabit, across_idps, live, tally
from pushguard.detect.familiarity import Familiarity, Level, assess, requester_ip
from pushguard.model import PROMPT_KINDS, Event, EventKind, IdentityProfile, Severity

_MAX_PROMPTS = 48


class Unresolved(msgspec.Struct, array_like=True):
    """A prompt nobody approved: when, which record, who asked, and how familiar that was."""

    ts: float
    event_id: str
    source: str  # the requesting address ("" when the records do not say)
    level: int
    hostile: bool
    thin: bool
    provider: str = ""  # the IdP whose record it was (one person's accounts on several IdPs)


class Pending(msgspec.Struct, array_like=True):
    """The last prompt sent and not answered yet, with its requesting side."""

    ts: float
    event_id: str
    source: str
    context: Familiarity
    provider: str = ""


class FatigueState(msgspec.Struct, kw_only=True, omit_defaults=True):
    unresolved: list[Unresolved] = []  # oldest first, bounded
    pending: Pending | None = None
    context: Familiarity | None = None  # the least familiar requesting side
    identity: str = ""  # for reports from advance(), which sees no event
    episode: Episode | None = None
    habit: HourHabit = msgspec.field(default_factory=HourHabit)


META = DetectorMeta(
    id="push_fatigue",
    title="Push fatigue: low-and-slow prompts over hours",
    description=(
        "Prompts left unresolved within window_s (a success resolves those from its own address), spread "
        "over at least min_span_s: medium at budget from a context unfamiliar to the person and the "
        "organisation (low with thin history and nothing hostile), at partly_budget from a partly familiar "
        "one, info at twice the budget from the person's own; high at high_budget or when most prompts came "
        "at hours the identity is never active; critical when a push is approved from an address that sent "
        "unresolved prompts, after the budget was spent."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1621",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-03", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting", "5.1.3.1 out-of-band authenticators"),
        "owasp_nhi": (),
    },
    tunables={
        "window_s": Tunable(72 * 3600, "how far back unresolved prompts count (seconds): a night or days"),
        "budget": Tunable(5, "unresolved prompts from an unfamiliar context"),
        "partly_budget": Tunable(7, "unresolved prompts from a partly familiar context"),
        "high_budget": Tunable(9, "unresolved prompts that make it high"),
        "min_span_s": Tunable(3600, "the prompts must spread over this long (a faster run is a burst)"),
        "min_history": Tunable(10, "past sign-ins needed before an hour can be unusual"),
        "episode_gap_s": Tunable(24 * 3600, "quiet after which new prompts are a new finding"),
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
    triage=(
        "Line up the unresolved prompts by requesting IP: one unfamiliar source spread over hours "
        "is a low-and-slow attack; prompts from the person's usual networks at their working hours "
        "are a noisy client."
    ),
    false_positives=(
        "A device with a saved, expired session that prompts every few hours.",
        "A person who ignores prompts while travelling and answers them later.",
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
            found = self._spend_pending(state, now, event)
            context = assess(event, profile)
            state.pending = Pending(
                now, event.event_id, requester_ip(event) or "", context, str(event.provider)
            )
            return state, found
        if kind in (EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT):
            pending = state.pending
            state.pending = None
            if pending is not None and now - pending.ts <= self.lifetime_s:
                return state, self._spend(state, pending, now, event)
            # Entra, Duo: the record is the prompt, with its requester
            context = assess(event, profile)
            prompt = Pending(now, event.event_id, requester_ip(event) or "", context, str(event.provider))
            return state, self._spend(state, prompt, now, event)
        if kind is EventKind.PUSH_APPROVED:
            state.pending = None
            found = self._approved(state, event, profile)
            self._resolve(state, event)
            self._learn(state, now)
            return state, found
        if kind is EventKind.MFA_SUCCESS:
            self._resolve(state, event)  # the user got in from there with another factor
        if kind in (EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS):
            self._learn(state, now)
        return state, []

    def advance(self, state: FatigueState, watermark: float) -> tuple[FatigueState, list[Detection]]:
        """Silence: a prompt past its lifetime with no answer (Okta logs none for a timeout) is spent."""
        found: list[Detection] = []
        pending = state.pending
        if pending is not None and watermark - pending.ts > self.lifetime_s:
            state.pending = None
            found = self._spend(state, pending, watermark, None)
        prune_before(state.unresolved, watermark - self.window_s)
        state.episode = live(state.episode, watermark, self.gap_s)
        return state, found

    # -- helpers -----------------------------------------------------------------------------------

    def _learn(self, state: FatigueState, now: float) -> None:
        """Sign-ins teach the hour habit, except while an episode is open (the approval fatigue bought,
        and the attacker's sign-in after it, must not make the night usual)."""
        if state.episode is None or now - state.episode.last_ts > self.gap_s:
            state.habit.learn(now)

    @staticmethod
    def _resolve(state: FatigueState, event: Event) -> None:
        """A success resolves the prompts its own address asked for (and those of no known address)."""
        source = requester_ip(event) or ""
        state.unresolved = [u for u in state.unresolved if u.source and u.source != source]

    def _spend_pending(self, state: FatigueState, now: float, event: Event) -> list[Detection]:
        """A new prompt while the last one is unanswered: the last one is spent."""
        pending = state.pending
        if pending is None:
            return []
        state.pending = None
        return self._spend(state, pending, now, event)

    @staticmethod
    def _level(runs: list[Unresolved]) -> Level:
        return Level(max((u.level for u in runs), default=Level.FAMILIAR))

    def _budget(self, level: Level) -> int:
        if level is Level.UNFAMILIAR:
            return self.budget
        return self.partly_budget if level is Level.PARTLY else 2 * self.budget

    def _spend(
        self, state: FatigueState, prompt: Pending, now: float, event: Event | None
    ) -> list[Detection]:
        """Spend one prompt of the budget (``event``: the record that resolved it, None from advance)."""
        if any(u.event_id == prompt.event_id for u in state.unresolved):
            return []
        context = prompt.context
        level = int(context.level)
        if level >= self._level(state.unresolved) or state.context is None:
            state.context = context
        append_bounded(
            state.unresolved,
            Unresolved(
                prompt.ts,
                prompt.event_id,
                prompt.source,
                level,
                context.hostile,
                context.thin,
                prompt.provider,
            ),
            _MAX_PROMPTS,
        )
        prune_before(state.unresolved, now - self.window_s)
        runs = state.unresolved
        count = len(runs)
        span = runs[-1].ts - runs[0].ts if count else 0.0
        level = self._level(runs)
        budget = self._budget(level)
        if count < budget or span < self.min_span_s:
            return []
        episode = state.episode
        if episode is None or now - episode.last_ts > self.gap_s:
            episode = state.episode = Episode(anchor=runs[0].event_id, first_ts=runs[0].ts, last_ts=now)
        for unresolved in runs:
            episode.note(unresolved.event_id, ip=unresolved.source or "")
        if event is not None:
            episode.add(event)
        episode.last_ts = max(episode.last_ts, prompt.ts)
        odd = [u.ts for u in runs if state.habit.unusual(u.ts, self.min_history)]
        hostile = any(u.hostile for u in runs)
        thin = any(u.thin for u in runs)
        severity = Severity.MEDIUM
        if level is Level.FAMILIAR:
            severity = Severity.INFO
        elif count >= self.high_budget or 2 * len(odd) > count:
            severity = Severity.HIGH
        elif level is Level.UNFAMILIAR and thin and not hostile:
            severity = Severity.LOW
        if not episode.escalates_to(severity):
            return []
        hours = span / 3600.0
        per_hour = count / max(hours, 1.0)
        reasons = [
            f"{count} push prompts left unresolved over {hours:.1f} h ({per_hour:.1f} an hour: below a "
            f"burst, above a budget of {budget})",
            f"requested from {state.context.describe() if state.context else 'an unknown context'}",
        ]
        split = across_idps(tally(u.provider for u in runs))
        if split is not None:
            reasons.insert(1, f"across the person's IdPs: {split} in {hours:.1f} h")
        if odd:
            reasons.append(
                f"{len(odd)} of them at hours this identity never signs in at, the first at "
                f"{state.habit.describe(odd[0])}"
            )
        title = f"Push fatigue: {count} unresolved prompts over {hours:.1f} h"
        confidence = 0.55 + 0.04 * min(count, 10) - (0.3 if level is Level.FAMILIAR else 0.0)
        return [episode.report(self.meta.id, state.identity, severity, confidence, title, reasons, now)]

    @staticmethod
    def _split(unresolved: list[Unresolved]) -> list[str]:
        split = across_idps(tally(u.provider for u in unresolved))
        return [] if split is None else [f"across the person's IdPs: {split}"]

    def _approved(self, state: FatigueState, event: Event, profile: IdentityProfile) -> list[Detection]:
        episode = state.episode
        source = requester_ip(event) or ""
        asked = [u for u in state.unresolved if u.source == source] if source else []
        level = self._level(state.unresolved)
        if episode is None or not asked or level is Level.FAMILIAR:
            return []
        if len(state.unresolved) < self._budget(level) or assess(event, profile).level is Level.FAMILIAR:
            return []
        episode.add(event)
        if not episode.escalates_to(Severity.CRITICAL):
            return []
        count = len(state.unresolved)
        reasons = [
            f"a push was approved after {count} prompts had been left unresolved, {len(asked)} of them asked "
            f"by the same address",
            *self._split(state.unresolved),
            f"approved from {source}: the fatigue probably worked",
        ]
        title = f"Push fatigue ended in an approval after {count} unresolved prompts"
        return [
            episode.report(
                self.meta.id, event.identity, Severity.CRITICAL, 0.85, title, reasons, event.ts, ("T1078",)
            )
        ]
