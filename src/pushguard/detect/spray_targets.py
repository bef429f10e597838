"""The targets of a spray from one source, and attribution: which accounts it named, which got through.

Shared by the spray detectors (``push_spray``, ``password_spray``). Per source they keep one small
``Target`` per identity (flags of what the source did to it). A spray finding names a source (``ip:…``,
``asn:…``); responses act on accounts, so once a spray is recognised its finding also lists every account
it targeted (``targets``, bounded, with the total in its reasons), and each account that got past the
password from that source (a push, an MFA step, a successful sign-in) gets a finding of its own, which
points back at the spray.

Pushes to a victim often come before the spray is recognisable (the third of fifty accounts works): the
targets of the window hold them, and a target that leaves the window or is evicted while no spray is
recognised is remembered (bounded) for ``victim_memory_s``, so the earlier victims are named at the moment
the spray is, and later ones as they come."""

from __future__ import annotations

import bisect
import zlib
from datetime import datetime

import msgspec

from pushguard.detect.base import Detection, from_ts
from pushguard.model import Event, EventKind, Factor, Provider, Severity

# What the source did to a target (Target.flags).
PROMPTED = 1  # a push, or another MFA step, reached the account: the password worked
DENIED = 2  # a push denied or reported as fraud
UNANSWERED = 4  # a push timed out or an MFA step failed
FAILED = 8  # a password failure
PW_OK = 16  # a password success (Okta logs it before MFA): not an approval
APPROVED = 32  # a push approved, MFA completed, or a sign-in that carried its factor
KNOWN = 64  # the identity had used the source before its first event here
REACHED = PROMPTED | PW_OK | APPROVED  # got past the password: a victim once the source sprays
# The vendors that logged the target's events (a victim's own finding names its vendor, for the
# response). Fixed bits: they are stored.
_PROVIDER_FLAGS = {
    Provider.OKTA: 128,
    Provider.ENTRA: 256,
    Provider.DUO: 512,
    Provider.OCSF: 1024,
    Provider.PUSHGUARD: 2048,
}

MAX_EVENTS_PER_TARGET = 6
MAX_VICTIM_EVENTS = 12
MAX_COUNTED = 10_000  # distinct target names counted per episode (beyond: the total is a lower bound)


class Target(msgspec.Struct, array_like=True):
    first_ts: float
    last_ts: float
    flags: int
    pending_ts: float  # last prompt or password failure still waiting for its answer
    events: list[tuple[float, str]]


class Remembered(msgspec.Struct, array_like=True):
    """A target that got past the password, kept after it left the window (no spray recognised then)."""

    name: str
    target: Target


class Victim(msgspec.Struct, array_like=True):
    """An account with a finding of its own in the current spray episode."""

    anchor: str  # its first event from the source: with the detector and the account, the finding's id
    revision: int
    flags: int  # what the source did to it, over the episode (Target flags)
    reported_flags: int  # the flags its last revision reported
    reported_ts: float  # the latest event time its last revision included
    first_ts: float
    last_ts: float
    events: list[tuple[float, str]]


class Attribution(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a spray episode has named: targeted accounts and the victims with their own findings."""

    listed: list[str] = []  # targeted accounts, first seen first (bounded)
    # 32-bit hashes of the targeted accounts' names, sorted (a list, not a set: the same bytes however the
    # state was stored and read back): the total, bounded by MAX_COUNTED
    counted: list[int] = []
    reported_listed: int = 0  # how many were counted at the spray finding's last revision
    victims: dict[str, Victim] = {}  # bounded
    unreported: list[int] = []  # hashes of victims beyond the bound (counted, no finding), sorted
    reported_victims: int = 0  # victims at the spray finding's last revision

    @property
    def total(self) -> int:
        return len(self.counted)


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


def is_open(target: Target) -> bool:
    """Neither known to the source nor approved from it: could be a suspect."""
    return not target.flags & (KNOWN | APPROVED)


def is_victim(target: Target) -> bool:
    """Got past the password from a source it had never used."""
    return bool(target.flags & REACHED) and not target.flags & KNOWN


# kind → (the flags it sets, whether it waits for an answer); a password failure waits only while no
# prompt does. A successful sign-in, and the approvals, are decided in ``apply``.
_EFFECTS = {
    EventKind.PUSH_SENT: (PROMPTED, True),
    EventKind.PUSH_DENIED: (PROMPTED | DENIED, True),
    EventKind.FRAUD_REPORTED: (PROMPTED | DENIED, True),
    EventKind.PUSH_TIMEOUT: (PROMPTED | UNANSWERED, True),
    EventKind.MFA_FAILURE: (PROMPTED | UNANSWERED, True),
    EventKind.SIGNIN_FAILURE: (FAILED, False),
}
# A sign-in with one of these (or no) factor proved the password only (Okta logs it before MFA; Entra
# names the factor only when MFA was done in the sign-in).
_PASSWORD_ONLY = frozenset({None, Factor.PASSWORD})


def apply(target: Target, event: Event, now: float) -> None:
    """The event's effect on its target's flags and evidence."""
    kind = event.kind
    target.last_ts = now
    flags = target.flags
    effect = _EFFECTS.get(kind)
    if effect is not None:
        flags |= effect[0]
        if effect[1] or not flags & PROMPTED:
            target.pending_ts = now
    elif kind is EventKind.SIGNIN_SUCCESS:
        flags |= PW_OK if event.factor in _PASSWORD_ONLY else APPROVED
    else:  # push approved, MFA completed from this source
        flags |= APPROVED
    target.flags = flags | _PROVIDER_FLAGS.get(event.provider, 0)
    events = target.events
    events.append((now, event.event_id))
    if len(events) > MAX_EVENTS_PER_TARGET:
        del events[1:2]  # keep the first (the anchor candidate) and the latest


def remember(remembered: list[Remembered], name: str, target: Target, limit: int) -> None:
    """Keep a victim that leaves the targets (the oldest remembered goes first beyond ``limit``)."""
    if limit <= 0:
        return
    for index, entry in enumerate(remembered):
        if entry.name == name:
            del remembered[index]
            break
    remembered.append(Remembered(name, target))
    if len(remembered) > limit:
        del remembered[: len(remembered) - limit]


def forget_before(remembered: list[Remembered], cutoff: float) -> None:
    """Drop the leading remembered victims whose last event is older than ``cutoff`` (they come in about
    the order they left the window; one out of order stays until those before it go, and is skipped
    when read: ``still_remembered``)."""
    drop = 0
    for entry in remembered:
        if entry.target.last_ts >= cutoff:
            break
        drop += 1
    if drop:
        del remembered[:drop]


def still_remembered(remembered: list[Remembered], cutoff: float) -> list[Remembered]:
    return [entry for entry in remembered if entry.target.last_ts >= cutoff]


def count_once(hashes: list[int], name: str) -> bool:
    """Add ``name``'s hash to the sorted ``hashes`` (bounded by MAX_COUNTED); True when it was new. Two
    names sharing a 32-bit hash count once: the totals are lower bounds, exact in practice."""
    hashed = zlib.crc32(name.encode("utf-8", "surrogatepass"))
    at = bisect.bisect_left(hashes, hashed)
    if (at < len(hashes) and hashes[at] == hashed) or len(hashes) >= MAX_COUNTED:
        return False
    hashes.insert(at, hashed)
    return True


def count_target(attribution: Attribution, name: str, limit: int) -> None:
    """Count ``name`` among the episode's targeted accounts, and list it while there is room."""
    if count_once(attribution.counted, name) and len(attribution.listed) < limit:
        attribution.listed.append(name)


def merge_events(victim: Victim, events: list[tuple[float, str]]) -> None:
    """The victim's evidence with ``events`` added: time order, the first kept and the latest."""
    merged = sorted(set(victim.events) | set(events))
    if len(merged) > MAX_VICTIM_EVENTS:
        merged = merged[:1] + merged[len(merged) - MAX_VICTIM_EVENTS + 1 :]
    victim.events = merged
    victim.first_ts = merged[0][0]
    victim.last_ts = merged[-1][0]


def providers_of(flags: int) -> tuple[str, ...]:
    """The vendors whose events set these flags."""
    return tuple(provider.value for provider, bit in _PROVIDER_FLAGS.items() if flags & bit)


def describe(flags: int) -> str:
    """What the source did to a target, in words."""
    parts = []
    if flags & FAILED:
        parts.append("password failure")
    if flags & PW_OK:
        parts.append("password accepted")
    if flags & PROMPTED:
        parts.append("push or MFA prompt")
    if flags & DENIED:
        parts.append("denied or reported")
    if flags & UNANSWERED:
        parts.append("timed out or MFA failed")
    if flags & APPROVED:
        parts.append("approved or completed MFA")
    return ", ".join(parts)


def listing(names: list[str], total: int) -> str:
    """Names, with how many are not shown when the list is bounded."""
    shown = ", ".join(names)
    return shown if total <= len(names) else f"{shown} and {total - len(names)} more (not listed)"


def victim_detection(
    name: str,
    victim: Victim,
    *,
    detector: str,
    title: str,
    source: str,
    spray_id: str,
    targeted: int,
    source_ips: tuple[str, ...],
    at: datetime,
) -> Detection:
    """The finding of one account that got past the password from the spraying ``source`` (``ip:…``):
    its events from there, and the spray finding's id to find the rest."""
    victim.revision += 1
    victim.reported_flags = victim.flags
    victim.reported_ts = victim.last_ts
    approved = bool(victim.flags & APPROVED)
    reasons = [
        f"{name} got past the password from {source} while it sprayed {targeted} accounts: "
        f"{describe(victim.flags)} ({len(victim.events)} events from there); the attacker holds this "
        "password",
        f"part of spray finding {spray_id} ({detector}, {source})",
    ]
    title = f"{title}: {name} got past the password from {source}"
    if approved:
        reasons.append(f"{name} approved a push or completed MFA from {source}: probably compromised")
        title += ", and approved"
    return Detection(
        detector=detector,
        identity=name,
        anchor=victim.anchor,
        revision=victim.revision,
        title=title,
        severity=Severity.CRITICAL if approved else Severity.HIGH,
        confidence=0.9 if approved else 0.8,
        first_seen=from_ts(victim.first_ts),
        last_seen=from_ts(victim.last_ts),
        detected_at=at,
        evidence=tuple(event_id for _, event_id in victim.events),
        source_ips=source_ips,
        reasons=tuple(reasons),
        providers=providers_of(victim.flags),
        techniques=("T1110.003", "T1621", "T1078") if approved else ("T1110.003", "T1621"),
    )


def tally_targets(targets: dict[str, Target], now: float, grace_s: float) -> Tally:
    """Count the targets: suspects (unresolved, never used the source), prompted, approved, known."""
    tally = Tally(first_ts=now)
    for name, target in targets.items():
        flags = target.flags
        tally.total += 1
        known = bool(flags & KNOWN)
        tally.known += known
        if flags & APPROVED:
            tally.approved += 1
            if not known:
                tally.approved_unknown.append(name)
            continue
        late = now - target.pending_ts >= grace_s
        prompted = bool(flags & PROMPTED) and (bool(flags & (DENIED | UNANSWERED)) or late)
        failed = bool(flags & FAILED) and not flags & PW_OK and late
        if known or not (prompted or failed):
            continue
        tally.suspects += 1
        tally.suspect_names.append(name)
        tally.first_ts = min(tally.first_ts, target.first_ts)
        if prompted:
            tally.prompted += 1
            tally.denied += bool(flags & DENIED)
        else:
            tally.failed_only += 1
    return tally
