"""Privileged action after a risky push approval: the approval that bombing or fatigue won is followed by
the thing the attacker came for (a role granted, an API token or service-principal credential created, an
app consented, an admin console opened).

An approval is risky when refused or unanswered prompts weighing ``refusal_weight`` came in the
``refusals_before_s`` before it (timeout 1, denial 2, fraud report 3: two denials, or three prompts left
to time out), when it came from a country the identity never succeeded from through a context that is not
theirs (``detect.familiarity``: their registered device abroad is a business trip), from a device and a
network the person never used (an admin's work comes from their own machine), or while another
finding (medium or worse) is open on the identity (the shared profile's ``open_findings``). A lighter
refusal (one denial, two timeouts: a phone left on the desk) or a network unfamiliar to the person and the
organisation alone is not enough; both together are.
A privileged action by the same identity within ``window_s`` of a risky approval is high, critical when
the approval was risky on two counts or another finding is at least high. Admins approve pushes and do
privileged work every day: an ordinary approval followed by privileged work stays quiet."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, Tunable, append_bounded, kinds, settings
from pushguard.detect.episode import REFUSAL_WEIGHT, Episode, Refusal
from pushguard.detect.familiarity import Level, assess
from pushguard.model import Event, EventKind, IdentityProfile, Severity

_RISK_DETECTORS = frozenset(
    {
        "push_bombing",
        "push_fatigue",
        "approval_after_denials",
        "fraud_report",
        "requester_responder_mismatch",
        "impossible_travel",
        "new_context",
        "enrollment_abuse",
        "reset_enroll_chain",
        "password_spray",
    }
)


class RiskyApproval(msgspec.Struct, kw_only=True):
    ts: float
    event_id: str
    ip: str
    why: list[str]
    serious: bool  # risky on two counts, or a high finding open
    fatigue: bool = False  # refused prompts were part of it (the approval was likely farmed: T1621)


class PrivilegedState(msgspec.Struct, kw_only=True):
    approval: RiskyApproval | None = None
    episode: Episode | None = None
    refusals: list[Refusal] = []  # the last MAX_REFUSALS, oldest first


MAX_REFUSALS = 16
MAX_WHY = 8


META = DetectorMeta(
    id="privileged_after_risky_approval",
    title="Privileged action right after a risky push approval",
    description=(
        "A privileged action (role or group privilege grant, API token / service-principal credential, "
        "consent, admin console) by the identity within window_s of a risky push approval: after refused "
        "or unanswered prompts weighing refusal_weight within refusals_before_s (timeout 1, denial 2, "
        "fraud report 3), from a new country, with another finding (medium+) open, or a lighter refusal "
        "together with a new network. High; critical when the approval was risky on two counts or a "
        "high/critical finding is open."
    ),
    severity=Severity.HIGH,
    techniques=("T1078", "T1098"),
    frameworks={
        "nist_csf_2": ("PR.AA-05", "PR.AA-03", "DE.CM-03", "RS.MA-02"),
        "sp800_63b": ("AAL2", "AAL3 for privileged access"),
        "owasp_nhi": ("NHI7",),
    },
    tunables={
        "window_s": Tunable(4 * 3600, "a privileged action this soon after a risky approval fires"),
        "refusals_before_s": Tunable(3600, "refused prompts this long before an approval count"),
        "refusal_weight": Tunable(
            3, "refusals weighing this much (timeout 1, denial 2, fraud report 3) make it risky alone"
        ),
        "open_finding_s": Tunable(24 * 3600, "a finding opened this recently makes the approval risky"),
        "min_history": Tunable(5, "past successes before a place can be new"),
    },
    actions=(
        "Revert the privileged change (role, token, credential, consent) and revoke the identity's sessions.",
        "Treat the account as compromised: reset the password, remove factors enrolled since the approval.",
        "Hunt for what the new privilege was used for (audit log after the action).",
        "Require a phishing-resistant factor for privileged roles (AAL3).",
    ),
    triage=(
        "Identify the privileged change (role, token, credential, consent) in the admin audit log "
        "and ask the admin's manager whether it was planned; a change made from the same unfamiliar "
        "session as the risky approval is the attacker's."
    ),
    false_positives=(
        "An administrator who refused a stray prompt, then approved their own and did planned work.",
        "Change windows where admins sign in from a new jump host.",
    ),
    watches=kinds(REFUSAL_WEIGHT, (EventKind.PUSH_APPROVED, EventKind.PRIVILEGED_ACTION)),
)


class PrivilegedAfterRiskyApproval:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = PrivilegedState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.window_s = float(cfg["window_s"])
        self.refusals_s = float(cfg["refusals_before_s"])
        self.refusal_weight = int(cfg["refusal_weight"])
        self.open_s = float(cfg["open_finding_s"])
        self.min_history = int(cfg["min_history"])

    def initial_state(self) -> PrivilegedState:
        return PrivilegedState()

    def observe(
        self, state: PrivilegedState, event: Event, profile: IdentityProfile
    ) -> tuple[PrivilegedState, list[Detection]]:
        weight = REFUSAL_WEIGHT.get(event.kind)
        if weight is not None:
            append_bounded(state.refusals, Refusal(int(event.ts), weight), MAX_REFUSALS)
            return state, []
        if event.kind is EventKind.PUSH_APPROVED:
            self._judge_approval(state, event, profile)
            return state, []
        approval = state.approval
        if event.kind is not EventKind.PRIVILEGED_ACTION or approval is None:
            return state, []
        if event.ts - approval.ts > self.window_s:
            state.approval = None
            return state, []
        severity = Severity.CRITICAL if approval.serious else Severity.HIGH
        episode = state.episode
        if episode is None or episode.anchor != approval.event_id:
            episode = state.episode = Episode(
                anchor=approval.event_id, first_ts=approval.ts, last_ts=event.ts
            )
            episode.evidence.append(approval.event_id)
            if approval.ip:
                episode.ips.append(approval.ip)
        episode.add(event)
        if not episode.escalates_to(severity):
            return state, []
        what = event.detail or "a privileged action"
        minutes = (event.ts - approval.ts) / 60.0
        reasons = [
            f"{what} {minutes:.0f} min after a push approval that was risky: " + "; ".join(approval.why),
        ]
        if event.app:
            reasons.append(f"on {event.app}")
        title = f"Privileged action {minutes:.0f} min after a risky approval: {what}"
        confidence = 0.9 if approval.serious else 0.75
        return state, [
            episode.report(
                self.meta.id,
                event.identity,
                severity,
                confidence,
                title,
                reasons,
                event.ts,
                techniques=("T1621",) if approval.fatigue else (),
            )
        ]

    def _judge_approval(self, state: PrivilegedState, event: Event, profile: IdentityProfile) -> None:
        """Remember a risky approval. An ordinary approval after it does not clear it (the attacker's
        session stays theirs when the victim later approves their own prompt); another risky one within
        the window joins it, so one attack stays one finding."""
        why, serious, fatigue = self._risk(event, profile, state.refusals)
        if not why:
            return
        held = state.approval
        if held is not None and event.ts - held.ts <= self.window_s:
            held.ts = event.ts
            held.why = list(dict.fromkeys([*held.why, *why]))[:MAX_WHY]
            held.serious = held.serious or serious
            held.fatigue = held.fatigue or fatigue
            return
        state.approval = RiskyApproval(
            ts=event.ts,
            event_id=event.event_id,
            ip=event.ip or "",
            why=why,
            serious=serious,
            fatigue=fatigue,
        )

    def advance(self, state: PrivilegedState, watermark: float) -> tuple[PrivilegedState, list[Detection]]:
        if state.approval is not None and watermark - state.approval.ts > self.window_s:
            state.approval = None
        if state.refusals and watermark - state.refusals[-1].ts > self.refusals_s:
            state.refusals = []  # none could make a later approval risky any more
        return state, []

    def _risk(
        self, event: Event, profile: IdentityProfile, refusals: list[Refusal]
    ) -> tuple[list[str], bool, bool]:
        """Why the approval is risky (empty: it is not) and whether it is seriously so. Strong signals
        alone make it risky (refusals weighing refusal_weight, a new country, a medium-or-worse finding
        open); weak ones (a denial or two timeouts, a new network) need each other: admins fat-finger
        prompts, leave their phone on the desk and change ISPs too."""
        now = event.ts
        strong: list[str] = []
        weak: list[str] = []
        serious = False
        recent = [r for r in refusals if 0 <= now - r.ts <= self.refusals_s]
        weight = sum(r.weight for r in recent)
        if weight:
            text = (
                f"{len(recent)} prompt(s) refused or unanswered in the "
                f"{self.refusals_s / 60:.0f} min before (weight {weight}: timeout 1, denial 2, report 3)"
            )
            if weight >= self.refusal_weight:
                strong.append(text)
            elif weight >= 2:
                weak.append(text)
        fatigue = weight >= 2
        geo = event.geo
        context = assess(event, profile)
        if len(profile.successes) >= self.min_history and context.level is Level.UNFAMILIAR:
            if context.abroad and geo is not None:
                strong.append(f"approved from {geo.country}, new to this identity: {context.describe()}")
            elif context.device == "new":  # neither the machine nor the network: not the admin's desk
                strong.append(f"approved from {context.describe()}")
            else:
                weak.append(f"approved from {context.describe()}")
        for detector, (rank, at) in profile.open_findings.items():
            if context.level is Level.FAMILIAR:
                break  # the admin at their own desk the morning after: the open finding is about someone else
            if detector in _RISK_DETECTORS and 0 <= now - at <= self.open_s and rank >= Severity.MEDIUM.rank:
                strong.append(f"{detector} finding open")
                serious = serious or rank >= Severity.HIGH.rank
        if not strong and len(weak) < 2:
            return [], False, False
        return strong + weak, serious or len(strong) >= 2, fatigue
