"""Push bombing: a burst of push prompts for one identity that the user did not approve.

Counts *unresolved* prompts (denied, timed out, or never answered) in a sliding window since the last
approval. A user who opens five apps at 9:00 gets five prompts and approves each: nothing unresolved,
nothing fires; an approval before the burst has fired clears the count (the misses were the user's own
retries). The burst fires at the ``min_prompts``-th unresolved prompt when something else is off
(``min_denials`` denials, or a source IP in an ASN / country the identity never used), and at
``quiet_min_prompts`` on count alone (a phone left in a drawer while the user retries is the benign
look-alike it waits for). An approval during the burst or within ``approval_grace_s`` after it escalates
to critical: the attacker probably got in.

Prompts arrive in two shapes: Okta logs the prompt (push_sent) and then, if answered, its outcome;
Entra and Duo log one record per prompt, carrying the outcome. An outcome with no pending send within
``push_lifetime_s`` is therefore a prompt of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import (
    Detection,
    DetectorMeta,
    Tunable,
    append_bounded,
    from_ts,
    kinds,
    settings,
)
from pushguard.model import PROMPT_KINDS, PUSH_OUTCOME_KINDS, Event, EventKind, IdentityProfile, Severity

_PENDING, _DENIED, _TIMEOUT, _FRAUD = "p", "d", "t", "f"
_MAX_WINDOW = 200  # prompts kept in the window: far above any threshold, bounds a flood
_MAX_EVIDENCE = 100
_MAX_IPS = 10


class Prompt(msgspec.Struct, array_like=True):
    ts: float
    event_id: str
    ip: str
    outcome: str
    provider: str


class Episode(msgspec.Struct, kw_only=True):
    anchor: str
    first_ts: float
    last_ts: float
    prompts: int = 0
    denials: int = 0
    timeouts: int = 0
    new_source: bool = False
    approved_ts: float | None = None
    approved_id: str | None = None
    revision: int = 0
    severity: str = ""
    reported_prompts: int = 0
    evidence: list[str] = []
    ips: list[str] = []
    providers: list[str] = []


class BombingState(msgspec.Struct, kw_only=True):
    window: list[Prompt] = []
    episode: Episode | None = None


META = DetectorMeta(
    id="push_bombing",
    title="Push bombing (MFA fatigue burst)",
    description=(
        "Unresolved push prompts (denied, timed out, unanswered) for one identity within a sliding window. "
        "Medium at min_prompts with min_denials denials or a new source, or at quiet_min_prompts on count "
        "alone; high "
        "at high_prompts; critical when a push is approved during the burst or within approval_grace_s."
    ),
    severity=Severity.MEDIUM,
    techniques=("T1621",),
    frameworks={
        "nist_csf_2": ("PR.AA-03", "DE.CM-03", "DE.AE-02"),
        "sp800_63b": ("AAL2", "5.2.2 rate limiting", "5.1.3.1 out-of-band authenticators"),
        "owasp_nhi": (),
    },
    tunables={
        "window_s": Tunable(600, "sliding window over which unresolved prompts are counted (seconds)"),
        "min_prompts": Tunable(3, "unresolved prompts that fire when there is a denial or a new source"),
        "min_denials": Tunable(2, "denials in the episode that make min_prompts enough without a new source"),
        "quiet_min_prompts": Tunable(5, "unresolved prompts that fire on count alone"),
        "high_prompts": Tunable(8, "unresolved prompts in the episode that make it high severity"),
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
    watches=kinds(PROMPT_KINDS, PUSH_OUTCOME_KINDS),
)


class PushBombing:
    meta: ClassVar[DetectorMeta] = META
    state_type: ClassVar[type[Any]] = BombingState

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(META, overrides)
        self.window_s = float(cfg["window_s"])
        self.min_prompts = int(cfg["min_prompts"])
        self.quiet_min_prompts = int(cfg["quiet_min_prompts"])
        self.min_denials = int(cfg["min_denials"])
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
            return state, []
        now = event.ts
        found = self._expire(state, now)
        if kind is EventKind.PUSH_APPROVED:
            return state, found + self._approved(state, event, now)
        if kind is EventKind.PUSH_SENT:
            self._add_prompt(state, event, now, _PENDING, profile)
        else:
            outcome = _DENIED if kind is EventKind.PUSH_DENIED else _TIMEOUT
            if kind is EventKind.FRAUD_REPORTED:
                outcome = _FRAUD
            pending = self._take_pending(state, now)
            if pending is None:
                self._add_prompt(state, event, now, outcome, profile)
            else:
                pending.outcome = outcome
                self._count_outcome(state, outcome)
                self._note(state, event)
        return state, found + self._evaluate(state, event)

    def advance(self, state: BombingState, watermark: float) -> tuple[BombingState, list[Detection]]:
        """Silence: unanswered pushes time out; a burst that grew since its last report is reported."""
        found = self._expire(state, watermark)
        episode = state.episode
        if episode is not None and episode.revision and episode.reported_prompts < episode.prompts:
            found.append(self._report(episode, from_ts(watermark)))
        return state, found

    # -- helpers -----------------------------------------------------------------------------------

    def _expire(self, state: BombingState, now: float) -> list[Detection]:
        """Slide the window; end the episode after ``episode_gap_s`` of quiet, reporting its growth."""
        for prompt in state.window:
            if prompt.outcome == _PENDING and now - prompt.ts > self.lifetime_s:
                prompt.outcome = _TIMEOUT
                self._count_outcome(state, _TIMEOUT)
        cutoff = now - self.window_s
        window = state.window
        drop = 0
        while drop < len(window) and window[drop].ts < cutoff:
            drop += 1
        if drop:
            del window[:drop]
        episode = state.episode
        if episode is None or now - max(episode.last_ts, episode.approved_ts or 0.0) <= self.gap_s:
            return []
        state.episode = None
        if episode.revision and episode.reported_prompts < episode.prompts:
            return [self._report(episode, from_ts(now))]
        return []

    def _take_pending(self, state: BombingState, now: float) -> Prompt | None:
        for prompt in reversed(state.window):
            if prompt.outcome == _PENDING and now - prompt.ts <= self.lifetime_s:
                return prompt
        return None

    def _add_prompt(
        self, state: BombingState, event: Event, now: float, outcome: str, profile: IdentityProfile
    ) -> None:
        append_bounded(
            state.window,
            Prompt(now, event.event_id, event.ip or "", outcome, event.provider.value),
            _MAX_WINDOW,
        )
        episode = state.episode
        if episode is None:
            episode = state.episode = Episode(anchor=event.event_id, first_ts=now, last_ts=now)
        episode.prompts += 1
        episode.last_ts = now
        if _is_new_source(event, profile):
            episode.new_source = True
        self._count_outcome(state, outcome)
        self._note(state, event)

    @staticmethod
    def _count_outcome(state: BombingState, outcome: str) -> None:
        episode = state.episode
        if episode is None:
            return
        if outcome in (_DENIED, _FRAUD):
            episode.denials += 1
        elif outcome == _TIMEOUT:
            episode.timeouts += 1

    @staticmethod
    def _note(state: BombingState, event: Event) -> None:
        episode = state.episode
        if episode is None:
            return
        append_bounded(episode.evidence, event.event_id, _MAX_EVIDENCE)
        if event.ip and event.ip not in episode.ips and len(episode.ips) < _MAX_IPS:
            episode.ips.append(event.ip)
        if event.provider.value not in episode.providers:
            episode.providers.append(event.provider.value)

    def _approved(self, state: BombingState, event: Event, now: float) -> list[Detection]:
        pending = self._take_pending(state, now)
        if pending is not None:
            state.window.remove(pending)  # answered: no longer unresolved
        episode = state.episode
        if episode is None or episode.approved_id is not None:
            return []
        if episode.revision == 0:
            # The user is there and answering: the misses before were their own retries, not a burst.
            state.window.clear()
            state.episode = None
            return []
        if now - episode.last_ts > self.grace_s:
            return []
        if pending is not None and episode.prompts > 1:
            episode.prompts -= 1  # the approved prompt is the burst's last, not one left unresolved
        if episode.prompts < self.min_prompts and episode.denials < self.min_denials:
            # The burst fired on the prompt now approved: two misses and an answer, nothing refused, is
            # a user on the road answering late, not a takeover. No critical; the episode ends here.
            state.window.clear()
            state.episode = None
            return []
        episode.approved_ts = now
        episode.approved_id = event.event_id
        self._note(state, event)
        return [self._report(episode, event.time)]

    def _evaluate(self, state: BombingState, event: Event) -> list[Detection]:
        episode = state.episode
        if episode is None:
            return []
        unresolved = len(state.window)  # approved prompts leave the window; the rest are unresolved
        if episode.revision == 0:
            # One denial among a few misses is a fat finger; two, or a source never used, is not.
            suspicious = episode.denials >= self.min_denials or episode.new_source
            if not ((unresolved >= self.min_prompts and suspicious) or unresolved >= self.quiet_min_prompts):
                return []
            return [self._report(episode, event.time)]
        if _severity(self, episode) != episode.severity or episode.prompts >= 2 * episode.reported_prompts:
            return [self._report(episode, event.time)]
        return []

    def _report(self, episode: Episode, at: datetime) -> Detection:
        episode.revision += 1
        episode.severity = _severity(self, episode)
        episode.reported_prompts = episode.prompts
        minutes = max(1.0, (episode.last_ts - episode.first_ts) / 60.0)
        reasons = [
            f"{episode.prompts} push prompts without approval in {minutes:.0f} min "
            f"({episode.denials} denied, {episode.timeouts} timed out, "
            f"{episode.prompts - episode.denials - episode.timeouts} unanswered so far)",
        ]
        if episode.new_source:
            reasons.append("prompts requested from an IP/ASN/country this identity has not used before")
        techniques: tuple[str, ...] = ()
        title = f"Push bombing: {episode.prompts} unanswered prompts in {minutes:.0f} min"
        confidence = min(0.85, 0.45 + 0.05 * episode.prompts + (0.1 if episode.denials else 0.0))
        if episode.new_source:
            confidence = min(0.9, confidence + 0.1)
        if episode.approved_ts is not None:
            delay = episode.approved_ts - episode.last_ts
            reasons.append(
                f"a push was approved {max(0.0, delay) / 60.0:.1f} min after the last unanswered prompt: "
                "the account is probably compromised"
            )
            title += ", then approved"
            techniques = ("T1078",)
            confidence = 0.95
        return Detection(
            detector=META.id,
            identity="",  # filled in by the pipeline, which knows whose state this is
            anchor=episode.anchor,
            revision=episode.revision,
            title=title,
            severity=Severity(episode.severity),
            confidence=confidence,
            first_seen=from_ts(episode.first_ts),
            last_seen=from_ts(max(episode.last_ts, episode.approved_ts or 0.0)),
            detected_at=at,
            evidence=tuple(episode.evidence),
            source_ips=tuple(episode.ips),
            reasons=tuple(reasons),
            providers=tuple(episode.providers),
            techniques=techniques,
        )


def _severity(detector: PushBombing, episode: Episode) -> str:
    if episode.approved_ts is not None:
        return Severity.CRITICAL.value
    if episode.prompts >= detector.high_prompts:
        return Severity.HIGH.value
    return Severity.MEDIUM.value


def _is_new_source(event: Event, profile: IdentityProfile) -> bool:
    if not profile.has_history:
        return False
    if event.ip and profile.ips and not profile.knows_ip(event.ip):
        geo = event.geo
        if geo is None:
            return True
        known_asn = geo.asn is None or profile.knows_asn(geo.asn)
        known_country = geo.country is None or profile.knows_country(geo.country)
        return not (known_asn and known_country)
    return False


_WATCHED = frozenset(
    {
        EventKind.PUSH_SENT,
        EventKind.PUSH_APPROVED,
        EventKind.PUSH_DENIED,
        EventKind.PUSH_TIMEOUT,
        EventKind.FRAUD_REPORTED,
    }
)
