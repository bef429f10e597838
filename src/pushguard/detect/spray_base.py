"""The machinery of the spray detectors (``push_spray``, ``password_spray``): state per source, the tally
of its targets, episodes and their revisions. What a variant decides (its source key, what "known" means)
and its metadata are in the detector modules; the targets and the attribution of a spray to accounts are
in ``spray_targets``.

Per source, one small ``Target`` per identity within ``window_s`` (bounded, the oldest-touched evicted).
A *suspect* is a target that got a push prompt, an MFA step or a password failure from the source, did
not approve or complete MFA from it (denied, reported, timed out, failed, or no answer within
``answer_grace_s``), and had never used the source before. The spray fires when there are
``min_identities`` suspects, at least ``min_push_identities`` of them prompted (the attacker holds their
passwords), and suspects are at least ``min_unresolved_ratio`` of all identities seen from the source.
Then the finding about the source names every targeted account, and each one that got past the password
there gets a finding of its own."""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, finding_id, from_ts, kinds, settings
from pushguard.detect.spray_targets import (
    APPROVED,
    KNOWN,
    Attribution,
    Remembered,
    Tally,
    Target,
    Victim,
    apply,
    count_once,
    count_target,
    forget_before,
    is_open,
    is_victim,
    listing,
    merge_events,
    remember,
    still_remembered,
    tally_targets,
    victim_detection,
)
from pushguard.model import Event, EventKind, IdentityProfile, PrincipalType, Severity

_MAX_EVIDENCE = 200
_MAX_LISTED = 20  # IPs / providers / approving identities kept for a report
_EVAL_EVERY_S = 5.0  # event-time throttle on evaluation while no episode is open (a busy NAT is cheap)


class SprayEpisode(msgspec.Struct, kw_only=True, omit_defaults=True):
    anchor: str
    first_ts: float
    last_ts: float
    revision: int = 0
    severity: str = ""
    reported_suspects: int = 0
    reported_prompted: int = 0
    peak_suspects: int = 0
    approved: list[str] = []  # targets that approved from this source (unknown to them) in the episode
    evidence: list[tuple[float, str]] = []
    attribution: Attribution = msgspec.field(default_factory=Attribution)


class SprayState(msgspec.Struct, kw_only=True, omit_defaults=True):
    targets: dict[str, Target] = {}
    key: str = ""  # the partition (IP or ASN), for reports made by advance
    episode: SprayEpisode | None = None
    next_eval: float = 0.0
    ips: list[str] = []
    providers: list[str] = []
    # Targets neither known to the source nor approved from it: a bound on the suspects, kept as targets
    # come, change and go, so a busy gateway's evaluation is skipped without a pass over its targets.
    # -1: not counted yet (a state stored before the count existed).
    open_targets: int = -1
    # Victims (got past the password) that left the targets while no spray was recognised.
    remembered: list[Remembered] = []


SPRAY_WATCHES = kinds(
    (EventKind.PUSH_SENT, EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT),
    (EventKind.FRAUD_REPORTED, EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS, EventKind.SIGNIN_FAILURE),
    (EventKind.MFA_FAILURE,),
)
_WATCHED = frozenset(SPRAY_WATCHES)
_ANSWERS = frozenset({EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.FRAUD_REPORTED})


class SprayBase(abc.ABC):
    meta: ClassVar[DetectorMeta]
    state_type: ClassVar[type[Any]] = SprayState
    prefix: ClassVar[str]
    noun: ClassVar[str] = "Push spray"  # how a finding's title names what happened

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        cfg = settings(self.meta, overrides)
        self.window_s = float(cfg["window_s"])
        self.min_identities = int(cfg["min_identities"])
        self.min_push = int(cfg["min_push_identities"])
        self.min_ratio = float(cfg["min_unresolved_ratio"])
        self.grace_s = float(cfg["answer_grace_s"])
        self.high_identities = int(cfg["high_identities"])
        self.high_denials = int(cfg["high_denials"])
        self.max_targets = int(cfg["max_targets"])
        self.gap_s = float(cfg["episode_gap_s"])
        self.max_listed = int(cfg["max_listed_targets"])
        self.max_victims = int(cfg["max_victims"])
        self.max_remembered = int(cfg["max_remembered"])
        self.memory_s = float(cfg["victim_memory_s"])

    # -- what a variant decides ------------------------------------------------------------------

    @abc.abstractmethod
    def _source(self, event: Event) -> str | None:
        """The key the variant counts targets under (an IP, an ASN), or None to skip the event."""

    @abc.abstractmethod
    def _known(self, profile: IdentityProfile, event: Event) -> bool:
        """Whether the target identity has succeeded from this source before."""

    @abc.abstractmethod
    def profile_view(self, profile: IdentityProfile, event: Event) -> IdentityProfile:
        """What ``_known`` reads of the profile for this event (the KeyedDetector contract)."""

    def partition(self, event: Event) -> str | None:
        if event.kind not in _WATCHED or not event.identity:
            return None
        subject = event.subject
        if subject is not None and subject.type is PrincipalType.ADDRESS:
            return None  # nobody's account: no target to count
        if event.kind in _ANSWERS and event.responder_ip is not None and event.responder_ip == event.ip:
            return None  # the phone's answer (Okta deny_push): not the requesting source
        return self._source(event)

    def initial_state(self) -> SprayState:
        return SprayState()

    # -- the step --------------------------------------------------------------------------------

    def observe(
        self, state: SprayState, event: Event, profile: IdentityProfile
    ) -> tuple[SprayState, list[Detection]]:
        key = self.partition(event)
        if key is None:
            return state, []
        return self.observe_at(state, key, event, profile)

    def observe_at(
        self, state: SprayState, key: str, event: Event, profile: IdentityProfile
    ) -> tuple[SprayState, list[Detection]]:
        now = event.ts
        state.key = key
        targets = state.targets
        if state.open_targets < 0:
            state.open_targets = sum(is_open(target) for target in targets.values())
        self._expire(state, now)
        target = targets.pop(event.identity, None)  # re-inserted: oldest-touched stays first
        was_open = False
        if target is None:
            if len(targets) >= self.max_targets:
                self._drop(state, next(iter(targets)))
            target = Target(now, now, KNOWN if self._known(profile, event) else 0, 0.0, [])
        else:
            was_open = not target.flags & (KNOWN | APPROVED)  # is_open, inline: this runs for every event
        targets[event.identity] = target
        apply(target, event, now)
        state.open_targets += (not target.flags & (KNOWN | APPROVED)) - was_open
        ip = event.ip
        if ip and ip not in state.ips and len(state.ips) < _MAX_LISTED:
            state.ips.append(ip)
        provider = str(event.provider)
        if provider not in state.providers:
            state.providers.append(provider)
        episode = state.episode
        if episode is not None and not target.flags & KNOWN:
            episode.last_ts = now  # the source keeps working on identities that never used it
        if episode is None and (len(targets) < self.min_identities or now < state.next_eval):
            return state, []
        possible = state.open_targets  # the suspects can only be fewer
        too_few = possible < self.min_identities or possible < self.min_ratio * len(state.targets)
        if episode is None and too_few:
            # too few possible suspects to fire: what _evaluate would conclude, without its pass
            state.next_eval = now + _EVAL_EVERY_S
            return state, []
        return state, self._evaluate(state, key, now, event.time, event.identity)

    def advance(self, state: SprayState, watermark: float) -> tuple[SprayState, list[Detection]]:
        """Silence: prompts left unanswered past the grace become unresolved; ended sprays close; a
        spray's listing and its victims' evidence catch up with what came since their last revision."""
        self._expire(state, watermark)
        if len(state.targets) < self.min_identities and state.episode is None:
            return state, []
        return state, self._evaluate(state, state.key, watermark, from_ts(watermark), None)

    # -- helpers -----------------------------------------------------------------------------------

    def _drop(self, state: SprayState, name: str) -> None:
        """A target leaves (evicted or out of the window); a victim is remembered while no spray is
        recognised (during one, it has been attributed already)."""
        target = state.targets.pop(name)
        state.open_targets -= is_open(target)
        if state.episode is None and is_victim(target):
            remember(state.remembered, name, target, self.max_remembered)

    def _expire(self, state: SprayState, now: float) -> None:
        cutoff = now - self.window_s
        stale = []
        for name, target in state.targets.items():
            if target.last_ts >= cutoff:
                break
            stale.append(name)
        for name in stale:
            self._drop(state, name)
        if state.remembered:
            forget_before(state.remembered, now - self.memory_s)
        episode = state.episode
        if episode is not None and now - episode.last_ts > self.gap_s:
            state.episode = None
            state.ips = []
            state.providers = []

    def _evaluate(
        self, state: SprayState, key: str, now: float, at: datetime, touched: str | None
    ) -> list[Detection]:
        """``touched``: the identity of the event being observed (None: an advance)."""
        state.next_eval = now + _EVAL_EVERY_S
        tally = tally_targets(state.targets, now, self.grace_s)
        episode = state.episode
        if episode is None:
            if (
                tally.suspects < self.min_identities
                or tally.prompted < self.min_push
                or tally.suspects < self.min_ratio * tally.total
            ):
                return []
            anchor = min(
                (state.targets[n].events[0] for n in tally.suspect_names if state.targets[n].events),
                default=(now, ""),
            )
            episode = state.episode = SprayEpisode(anchor=anchor[1], first_ts=tally.first_ts, last_ts=now)
            # recognised now: the victims pushed before it could be and every target of the window,
            # first seen first
            kept = still_remembered(state.remembered, now - self.memory_s)
            seen = [(entry.target.first_ts, entry.name, entry.target) for entry in kept]
            seen += [(target.first_ts, name, target) for name, target in state.targets.items()]
            seen.sort(key=lambda item: item[:2])
            state.remembered = []
            changed = [self._attribute(episode, name, target) for _, name, target in seen]
        elif touched is not None:
            changed = [self._attribute(episode, touched, state.targets[touched])]
        else:  # an advance: victims whose evidence grew since their last revision
            changed = [
                name
                for name, victim in episode.attribution.victims.items()
                if victim.last_ts > victim.reported_ts
            ]
        new_approvals = [n for n in tally.approved_unknown if n not in episode.approved]
        for name in new_approvals[: max(0, _MAX_LISTED - len(episode.approved))]:
            episode.approved.append(name)
        episode.peak_suspects = max(episode.peak_suspects, tally.suspects)
        severity = self._severity(episode, tally)
        attribution = episode.attribution
        victims = len(attribution.victims) + len(attribution.unreported)
        # a new revision on escalation, when the suspects or the victims double, and at an advance when
        # the listing grew (so the last revision names every account, without one revision each)
        doubled = victims > attribution.reported_victims and victims >= 2 * attribution.reported_victims
        grew = (attribution.total, victims) != (attribution.reported_listed, attribution.reported_victims)
        if (
            episode.revision
            and not new_approvals
            and severity == episode.severity
            and tally.suspects < 2 * episode.reported_suspects
            and tally.prompted < 2 * episode.reported_prompted
            and not doubled
            and not (touched is None and grew)
        ):
            found = []
        else:
            found = [self._report(state, episode, tally, severity, key, at)]
        label = f"{self.prefix}:{key}"
        spray_id = finding_id(self.meta.id, label, episode.anchor)
        for name in dict.fromkeys(n for n in changed if n is not None):
            victim = attribution.victims[name]
            found.append(
                victim_detection(
                    name,
                    victim,
                    detector=self.meta.id,
                    title=f"{self.noun} victim",
                    source=label,
                    spray_id=spray_id,
                    targeted=attribution.total,
                    source_ips=self._victim_ips(state),
                    at=at,
                )
            )
        return found

    def _attribute(self, episode: SprayEpisode, name: str, target: Target) -> str | None:
        """Count a target of the recognised spray; the name when its own finding is new or escalates."""
        attribution = episode.attribution
        victim = attribution.victims.get(name)
        if victim is None:
            if target.flags & KNOWN:
                return None  # it had used the source before: not one the spray targeted
            count_target(attribution, name, self.max_listed)
            if not is_victim(target):
                return None
            if len(attribution.victims) >= self.max_victims:
                count_once(attribution.unreported, name)
                return None
            anchor = target.events[0][1] if target.events else episode.anchor
            victim = Victim(anchor, 0, 0, 0, 0.0, target.first_ts, target.last_ts, [])
            attribution.victims[name] = victim
        merge_events(victim, target.events)
        victim.flags |= target.flags & ~KNOWN
        if victim.revision == 0 or (victim.flags & APPROVED and not victim.reported_flags & APPROVED):
            return name
        return None

    def _severity(self, episode: SprayEpisode, tally: Tally) -> str:
        if episode.approved:
            return Severity.CRITICAL.value
        if episode.peak_suspects >= self.high_identities or tally.denied >= self.high_denials:
            return Severity.HIGH.value
        if episode.severity:
            return episode.severity  # never de-escalates within an episode
        return Severity.MEDIUM.value

    def _report(
        self, state: SprayState, episode: SprayEpisode, tally: Tally, severity: str, key: str, at: datetime
    ) -> Detection:
        episode.revision += 1
        episode.severity = severity
        episode.reported_suspects = max(tally.suspects, 1)
        episode.reported_prompted = max(tally.prompted, 1)
        attribution = episode.attribution
        victims = len(attribution.victims) + len(attribution.unreported)
        attribution.reported_listed = attribution.total
        attribution.reported_victims = victims
        names = set(tally.suspect_names) | set(episode.approved)
        merged = set(episode.evidence)
        for name in names:
            target = state.targets.get(name)
            if target is not None:
                merged.update(target.events)
        episode.evidence = sorted(merged)[-_MAX_EVIDENCE:]
        label = f"{self.prefix}:{key}"
        last_ts = max(episode.last_ts, episode.evidence[-1][0] if episode.evidence else 0.0)
        minutes = max(1.0, (last_ts - episode.first_ts) / 60.0)
        ratio = tally.suspects / tally.total if tally.total else 0.0
        reasons = [
            f"{tally.suspects} identities got push prompts or password failures from {label} in "
            f"{minutes:.0f} min without approving ({tally.prompted} prompted, {tally.denied} denied or "
            f"reported, {tally.failed_only} password failures only)",
            f"{tally.total} identities seen from this source in the last {self.window_s / 60:.0f} min: "
            f"{ratio:.0%} unresolved, {tally.approved} approved",
            f"{tally.known} of {tally.total} identities had signed in from this source before",
            f"{attribution.total} accounts targeted from {label} since the spray began: "
            + listing(attribution.listed, attribution.total),
        ]
        if victims:
            reasons.append(
                f"{victims} of them got past the password here (a push, an MFA step or a sign-in), each "
                "with a finding of its own: " + listing(list(attribution.victims), victims)
            )
        title = f"{self.noun} from {label}: {tally.suspects} identities targeted without approval"
        confidence = min(0.85, 0.5 + 0.03 * tally.suspects + (0.1 if tally.denied else 0.0))
        techniques: tuple[str, ...] = ()
        if episode.approved:
            shown = ", ".join(episode.approved[:5])
            more = f" and {len(episode.approved) - 5} more" if len(episode.approved) > 5 else ""
            reasons.append(
                f"{len(episode.approved)} targeted identities approved a push from this source "
                f"({shown}{more}): probably compromised"
            )
            title += f", {len(episode.approved)} approved"
            techniques = ("T1078",)
            confidence = 0.9
        return Detection(
            detector=self.meta.id,
            identity=label,
            anchor=episode.anchor,
            revision=episode.revision,
            title=title,
            severity=Severity(severity),
            confidence=confidence,
            first_seen=from_ts(episode.first_ts),
            last_seen=from_ts(last_ts),
            detected_at=at,
            evidence=tuple(event_id for _, event_id in episode.evidence),
            source_ips=tuple(state.ips),
            reasons=tuple(reasons),
            providers=tuple(state.providers),
            techniques=techniques,
            targets=tuple(attribution.listed),
        )

    def _victim_ips(self, state: SprayState) -> tuple[str, ...]:
        return tuple(state.ips)
