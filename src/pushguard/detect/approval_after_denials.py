"""Approval after denials: a push approved after the identity refused or ignored several prompts in the
window, the moment a fatigue or bombing attack most likely succeeded.

Refusals are weighted: an explicit denial (the user saw the prompt and said no) weighs 2, a timeout or a
prompt left unanswered until the next one weighs 1 (a phone in a drawer does that too), a fraud report
weighs 3. The approval fires when the weight reaches ``min_weight`` (two denials, one denial and two
timeouts, four timeouts), or ``min_weight_new_source`` (a denial and one more refusal) when it comes from
an address, ASN and country the identity never succeeded from. Fatigue is *repeated* prompts (CISA's
number-matching fact sheet): one fat-fingered denial before an approval is below both, also abroad,
where a traveller's new place is ``new_context``'s to judge.

Severity: high; critical when the approval comes from a new source (with history to say so), or after
``critical_weight``; medium when every refusal was a timeout and the approval came from a known place.
Two signals about the approval itself raise it one step: approved within ``fast_approve_s`` of the prompt
(a reflex, not a read) and approved at an hour this identity never authenticates at (its own hour
habit, kept here: the user's own time, never raw UTC). Nothing teaches the habit during an episode."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import SUCCESS_KINDS, Detection, DetectorMeta, Tunable, kinds, settings
from pushguard.detect.episode import Episode, HourHabit, live
from pushguard.model import PROMPT_KINDS, PUSH_OUTCOME_KINDS, Event, EventKind, IdentityProfile, Severity

_MAX_REFUSALS = 24
_WEIGHTS = {"denied": 2, "timeout": 1, "unanswered": 1, "fraud": 3}


class Refusal(msgspec.Struct, array_like=True):
    ts: float
    event_id: str
    how: str  # denied | timeout | unanswered | fraud
    source: str  # the IP that requested the refused prompt ("" when unknown)


class AfterDenialsState(msgspec.Struct, kw_only=True):
    refusals: list[Refusal] = []
    pending_ts: float = 0.0  # the last prompt not answered yet (0: none)
    pending_id: str = ""
    pending_source: str = ""
    episode: Episode | None = None
    habit: HourHabit = msgspec.field(default_factory=HourHabit)


META = DetectorMeta(
    id="approval_after_denials",
    title="Push approved after denied or ignored prompts",
    description=(
        "A push approval after refusals in window_s weighing at least min_weight (denial 2, timeout or "
        "unanswered 1, fraud report 3), or min_weight_new_source when approved from a source the identity "
        "never succeeded from. High; critical from a new source or at critical_weight; medium when only "
        "timeouts preceded an approval from a known place. A reflexive approval (within fast_approve_s) "
        "or one at an hour the identity is never active raises it one step."
    ),
    severity=Severity.HIGH,
    techniques=("T1621", "T1078"),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-03", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.1.3.1 out-of-band authenticators", "5.2.2 rate limiting"),
        "owasp_nhi": (),
    },
    tunables={
        "window_s": Tunable(4 * 3600, "refusals this long before the approval count (seconds)"),
        "min_weight": Tunable(4, "refusal weight that makes an approval suspicious"),
        "min_weight_new_source": Tunable(
            3, "refusal weight enough when the approval's source is new (one denial alone is a fat finger)"
        ),
        "critical_weight": Tunable(8, "refusal weight that makes it critical wherever it came from"),
        "fast_approve_s": Tunable(3.0, "an approval this soon after its prompt is a reflex"),
        "min_history": Tunable(10, "past sign-ins needed before an hour or a source can be unusual"),
        "episode_gap_s": Tunable(6 * 3600, "a later approval after this much quiet is a new finding"),
    },
    actions=(
        "Treat the account as compromised: revoke its sessions and refresh tokens now.",
        "Remove any factor enrolled since the first refusal; check mailbox rules and OAuth grants.",
        "Call the user out of band: did they approve it? Reset the password they did not protect.",
        "Move the identity to number matching or a phishing-resistant factor.",
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
        self.min_weight_new = int(cfg["min_weight_new_source"])
        self.critical_weight = int(cfg["critical_weight"])
        self.fast_s = float(cfg["fast_approve_s"])
        self.min_history = int(cfg["min_history"])
        self.gap_s = float(cfg["episode_gap_s"])

    def initial_state(self) -> AfterDenialsState:
        return AfterDenialsState()

    def observe(
        self, state: AfterDenialsState, event: Event, profile: IdentityProfile
    ) -> tuple[AfterDenialsState, list[Detection]]:
        kind = event.kind
        now = event.ts
        if kind is EventKind.PUSH_SENT:
            if state.pending_ts:
                self._refuse(state, state.pending_ts, state.pending_id, "unanswered", state.pending_source)
            state.pending_ts, state.pending_id, state.pending_source = now, event.event_id, event.ip or ""
            return state, []
        if kind in (EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT, EventKind.FRAUD_REPORTED):
            how = {EventKind.PUSH_DENIED: "denied", EventKind.PUSH_TIMEOUT: "timeout"}.get(kind, "fraud")
            self._refuse(state, now, event.event_id, how, self._requester(state, event))
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
        prune_before_refusals(state.refusals, now - self.window_s)
        detections = self._judge(state, event, profile, prompt_ts, source)
        self._learn(state, now)
        # The approval resolves the refusals of its own source; others (an attacker's, while the user
        # approves their own sign-in from home) stay until they age out of the window.
        state.refusals = [r for r in state.refusals if r.source != source]
        return state, detections

    def advance(
        self, state: AfterDenialsState, watermark: float
    ) -> tuple[AfterDenialsState, list[Detection]]:
        state.episode = live(state.episode, watermark, self.gap_s)
        return state, []

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _requester(state: AfterDenialsState, event: Event) -> str:
        """The address that asked for the prompt: the pending push's, unless the record names it (an
        Okta deny_push comes from the phone: its IP is the responder's, not the requester's)."""
        if event.ip and event.responder_ip != event.ip:
            return event.ip
        return state.pending_source

    def _learn(self, state: AfterDenialsState, now: float) -> None:
        """Sign-ins teach the hour habit, except while an episode is open: the attacker's approval and
        the sign-in it buys must not make their hour usual."""
        if state.episode is None or now - state.episode.last_ts > self.gap_s:
            state.habit.learn(now)

    @staticmethod
    def _refuse(state: AfterDenialsState, ts: float, event_id: str, how: str, source: str) -> None:
        state.refusals.append(Refusal(ts, event_id, how, source))
        if len(state.refusals) > _MAX_REFUSALS:
            del state.refusals[0]

    def _judge(
        self, state: AfterDenialsState, event: Event, profile: IdentityProfile, prompt_ts: float, source: str
    ) -> list[Detection]:
        refusals = [r for r in state.refusals if r.source == source] if source else list(state.refusals)
        if not refusals and self.min_weight > 0:
            return []  # most approvals: nothing was refused before them
        counts = dict.fromkeys(_WEIGHTS, 0)
        for refusal in refusals:
            counts[refusal.how] += 1
        weight = sum(_WEIGHTS[how] * count for how, count in counts.items())
        said_no = counts["denied"] + counts["fraud"] > 0
        history = len(profile.successes) >= self.min_history
        geo = event.geo
        new_source = (
            history
            and not profile.knows_ip(event.ip)
            and not (geo is not None and profile.knows_asn(geo.asn))
            and not (geo is not None and profile.knows_country(geo.country))
        )
        # A timeout from a new place is a traveller whose phone was slow; a "no" from there is not.
        if weight < self.min_weight and not (new_source and said_no and weight >= self.min_weight_new):
            return []
        if (new_source and said_no) or weight >= self.critical_weight:
            severity = Severity.CRITICAL
        elif said_no:
            severity = Severity.HIGH
        else:
            severity = Severity.MEDIUM
        reasons = [
            f"approved after {len(refusals)} refused prompts from the same source in the last "
            f"{self.window_s / 3600:.0f} h ({counts['denied']} denied, "
            f"{counts['timeout'] + counts['unanswered']} timed out or unanswered, "
            f"{counts['fraud']} reported as fraud; weight {weight})"
        ]
        if new_source:
            place = (
                ", ".join(x for x in (geo.country, f"AS{geo.asn}" if geo.asn else None) if x) if geo else ""
            )
            reasons.append(
                f"approved from {event.ip} ({place or 'unknown place'}), never used by this identity"
            )
        bumps = 0
        if prompt_ts and event.ts - prompt_ts <= self.fast_s:
            reasons.append(f"approved {event.ts - prompt_ts:.1f} s after the prompt: a reflex, not a read")
            bumps += 1
        if state.habit.unusual(event.ts, self.min_history):
            reasons.append(
                f"approved at {state.habit.describe(event.ts)}: an hour this identity never signs in at"
            )
            bumps += 1
        if bumps and severity is not Severity.CRITICAL:
            severity = Severity.CRITICAL if severity is Severity.HIGH else Severity.HIGH
        episode = state.episode
        if episode is None or event.ts - episode.last_ts > self.gap_s:
            first = refusals[0] if refusals else None
            episode = state.episode = Episode(
                anchor=first.event_id if first else event.event_id,
                first_ts=first.ts if first else event.ts,
                last_ts=event.ts,
            )
        for refusal in refusals:
            if refusal.event_id not in episode.evidence:
                episode.evidence.append(refusal.event_id)
        episode.add(event)
        if not episode.escalates_to(severity):
            return []
        confidence = 0.6 + 0.05 * min(weight, 6) + (0.1 if new_source else 0.0)
        title = f"Push approved after {len(refusals)} refused prompts"
        if new_source:
            title += " from a new source"
        return [episode.report(self.meta.id, event.identity, severity, confidence, title, reasons, event.ts)]


def prune_before_refusals(refusals: list[Refusal], cutoff: float) -> None:
    stale = 0
    while stale < len(refusals) and refusals[stale].ts < cutoff:
        stale += 1
    del refusals[:stale]
