"""Push bombing: a burst of push prompts for one identity that nobody approved, from a context that is
not the person's own.

Counts *unresolved* prompts (denied, timed out, or never answered) in a sliding window. Whether a count
is an attack depends first on who asked for the prompts (``detect.familiarity``):

- from a context unfamiliar to the person and the organisation (a network neither ever used, a device
  the person never had): ``min_prompts`` unresolved prompts are a burst (medium), ``high_prompts`` high;
- partly familiar (the person's browser on a hotel network; an operator colleagues use): it takes
  ``partly_min_prompts`` with a denial, or ``partly_quiet_prompts`` on count alone;
- the person's own network or device: a phone in a drawer while they retry, or a broken authenticator.
  Never an alarm: ``familiar_prompts`` give an info finding for the helpdesk.

With little history (``familiarity.THIN_DAYS``) an unfamiliar burst without a denial or a hostile sign
(a country nobody here uses, hosting nobody here uses) is low: a new hire's home is unfamiliar too.
An approval from the unfamiliar side during the burst or within ``approval_grace_s`` after it escalates
to critical: the attacker probably got in. An approval before the burst fired, or from the person's own
context, ends or leaves it: the person was there and answering.

Prompts arrive in two shapes: Okta logs the prompt (push_sent) and then, if answered, its outcome;
Entra and Duo log one record per prompt, carrying the outcome. An outcome with no pending send within
``push_lifetime_s`` is therefore a prompt of its own.

Triage: look at the requesting addresses (source_ips) and whether the person was signing in then.
Known false positives: a person on a new network whose phone is broken (partly familiar: needs a
denial); a shared kiosk or jump host used for the first time."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, Tunable, kinds, prune_before, settings
from pushguard.detect.episode import Episode, across_idps
from pushguard.detect.familiarity import Familiarity, Level, assess
from pushguard.model import PROMPT_KINDS, PUSH_OUTCOME_KINDS, Event, EventKind, IdentityProfile, Severity

_PENDING, _DENIED, _TIMEOUT = 0, 1, 2
_MAX_WINDOW = 200  # prompts kept in the window: far above any threshold, bounds a flood


class Prompt(msgspec.Struct, array_like=True):
    ts: float
    outcome: int  # _PENDING | _DENIED | _TIMEOUT


class Burst(msgspec.Struct, kw_only=True):
    """What the open episode has seen so far, beside the shared Episode's evidence."""

    prompts: int = 0
    denials: int = 0
    timeouts: int = 0
    level: int = Level.FAMILIAR  # the least familiar requesting context among the prompts
    hostile: bool = False
    thin: bool = False
    context: Familiarity | None = None  # the least familiar requesting context
    approved_ts: float | None = None
    reported_prompts: int = 0
    idps: dict[str, int] = {}  # prompts counted per IdP (one person's accounts, linked)


class BombingState(msgspec.Struct, kw_only=True):
    window: list[Prompt] = []
    burst: Burst | None = None
    episode: Episode | None = None


META = DetectorMeta(
    id="push_bombing",
    title="Push bombing (MFA fatigue burst)",
    description=(
        "Unresolved push prompts (denied, timed out, unanswered) for one identity within window_s, judged "
        "by who asked: from a context unfamiliar to the person and the organisation, medium at "
        "min_prompts (low with thin history and no denial or hostile sign); partly familiar, medium at "
        "partly_min_prompts with a denial or partly_quiet_prompts; the person's own context, info at "
        "familiar_prompts. High at high_prompts; critical when a push is approved from the unfamiliar "
        "side during the burst or within approval_grace_s."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1621",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-03", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting", "5.1.3.1 out-of-band authenticators"),
        "owasp_nhi": (),
    },
    tunables={
        "window_s": Tunable(
            1200, "sliding window over which unresolved prompts are counted (seconds)", min=1
        ),
        "min_prompts": Tunable(
            3, "unresolved prompts from an unfamiliar context that are a burst", unit="prompts", min=1
        ),
        "partly_min_prompts": Tunable(
            5, "from a partly familiar context, with at least one denial", unit="prompts", min=1
        ),
        "partly_quiet_prompts": Tunable(
            8, "from a partly familiar context, on count alone", unit="prompts", min=1
        ),
        "familiar_prompts": Tunable(
            10, "from the person's own context: an info finding, never an alarm", unit="prompts", min=1
        ),
        "high_prompts": Tunable(
            8, "unresolved prompts in the episode that make it high severity", unit="prompts", min=1
        ),
        "push_lifetime_s": Tunable(300, "how long a sent push waits for its answer before it timed out"),
        "approval_grace_s": Tunable(1800, "an approval this soon after the burst escalates to critical"),
        "episode_gap_s": Tunable(3600, "silence after which the next burst is a new episode"),
    },
    actions=(
        "Contact the user out of band; do not rely on a push to reach them.",
        "Require a phishing-resistant factor (or number matching) for this identity until resolved.",
        "If a push was approved: revoke the sessions it opened and review what they did.",
        "Reset the password: the attacker who sends pushes already holds it.",
    ),
    triage=(
        "Check whether any prompt of the burst was approved and from where the prompts were "
        "requested: an unfamiliar source that kept asking is an attacker holding the password; the "
        "person's own office or home network is a broken client retrying."
    ),
    false_positives=(
        "An app or mail client on the person's own device retrying a sign-in with a stale session.",
        "Several browser tabs or devices of the same person asking at once after a password change.",
    ),
    watches=kinds(PROMPT_KINDS, PUSH_OUTCOME_KINDS),
)


class PushBombing:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = BombingState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(META, overrides)
        self.window_s = float(cfg["window_s"])
        self.min_prompts = int(cfg["min_prompts"])
        self.partly_min = int(cfg["partly_min_prompts"])
        self.partly_quiet = int(cfg["partly_quiet_prompts"])
        self.familiar_prompts = int(cfg["familiar_prompts"])
        self.high_prompts = int(cfg["high_prompts"])
        self.lifetime_s = float(cfg["push_lifetime_s"])
        self.grace_s = float(cfg["approval_grace_s"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> BombingState:
        return BombingState()

    # -- the step --------------------------------------------------------------------------------

    def observe(
        self, state: BombingState, event: Event, profile: IdentityProfile
    ) -> tuple[BombingState, list[Detection]]:
        kind = event.kind
        if kind not in _WATCHED:
            return state, []  # the engine hands it no other kind; called directly, others change nothing
        now = event.ts
        found = self._expire(state, now)
        if kind is EventKind.PUSH_APPROVED:
            return state, found + self._approved(state, event, profile)
        if kind is EventKind.PUSH_SENT:
            self._add_prompt(state, event, profile, _PENDING)
        else:  # a refusal: denied, timed out, reported as fraud
            outcome = _TIMEOUT if kind is EventKind.PUSH_TIMEOUT else _DENIED
            pending = self._take_pending(state, now)
            if pending is None:
                self._add_prompt(state, event, profile, outcome)
            else:
                pending.outcome = outcome
                self._count(state, outcome)
                if state.episode is not None:
                    state.episode.add(event)
        return state, found + self._evaluate(state, event, profile)

    def advance(self, state: BombingState, watermark: float) -> tuple[BombingState, list[Detection]]:
        """Silence: unanswered pushes time out; a burst that grew since its last report is reported."""
        found = self._expire(state, watermark)
        burst = state.burst
        if state.episode is not None and burst is not None and self._grew(state.episode, burst):
            found.append(self._report(burst, state.episode, watermark, self._severity(burst, burst.prompts)))
        return state, found

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _grew(episode: Episode, burst: Burst) -> bool:
        return episode.revision > 0 and burst.reported_prompts < burst.prompts

    def _expire(self, state: BombingState, now: float) -> list[Detection]:
        """Slide the window; end the episode after ``episode_gap_s`` of quiet, reporting its growth."""
        for prompt in state.window:
            if prompt.outcome == _PENDING and now - prompt.ts > self.lifetime_s:
                prompt.outcome = _TIMEOUT
                self._count(state, _TIMEOUT)
        prune_before(state.window, now - self.window_s)
        episode, burst = state.episode, state.burst
        if episode is None or burst is None:
            return []
        if now - max(episode.last_ts, burst.approved_ts or 0.0) <= self.gap_s:
            return []
        state.episode = state.burst = None
        state.window.clear()
        if self._grew(episode, burst):
            return [self._report(burst, episode, now, self._severity(burst, burst.prompts))]
        return []

    def _take_pending(self, state: BombingState, now: float) -> Prompt | None:
        for prompt in reversed(state.window):
            if prompt.outcome == _PENDING and now - prompt.ts <= self.lifetime_s:
                return prompt
        return None

    def _add_prompt(self, state: BombingState, event: Event, profile: IdentityProfile, outcome: int) -> None:
        state.window.append(Prompt(event.ts, outcome))
        if len(state.window) > _MAX_WINDOW:
            del state.window[0]
        if state.episode is None or state.burst is None:
            state.episode, state.burst = Episode.open(event), Burst()
        else:
            state.episode.add(event)
        burst = state.burst
        burst.prompts += 1
        burst.idps[str(event.provider)] = burst.idps.get(str(event.provider), 0) + 1
        context = assess(event, profile)
        if context.network != "none" or context.device != "none":  # a phone-only record says nothing
            self._note_context(burst, context)
        self._count(state, outcome)

    @staticmethod
    def _note_context(burst: Burst, context: Familiarity) -> None:
        level = int(context.level)
        if level > burst.level or burst.context is None:
            burst.level, burst.context = level, context
        burst.hostile = burst.hostile or context.hostile
        burst.thin = burst.thin or context.thin

    @staticmethod
    def _count(state: BombingState, outcome: int) -> None:
        burst = state.burst
        if burst is None:
            return
        if outcome == _DENIED:
            burst.denials += 1
        elif outcome == _TIMEOUT:
            burst.timeouts += 1

    def _approved(self, state: BombingState, event: Event, profile: IdentityProfile) -> list[Detection]:
        pending = self._take_pending(state, event.ts)
        if pending is not None:
            state.window.remove(pending)  # answered: no longer unresolved
        episode, burst = state.episode, state.burst
        if episode is None or burst is None or burst.approved_ts is not None:
            return []
        context = assess(event, profile)
        alarmed = bool(episode.severity) and Severity(episode.severity).rank >= Severity.MEDIUM.rank
        if not alarmed or context.level is Level.FAMILIAR:
            if not alarmed:
                # The person is there and answering: the misses before were their own retries (or
                # too few, or too weak, to be a burst: approval_after_denials judges an approval after
                # refusals).
                state.window.clear()
                state.episode = state.burst = None
            return []  # an approval of the person's own sign-in does not end the attacker's burst
        if event.ts - episode.last_ts > self.grace_s:
            return []
        if pending is not None and burst.prompts > 1:
            burst.prompts -= 1  # the approved prompt is the burst's last, not one left unresolved
        burst.approved_ts = event.ts
        episode.add(event)
        self._note_context(burst, context)
        return [self._report(burst, episode, event.ts, Severity.CRITICAL)]

    def _evaluate(self, state: BombingState, event: Event, profile: IdentityProfile) -> list[Detection]:
        episode, burst = state.episode, state.burst
        if episode is None or burst is None:
            return []
        severity = self._severity(burst, len(state.window))
        if severity is None:
            return []
        if episode.escalates_to(severity) or burst.prompts >= 2 * max(1, burst.reported_prompts):
            return [self._report(burst, episode, event.ts, severity)]
        return []

    def _severity(self, burst: Burst, unresolved: int) -> Severity | None:
        """The severity the burst has reached (None: not a burst), from who asked and how often."""
        if burst.approved_ts is not None:
            return Severity.CRITICAL
        level = Level(burst.level)
        if level is Level.FAMILIAR:
            return Severity.INFO if unresolved >= self.familiar_prompts else None
        if level is Level.PARTLY:
            if not ((unresolved >= self.partly_min and burst.denials) or unresolved >= self.partly_quiet):
                return None
        elif unresolved < self.min_prompts:
            return None
        if burst.prompts >= self.high_prompts:
            return Severity.HIGH
        if burst.thin and not burst.hostile and not burst.denials:
            return Severity.LOW
        return Severity.MEDIUM

    def _report(self, burst: Burst, episode: Episode, at: float, reached: Severity | None) -> Detection:
        burst.reported_prompts = burst.prompts
        severity = reached or Severity.INFO
        if episode.severity and Severity(episode.severity).rank > severity.rank:
            severity = Severity(episode.severity)  # a finding never goes down
        minutes = max(1.0, (episode.last_ts - episode.first_ts) / 60.0)
        unanswered = burst.prompts - burst.denials - burst.timeouts
        reasons = [
            f"{burst.prompts} push prompts without approval in {minutes:.0f} min "
            f"({burst.denials} denied, {burst.timeouts} timed out, {max(0, unanswered)} unanswered so far)",
            f"requested from {burst.context.describe() if burst.context else 'an unknown context'}",
        ]
        split = across_idps(burst.idps)
        if split is not None:
            reasons.insert(1, f"across the person's IdPs: {split} in {minutes:.0f} min")
        title = f"Push bombing: {burst.prompts} unanswered prompts in {minutes:.0f} min"
        level = Level(burst.level)
        confidence = {Level.FAMILIAR: 0.2, Level.PARTLY: 0.5, Level.UNFAMILIAR: 0.6}[level]
        confidence += min(0.25, 0.03 * burst.prompts) + (0.1 if burst.denials else 0.0)
        confidence += 0.05 if burst.hostile else (-0.1 if burst.thin else 0.0)
        techniques: tuple[str, ...] = ()
        if level is Level.FAMILIAR:
            title = f"Repeated prompts from the person's own context: {burst.prompts} in {minutes:.0f} min"
            reasons.append(
                "the person's own network or device asked: a broken or absent phone, not an attack"
            )
        if burst.approved_ts is not None:
            delay = burst.approved_ts - episode.last_ts
            reasons.append(
                f"a push was approved {max(0.0, delay) / 60.0:.1f} min after the last unanswered prompt, "
                "from the same unfamiliar side: the account is probably compromised"
            )
            title += ", then approved"
            techniques = ("T1078",)
            confidence = 0.95
        return episode.report(META.id, "", severity, min(0.95, confidence), title, reasons, at, techniques)


_WATCHED = frozenset(META.watches or ())
