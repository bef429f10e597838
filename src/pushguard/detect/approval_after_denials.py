"""Approval after denials: a push approved after the identity refused or ignored prompts from the same
requesting side, when that side is not the person's own: the moment a fatigue or bombing attack most
likely succeeded.

Refusals are weighed with the kit's one table (``episode.REFUSAL_WEIGHT``: a denial 2, a timeout or a
prompt left unanswered until the next one 1, a fraud report 3) and grouped by the address that asked for
them. What the approval means depends on who asked for it (``detect.familiarity``):

- the person's own network or device: one or two quick denials and then an approval is a fat finger, a
  phone out of reach is a phone out of reach: nothing, whatever the weight;
- partly familiar (their browser from a new network, an operator colleagues use): ``min_weight`` with a
  denial (two denials, a denial and two misses) gives medium, ``critical_weight`` high;
- unfamiliar to the person and the organisation: ``min_weight_unfamiliar`` (one denial, or two missed
  prompts) gives high, critical with a denial and a hostile sign (a country or hosting nobody here uses)
  or at ``min_weight`` with a denial; with thin history and nothing hostile, one step lower (low when
  nobody said no: a new hire's phone missing prompts while they set up).

Two signals about the approval itself raise it one step: approved within ``fast_approve_s`` of the prompt
(a reflex, not a read) and approved at an hour this identity never authenticates at (its own hour habit,
kept here: the user's own time, never raw UTC). Nothing teaches the habit during an episode.

Triage: ask the person whether they approved a sign-in then, and from where. Known false positives: a
person on a new network (a hotel, a new ISP) who denied a prompt by mistake before approving."""

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
    IDP_NAMES,
    REFUSAL_WEIGHT,
    UNANSWERED_WEIGHT,
    Episode,
    HourHabit,
    Refusal,
    across_idps,
    live,
    refusal_counts,
    tally,
)
from pushguard.detect.familiarity import Level, assess, requester_ip
from pushguard.model import (
    PROMPT_KINDS,
    PUSH_OUTCOME_KINDS,
    Event,
    EventKind,
    IdentityProfile,
    Provider,
    Severity,
)

_MAX_REFUSALS = 24
_SESSION_KINDS = frozenset({EventKind.SIGNIN_SUCCESS, EventKind.MFA_SUCCESS})
_WATCHED = frozenset((*PROMPT_KINDS, *PUSH_OUTCOME_KINDS, *SUCCESS_KINDS))
_STEP_UP = {Severity.MEDIUM: Severity.HIGH, Severity.HIGH: Severity.CRITICAL}
_STEP_DOWN = {Severity.CRITICAL: Severity.HIGH, Severity.HIGH: Severity.MEDIUM}


class Held(msgspec.Struct, kw_only=True):
    """A verdict on an approval whose record named no device, held until the sign-in it opened says
    which device it was (Okta logs the registered device on user.session.start, a second later)."""

    ts: float
    event_id: str
    ip: str
    provider: str
    severity: str
    confidence: float
    title: str
    reasons: list[str]
    refusal_ids: list[str]
    first_ts: float


class AfterDenialsState(msgspec.Struct, kw_only=True, omit_defaults=True):
    refusals: list[Refusal] = []
    held: Held | None = None
    pending_ts: float = 0.0  # the last prompt not answered yet (0: none)
    pending_id: str = ""
    pending_source: str = ""
    pending_provider: str = ""
    episode: Episode | None = None
    habit: HourHabit = msgspec.field(default_factory=HourHabit)


META = DetectorMeta(
    id="approval_after_denials",
    title="Push approved after denied or ignored prompts",
    description=(
        "A push approval after refusals from the same requesting address within window_s (denial 2, "
        "timeout or unanswered 1, fraud report 3), judged by who asked: nothing from the person's own "
        "network or device; partly familiar, medium at min_weight with a denial (high at critical_weight); "
        "unfamiliar to the person and the organisation, high at min_weight_unfamiliar, critical with a "
        "denial and a hostile sign or at min_weight; one step lower with thin history. A reflexive "
        "approval (within fast_approve_s) or one at an hour the identity is never active raises it a step."
    ),
    severity=Severity.HIGH,
    techniques=("T1621", "T1078"),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-03", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.1.3.1 out-of-band authenticators", "5.2.2 rate limiting"),
        "owasp_nhi": (),
    },
    tunables={
        "window_s": Tunable(
            48 * 3600, "refusals from the same address this long before the approval count (seconds)"
        ),
        "min_weight": Tunable(4, "refusal weight that makes a partly familiar approval suspicious"),
        "min_weight_unfamiliar": Tunable(
            2, "refusal weight enough when the approval comes from a context nobody here knows"
        ),
        "critical_weight": Tunable(8, "refusal weight that makes it one step worse wherever it came from"),
        "fast_approve_s": Tunable(3.0, "an approval this soon after its prompt is a reflex"),
        "min_history": Tunable(10, "past sign-ins needed before an hour can be unusual"),
        "episode_gap_s": Tunable(6 * 3600, "a later approval after this much quiet is a new finding"),
        "hold_s": Tunable(
            10.0,
            "an Okta approval (its record names no device) waits this long for the session it opened, "
            "which names the registered device: the person's own device clears it",
        ),
    },
    actions=(
        "Treat the account as compromised: revoke its sessions and refresh tokens now.",
        "Remove any factor enrolled since the first refusal; check mailbox rules and OAuth grants.",
        "Call the user out of band: did they approve it? Reset the password they did not protect.",
        "Move the identity to number matching or a phishing-resistant factor.",
    ),
    triage=(
        "Look at the approved prompt's requesting IP, device and place next to the refused ones: "
        "the same unfamiliar source for the refusals and the approval means the person gave in; a "
        "refusal from their own phone's network followed by an approval at their desk is them."
    ),
    false_positives=(
        "A person who refuses a prompt by mistake and approves the retry from the same place a minute later.",
        "A new phone or laptop on its first days (new device, little history), retried after a timeout.",
    ),
    watches=kinds(PROMPT_KINDS, PUSH_OUTCOME_KINDS, SUCCESS_KINDS),
)


class ApprovalAfterDenials:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = AfterDenialsState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.window_s = float(cfg["window_s"])
        self.min_weight = int(cfg["min_weight"])
        self.min_weight_unfamiliar = int(cfg["min_weight_unfamiliar"])
        self.critical_weight = int(cfg["critical_weight"])
        self.fast_s = float(cfg["fast_approve_s"])
        self.min_history = int(cfg["min_history"])
        self.gap_s = float(cfg["episode_gap_s"])
        self.hold_s = float(cfg["hold_s"])

    def initial_state(self) -> AfterDenialsState:
        return AfterDenialsState()

    def observe(
        self, state: AfterDenialsState, event: Event, profile: IdentityProfile
    ) -> tuple[AfterDenialsState, list[Detection]]:
        if event.kind not in _WATCHED:
            return state, []  # the engine hands it no other kind; called directly, others change nothing
        released = self._settle(state, event, profile)  # None: the held approval was the person's own
        state, found = self._observe(state, event, profile)
        return state, (released or []) + found

    def _observe(
        self, state: AfterDenialsState, event: Event, profile: IdentityProfile
    ) -> tuple[AfterDenialsState, list[Detection]]:
        kind = event.kind
        now = event.ts
        if kind is EventKind.PUSH_SENT:
            if state.pending_ts:
                self._refuse(
                    state,
                    state.pending_ts,
                    state.pending_id,
                    UNANSWERED_WEIGHT,
                    state.pending_source,
                    state.pending_provider,
                )
            state.pending_ts, state.pending_id = now, event.event_id
            state.pending_source = requester_ip(event) or ""
            state.pending_provider = str(event.provider)
            return state, []
        weight = REFUSAL_WEIGHT.get(kind)
        if weight is not None:
            self._refuse(
                state, now, event.event_id, weight, self._requester(state, event), str(event.provider)
            )
            state.pending_ts, state.pending_id, state.pending_source = 0.0, "", ""
            return state, []
        if kind is EventKind.MFA_SUCCESS:
            source = event.ip or ""  # the user got in from there with another factor: those were theirs
            state.refusals = [r for r in state.refusals if r.source != source]
        if kind in (EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS):
            self._learn(state, now)
            return state, []
        if kind is not EventKind.PUSH_APPROVED:
            return state, []
        prompt_ts = state.pending_ts
        source = self._requester(state, event)
        state.pending_ts, state.pending_id, state.pending_source = 0.0, "", ""
        prune_before(state.refusals, now - self.window_s)
        detections = self._judge(state, event, profile, prompt_ts, source)
        self._learn(state, now)
        # The approval resolves the refusals of its own source; others (an attacker's, while the user
        # approves their own sign-in from home) stay until they age out of the window.
        state.refusals = [r for r in state.refusals if r.source != source]
        return state, detections

    def advance(
        self, state: AfterDenialsState, watermark: float
    ) -> tuple[AfterDenialsState, list[Detection]]:
        found: list[Detection] = []
        held = state.held
        # Silence: the watermark reaching the approval means every record up to it was seen (a stream
        # advances with its allowed lateness behind; a batch at its end), so the session never came.
        if held is not None and watermark >= held.ts:
            found = self._release(state, min(watermark, held.ts + self.hold_s))
        state.episode = live(state.episode, watermark, self.gap_s)
        prune_before(state.refusals, watermark - self.window_s)
        return state, found

    def _settle(
        self, state: AfterDenialsState, event: Event, profile: IdentityProfile
    ) -> list[Detection] | None:
        """A held verdict meets the next event: dropped (None) when that is the session the approval
        opened, from the same address within hold_s, on the person's own registered device; else
        reported (now, or once hold_s has passed)."""
        held = state.held
        if held is None:
            return []
        if event.ts - held.ts <= self.hold_s:
            if event.kind in _SESSION_KINDS and (requester_ip(event) or "") == held.ip:
                device = event.device
                if device is not None and device.id and assess(event, profile).device == "own":
                    state.held = None
                    return None
                return []  # a session record without a device: wait for the next one or the time
            if event.kind not in PROMPT_KINDS and event.kind not in PUSH_OUTCOME_KINDS:
                return []
        return self._release(state, min(event.ts, held.ts + self.hold_s))

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _requester(state: AfterDenialsState, event: Event) -> str:
        """The address that asked for the prompt: the record's, unless the record names only the phone
        (then the pending push's)."""
        return requester_ip(event) or state.pending_source

    def _learn(self, state: AfterDenialsState, now: float) -> None:
        """Sign-ins teach the hour habit, except while an episode is open: the attacker's approval and
        the sign-in it buys must not make their hour usual."""
        if state.held is None and (state.episode is None or now - state.episode.last_ts > self.gap_s):
            state.habit.learn(now)

    @staticmethod
    def _refuse(
        state: AfterDenialsState, ts: float, event_id: str, weight: int, source: str, provider: str
    ) -> None:
        append_bounded(state.refusals, Refusal(int(ts), weight, event_id, source, provider), _MAX_REFUSALS)

    def _severity(
        self, level: Level, weight: int, said_no: bool, hostile: bool, thin: bool
    ) -> Severity | None:
        """What refusals of ``weight`` before an approval from a context of ``level`` amount to."""
        if level is Level.FAMILIAR:
            return None
        if level is Level.PARTLY:
            if weight < self.min_weight or not said_no:
                return None
            return Severity.HIGH if weight >= self.critical_weight else Severity.MEDIUM
        if weight < self.min_weight_unfamiliar:
            return None
        severity = Severity.HIGH
        if said_no and (hostile or weight >= self.min_weight):
            severity = Severity.CRITICAL
        if thin and not hostile:
            # a new identity's first days: prompts it missed while setting up say little; a "no" more
            severity = _STEP_DOWN.get(severity, severity) if said_no else Severity.LOW
        return severity

    def _judge(
        self, state: AfterDenialsState, event: Event, profile: IdentityProfile, prompt_ts: float, source: str
    ) -> list[Detection]:
        refusals = [r for r in state.refusals if r.source == source] if source else list(state.refusals)
        if not refusals:
            return []  # most approvals: nothing was refused before them
        weight, denied, missed, fraud = refusal_counts(refusals)
        context = assess(event, profile)
        level = context.level
        severity = self._severity(level, weight, denied + fraud > 0, context.hostile, context.thin)
        if severity is None:
            return []
        if weight >= self.critical_weight and level is Level.UNFAMILIAR:
            severity = _STEP_UP.get(severity, severity)
        reasons = [
            f"approved after {len(refusals)} refused prompts from the same source in the last "
            f"{self.window_s / 3600:.0f} h ({denied} denied, {missed} timed out or unanswered, "
            f"{fraud} reported as fraud; weight {weight})",
            f"the approved sign-in came from {context.describe()}",
        ]
        refused_on = tally(r.provider for r in refusals)
        if len(set(refused_on) | {str(event.provider)}) > 1:
            split = across_idps(refused_on, "refused") or ", ".join(
                f"{n} refused on {IDP_NAMES.get(p, p)}" for p, n in refused_on.items()
            )
            approved_on = IDP_NAMES.get(str(event.provider), str(event.provider))
            reasons.insert(1, f"across the person's IdPs: {split}; approved on {approved_on}")
        bumps = 0
        if prompt_ts and event.ts - prompt_ts <= self.fast_s:
            reasons.append(f"approved {event.ts - prompt_ts:.1f} s after the prompt: a reflex, not a read")
            bumps += 1
        if state.habit.unusual(event.ts, self.min_history):
            reasons.append(
                f"approved at {state.habit.describe(event.ts)}: an hour this identity never signs in at"
            )
            bumps += 1
        if bumps:
            severity = _STEP_UP.get(severity, severity)
        confidence = {Level.PARTLY: 0.55, Level.UNFAMILIAR: 0.7}.get(level, 0.5) + 0.04 * min(weight, 6)
        confidence += 0.05 if context.hostile else (-0.1 if context.thin else 0.0)
        title = f"Push approved after {len(refusals)} refused prompts"
        if level is Level.UNFAMILIAR:
            title += " from a context nobody here uses"
        found = self._release(state, event.ts) if state.held is not None else []
        state.held = Held(
            ts=event.ts,
            event_id=event.event_id,
            ip=requester_ip(event) or "",
            provider=str(event.provider),
            severity=severity.value,
            confidence=confidence,
            title=title,
            reasons=reasons,
            refusal_ids=[r.event_id for r in refusals],
            first_ts=float(refusals[0].ts),
        )
        # Okta names the registered device on the session start a second later, not on the push answer;
        # the other vendors name it on the record itself or nowhere: judged now
        named = event.device is not None and bool(event.device.id)
        if named or event.provider is not Provider.OKTA or self.hold_s <= 0:
            found += self._release(state, event.ts)
        return found

    def _release(self, state: AfterDenialsState, at: float) -> list[Detection]:
        """Report the held verdict (at ``at``), as a new episode or an escalation of the open one."""
        held = state.held
        state.held = None
        if held is None:
            return []
        episode = state.episode
        if episode is None or held.ts - episode.last_ts > self.gap_s:
            anchor = held.refusal_ids[0] if held.refusal_ids else held.event_id
            episode = state.episode = Episode(anchor=anchor, first_ts=held.first_ts, last_ts=held.ts)
        for event_id in held.refusal_ids:
            episode.note(event_id)
        episode.note(held.event_id, ts=held.ts, ip=held.ip, provider=held.provider)
        severity = Severity(held.severity)
        if not episode.escalates_to(severity):
            return []
        return [episode.report(self.meta.id, "", severity, held.confidence, held.title, held.reasons, at)]
