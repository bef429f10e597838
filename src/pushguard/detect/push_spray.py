"""Push spray: one source sending push prompts to many identities that do not approve them.

A second-stage detector: its state is per source IP (``PushSpray``) or per hosting/VPN/proxy ASN
(``PushSprayAsn``: an attacker rotating addresses inside one cloud provider), and it sees the events of
every identity. Within a sliding window it keeps one small entry per *target* identity (bounded, oldest
evicted): prompted, denied/reported, timed out, password failed, approved, and whether the target had
ever succeeded from this source before (its profile knows the IP / ASN).

A target is a *suspect* when it got a push prompt or a password failure from the source, did not approve
or complete MFA from it (denied, reported, timed out, or no answer within ``answer_grace_s``), and had
never used the source before. The spray fires when there are ``min_identities`` suspects, at least
``min_push_identities`` of them prompted (the attacker holds their passwords), and suspects are at least
``min_unresolved_ratio`` of all identities seen from the source.

That ratio and the known-source rule are what tell the benign look-alikes apart: behind an office NAT,
a VPN concentrator or a RADIUS/NPS proxy hundreds of users get prompts from one address, but they approve
them (the ratio stays low) and the address is one they have signed in from before; a helpdesk verifying
callers sends prompts that are answered. Password failures alone (a password spray with no valid
password) do not fire here: that is a password-spray detector's job; they only add to the count."""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from pushguard.detect.base import Detection, DetectorMeta, Tunable, from_ts, kinds, settings
from pushguard.model import Event, EventKind, IdentityProfile, PrincipalType, Severity

_PROMPTED, _DENIED, _TIMEOUT, _FAILED, _PW_OK, _APPROVED, _KNOWN = 1, 2, 4, 8, 16, 32, 64
_MAX_EVENTS_PER_TARGET = 6
_MAX_EVIDENCE = 200
_MAX_LISTED = 20  # identities / IPs / providers kept for a report
_EVAL_EVERY_S = 5.0  # event-time throttle on evaluation while no episode is open (a busy NAT is cheap)


class Target(msgspec.Struct, array_like=True):
    first_ts: float
    last_ts: float
    flags: int
    pending_ts: float  # last prompt or password failure still waiting for its answer
    events: list[tuple[float, str]]


class SprayEpisode(msgspec.Struct, kw_only=True):
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


class SprayState(msgspec.Struct, kw_only=True):
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


class Tally(msgspec.Struct, kw_only=True):
    total: int = 0
    suspects: int = 0
    prompted: int = 0
    denied: int = 0
    failed_only: int = 0
    approved: int = 0
    known: int = 0
    suspect_names: list[str] = []
    approved_unknown: list[str] = []
    first_ts: float = 0.0


def spray_tunables(
    min_identities: int,
    window_s: int,
    *,
    min_push_identities: int = 1,
    min_unresolved_ratio: float = 0.5,
    high_identities: int = 20,
) -> dict[str, Tunable]:
    return {
        "window_s": Tunable(window_s, "sliding window over which distinct target identities are counted"),
        "min_identities": Tunable(min_identities, "suspects (prompted/failed, not approved) to fire"),
        "min_push_identities": Tunable(
            min_push_identities, "of the suspects, how many must have received a push prompt"
        ),
        "min_unresolved_ratio": Tunable(
            min_unresolved_ratio, "suspects / all identities seen from the source, to fire"
        ),
        "answer_grace_s": Tunable(120, "a prompt or failure unanswered this long counts as unresolved"),
        "high_identities": Tunable(high_identities, "suspects that make it high severity"),
        "high_denials": Tunable(2, "targets that denied or reported a prompt that make it high severity"),
        "max_targets": Tunable(512, "target identities kept per source (oldest evicted)"),
        "episode_gap_s": Tunable(3600, "quiet after which the next spray from the source is a new finding"),
    }


SPRAY_FRAMEWORKS = {
    "nist_csf_2": ("PR.AA-03", "DE.CM-01", "DE.AE-02", "DE.AE-03"),
    "sp800_63b": ("AAL2", "5.2.2 rate limiting", "5.1.3.1 out-of-band authenticators"),
    "owasp_nhi": (),
}
_ACTIONS = (
    "Block or challenge the source at the IdP (network zone / named location / Duo policy) while it is live.",
    "Reset the passwords of every targeted identity that got a push: the attacker holds them.",
    "For any target that approved: revoke its sessions and tokens, remove factors enrolled since, review.",
    "Require number matching or a phishing-resistant factor for the targeted identities.",
    "Warn the targeted users out of band: deny unexpected prompts and report them.",
)
_DESCRIPTION = (
    "Distinct identities receiving push prompts (or password failures) from one {what} without approving "
    "them, within window_s. Fires at min_identities suspects (unresolved, source never used by them) "
    "forming at least min_unresolved_ratio of the identities seen from the source; medium, high at "
    "high_identities suspects or high_denials denials/reports; critical when a targeted identity approves "
    "a prompt from the source."
)

SPRAY_WATCHES = kinds(
    (EventKind.PUSH_SENT, EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.PUSH_TIMEOUT),
    (EventKind.FRAUD_REPORTED, EventKind.MFA_SUCCESS, EventKind.SIGNIN_SUCCESS, EventKind.SIGNIN_FAILURE),
)
_WATCHED = frozenset(SPRAY_WATCHES)
_ANSWERS = frozenset({EventKind.PUSH_APPROVED, EventKind.PUSH_DENIED, EventKind.FRAUD_REPORTED})


META = DetectorMeta(
    id="push_spray",
    title="Push spray from one source IP",
    description=_DESCRIPTION.format(what="source IP"),
    severity=Severity.MEDIUM,
    techniques=("T1621", "T1110.003"),
    frameworks=SPRAY_FRAMEWORKS,
    tunables=spray_tunables(min_identities=5, window_s=3600),
    actions=_ACTIONS,
    keys=("source_ip",),
    watches=SPRAY_WATCHES,
)

META_ASN = DetectorMeta(
    id="push_spray_asn",
    title="Push spray from one hosting/VPN ASN",
    description=_DESCRIPTION.format(what="hosting, VPN or proxy ASN (addresses rotated inside it)"),
    severity=Severity.MEDIUM,
    techniques=("T1621", "T1110.003"),
    frameworks=SPRAY_FRAMEWORKS,
    tunables=spray_tunables(min_identities=8, window_s=3600),
    actions=_ACTIONS,
    keys=("asn",),
    watches=SPRAY_WATCHES,
)


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
        if state.open_targets < 0:
            state.open_targets = sum(_is_open(target) for target in state.targets.values())
        self._expire(state, now)
        target = state.targets.pop(event.identity, None)  # re-inserted: oldest-touched stays first
        was_open = False
        if target is None:
            if len(state.targets) >= self.max_targets:
                state.open_targets -= _is_open(state.targets.pop(next(iter(state.targets))))
            target = Target(now, now, _KNOWN if self._known(profile, event) else 0, 0.0, [])
        else:
            was_open = _is_open(target)
        state.targets[event.identity] = target
        _apply(target, event, now)
        state.open_targets += _is_open(target) - was_open
        if event.ip and event.ip not in state.ips and len(state.ips) < _MAX_LISTED:
            state.ips.append(event.ip)
        if event.provider.value not in state.providers:
            state.providers.append(event.provider.value)
        episode = state.episode
        if episode is not None and not target.flags & _KNOWN:
            episode.last_ts = now  # the source keeps working on identities that never used it
        if episode is None and (len(state.targets) < self.min_identities or now < state.next_eval):
            return state, []
        possible = state.open_targets  # the suspects can only be fewer
        too_few = possible < self.min_identities or possible < self.min_ratio * len(state.targets)
        if episode is None and too_few:
            # too few possible suspects to fire: what _evaluate would conclude, without its pass
            state.next_eval = now + _EVAL_EVERY_S
            return state, []
        return state, self._evaluate(state, key, now, event.time)

    def advance(self, state: SprayState, watermark: float) -> tuple[SprayState, list[Detection]]:
        """Silence: prompts left unanswered past the grace become unresolved; ended sprays close."""
        self._expire(state, watermark)
        if len(state.targets) < self.min_identities and state.episode is None:
            return state, []
        return state, self._evaluate(state, state.key, watermark, from_ts(watermark))

    # -- helpers -----------------------------------------------------------------------------------

    def _expire(self, state: SprayState, now: float) -> None:
        cutoff = now - self.window_s
        stale = []
        for name, target in state.targets.items():
            if target.last_ts >= cutoff:
                break
            stale.append(name)
        for name in stale:
            state.open_targets -= _is_open(state.targets.pop(name))
        episode = state.episode
        if episode is not None and now - episode.last_ts > self.gap_s:
            state.episode = None
            state.ips = []
            state.providers = []

    def _tally(self, state: SprayState, now: float) -> Tally:
        tally = Tally(first_ts=now)
        for name, target in state.targets.items():
            flags = target.flags
            tally.total += 1
            known = bool(flags & _KNOWN)
            tally.known += known
            if flags & _APPROVED:
                tally.approved += 1
                if not known:
                    tally.approved_unknown.append(name)
                continue
            late = now - target.pending_ts >= self.grace_s
            prompted = bool(flags & _PROMPTED) and (bool(flags & (_DENIED | _TIMEOUT)) or late)
            failed = bool(flags & _FAILED) and not flags & _PW_OK and late
            if known or not (prompted or failed):
                continue
            tally.suspects += 1
            tally.suspect_names.append(name)
            tally.first_ts = min(tally.first_ts, target.first_ts)
            if prompted:
                tally.prompted += 1
                tally.denied += bool(flags & _DENIED)
            else:
                tally.failed_only += 1
        return tally

    def _evaluate(self, state: SprayState, key: str, now: float, at: datetime) -> list[Detection]:
        state.next_eval = now + _EVAL_EVERY_S
        tally = self._tally(state, now)
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
        new_approvals = [n for n in tally.approved_unknown if n not in episode.approved]
        for name in new_approvals[: max(0, _MAX_LISTED - len(episode.approved))]:
            episode.approved.append(name)
        episode.peak_suspects = max(episode.peak_suspects, tally.suspects)
        severity = self._severity(episode, tally)
        if (
            episode.revision
            and not new_approvals
            and severity == episode.severity
            and tally.suspects < 2 * episode.reported_suspects
            and tally.prompted < 2 * episode.reported_prompted
        ):
            return []
        return [self._report(state, episode, tally, severity, key, at)]

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
        ]
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
        )


def _is_open(target: Target) -> bool:
    """Neither known to the source nor approved from it: could be a suspect."""
    return not target.flags & (_KNOWN | _APPROVED)


def _apply(target: Target, event: Event, now: float) -> None:
    kind = event.kind
    target.last_ts = now
    flags = target.flags
    if kind is EventKind.PUSH_SENT:
        flags |= _PROMPTED
        target.pending_ts = now
    elif kind in (EventKind.PUSH_DENIED, EventKind.FRAUD_REPORTED):
        flags |= _PROMPTED | _DENIED
        target.pending_ts = now
    elif kind is EventKind.PUSH_TIMEOUT:
        flags |= _PROMPTED | _TIMEOUT
        target.pending_ts = now
    elif kind is EventKind.SIGNIN_FAILURE:
        flags |= _FAILED
        if not flags & _PROMPTED:
            target.pending_ts = now
    elif kind is EventKind.SIGNIN_SUCCESS:
        flags |= _PW_OK  # the password was right (Okta logs it before MFA): not an approval
    else:  # push approved, MFA completed from this source
        flags |= _APPROVED
    target.flags = flags
    events = target.events
    events.append((now, event.event_id))
    if len(events) > _MAX_EVENTS_PER_TARGET:
        del events[1:2]  # keep the first (the anchor candidate) and the latest


class PushSpray(SprayBase):
    """Per source IP."""

    meta: ClassVar[DetectorMeta] = META
    prefix: ClassVar[str] = "ip"

    def _source(self, event: Event) -> str | None:
        return event.ip

    def _known(self, profile: IdentityProfile, event: Event) -> bool:
        return profile.knows_ip(event.ip)

    def profile_view(self, profile: IdentityProfile, event: Event) -> IdentityProfile:
        ip = event.ip
        known = {ip: profile.ips[ip]} if ip is not None and ip in profile.ips else {}
        return IdentityProfile(identity=profile.identity, ips=known)


class PushSprayAsn(SprayBase):
    """Per hosting / VPN / proxy ASN (residential and corporate ASNs are left to the per-IP view)."""

    meta: ClassVar[DetectorMeta] = META_ASN
    prefix: ClassVar[str] = "asn"

    def _source(self, event: Event) -> str | None:
        geo = event.geo
        if geo is None or geo.asn is None or not (geo.is_hosting or geo.is_proxy):
            return None
        return str(geo.asn)

    def _known(self, profile: IdentityProfile, event: Event) -> bool:
        return event.geo is not None and profile.knows_asn(event.geo.asn)

    def profile_view(self, profile: IdentityProfile, event: Event) -> IdentityProfile:
        asn = None if event.geo is None or event.geo.asn is None else str(event.geo.asn)
        known = {asn: profile.asns[asn]} if asn is not None and asn in profile.asns else {}
        return IdentityProfile(identity=profile.identity, asns=known)
