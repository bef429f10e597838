"""What most per-identity detectors keep of an attack in progress, and how they report it.

An episode opens at its anchor event, gathers evidence, addresses and providers as the attack goes on,
and is reported again only when it escalates (a finding's revision grows with each report, its id stays
the anchor's). Also an identity's hour habit: a 24-slot histogram of the hours they authenticate at, kept
in a detector's own state. Whether an hour is unusual is judged against the user's own histogram, which
is in their own time zone by construction (a constant shift of UTC; neighbours count, so DST's hour does
not matter): the user's time, never a fixed UTC "night"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from pushguard.detect.base import Detection, append_bounded, from_ts
from pushguard.model import Event, EventKind, Severity

MAX_EVIDENCE = 60
MAX_LISTED = 10

# A timeout (or a prompt left unanswered until the next one) is a phone out of reach as often as an
# ignored attack; a denial is a decision; a fraud report is the user saying so. Every detector that
# weighs refusals uses this one table.
REFUSAL_WEIGHT = {EventKind.PUSH_TIMEOUT: 1, EventKind.PUSH_DENIED: 2, EventKind.FRAUD_REPORTED: 3}
UNANSWERED_WEIGHT = REFUSAL_WEIGHT[EventKind.PUSH_TIMEOUT]
DENIAL_WEIGHT = REFUSAL_WEIGHT[EventKind.PUSH_DENIED]


class Refusal(msgspec.Struct, array_like=True):
    """A prompt the identity did not approve, at ``ts`` (whole seconds), weighed by REFUSAL_WEIGHT, with
    the record that said so and the address that had asked for the prompt ("" when unknown)."""

    ts: int
    weight: int
    event_id: str = ""
    source: str = ""
    provider: str = ""  # the IdP whose record it was (one person's accounts on several IdPs)


def refusal_counts(refusals: Iterable[Refusal]) -> tuple[int, int, int, int]:
    """(total weight, denials, timeouts or unanswered, fraud reports) of some refusals."""
    weight = denied = missed = fraud = 0
    for refusal in refusals:
        weight += refusal.weight
        if refusal.weight == DENIAL_WEIGHT:
            denied += 1
        elif refusal.weight == UNANSWERED_WEIGHT:
            missed += 1
        else:
            fraud += 1
    return weight, denied, missed, fraud


IDP_NAMES = {"okta": "Okta", "entra": "Entra ID", "duo": "Duo", "ocsf": "OCSF"}


def tally(providers: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for provider in providers:
        if provider:
            counts[provider] = counts.get(provider, 0) + 1
    return counts


def across_idps(counts: Mapping[str, int], noun: str = "prompts") -> str | None:
    """ "3 prompts on Okta, 3 on Duo" when the items came from more than one IdP (the person's accounts,
    linked by the identity resolver), None from one: a single-IdP finding reads as before."""
    if len(counts) < 2:
        return None
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    named = [f"{count} on {IDP_NAMES.get(provider, provider)}" for provider, count in ranked]
    named[0] = f"{ranked[0][1]} {noun} on {IDP_NAMES.get(ranked[0][0], ranked[0][0])}"
    return ", ".join(named)


class Episode(msgspec.Struct, kw_only=True):
    anchor: str
    first_ts: float
    last_ts: float
    revision: int = 0
    severity: str = ""  # the severity last reported ("" before the first report)
    evidence: list[str] = []
    ips: list[str] = []
    providers: list[str] = []

    @classmethod
    def open(cls, event: Event, *, addresses: bool = True) -> Episode:
        episode = cls(anchor=event.event_id, first_ts=event.ts, last_ts=event.ts)
        episode.add(event, addresses=addresses)
        return episode

    def add(self, event: Event, *, addresses: bool = True) -> None:
        """``addresses=False``: evidence only, its addresses are not the attack's (an admin's workstation
        that reset the account: a responder blocks the source IPs a finding lists)."""
        self.note(event.event_id, ts=event.ts, provider=str(event.provider), recent=3)
        for ip in (event.ip, event.responder_ip) if addresses else ():
            self.note_ip(ip)

    def note(
        self, event_id: str, *, ts: float | None = None, ip: str = "", provider: str = "", recent: int = 0
    ) -> None:
        """One piece of evidence (not listed again: among the last ``recent``, or at all with 0), its
        address and vendor, within the episode's bounds (the state is kept per identity)."""
        if ts is not None:
            self.last_ts = max(self.last_ts, ts)
        if event_id not in (self.evidence[-recent:] if recent else self.evidence):
            append_bounded(self.evidence, event_id, MAX_EVIDENCE)
        self.note_ip(ip)
        if provider and provider not in self.providers:
            self.providers.append(provider)

    def note_ip(self, ip: str | None) -> None:
        if ip and ip not in self.ips and len(self.ips) < MAX_LISTED:
            self.ips.append(ip)

    def escalates_to(self, severity: Severity) -> bool:
        """True when ``severity`` is worth a new report: the first, or higher than the last one."""
        return not self.severity or severity.rank > Severity(self.severity).rank

    def report(
        self,
        detector: str,
        identity: str,
        severity: Severity,
        confidence: float,
        title: str,
        reasons: Sequence[str],
        at: float,
        techniques: Iterable[str] = (),
    ) -> Detection:
        self.revision += 1
        self.severity = severity.value
        return Detection(
            detector=detector,
            identity=identity,
            anchor=self.anchor,
            revision=self.revision,
            title=title,
            severity=severity,
            confidence=min(1.0, max(0.0, confidence)),
            first_seen=from_ts(self.first_ts),
            last_seen=from_ts(self.last_ts),
            detected_at=from_ts(at),
            evidence=tuple(self.evidence),
            source_ips=tuple(self.ips),
            reasons=tuple(reasons),
            providers=tuple(self.providers),
            techniques=tuple(techniques),
        )


def live(episode: Episode | None, now: float, gap_s: float) -> Episode | None:
    """The episode while it is open at ``now``: None once it has been quiet for more than ``gap_s``."""
    if episode is None or now - episode.last_ts > gap_s:
        return None
    return episode


def continue_or_open(episode: Episode | None, event: Event, gap_s: float) -> Episode:
    """The open episode with ``event`` added, or a new one anchored at ``event`` after a quiet gap."""
    current = live(episode, event.ts, gap_s)
    if current is None:
        return Episode.open(event)
    current.add(event)
    return current


HABIT_CAP = 512  # counts are halved past this total, so old habits fade and the state stays small


def hour_of(ts: float) -> int:
    return int(ts // 3600) % 24


class HourHabit(msgspec.Struct, array_like=True):
    """When an identity authenticates, by hour of the day (UTC slots; the user's time zone is a shift)."""

    counts: list[int] = []

    @property
    def total(self) -> int:
        return sum(self.counts)

    def learn(self, ts: float) -> None:
        if not self.counts:
            self.counts = [0] * 24
        self.counts[hour_of(ts)] += 1
        if self.total > HABIT_CAP:
            self.counts = [count // 2 for count in self.counts]

    def unusual(self, ts: float, min_samples: int) -> bool:
        """True when ``ts`` falls in the identity's own night: outside the span of hours that holds all of
        its sign-ins, by more than an hour (DST, a late train), with ``min_samples`` to go on (False with
        less: too little history to call any hour odd)."""
        span = self.span() if self.total >= min_samples else None
        if span is None:
            return False
        start, end = span
        width = (end - start) % 24 + 3  # the span's hours and one either side
        return width < 24 and (hour_of(ts) - start + 1) % 24 >= width

    def span(self) -> tuple[int, int] | None:
        """The hours (UTC, first and last) that hold all of this identity's sign-ins: the complement of
        the longest run of empty hours round the clock; None without history or without a quiet hour."""
        if not self.total or all(self.counts):
            return None
        best_start, best_len = 0, 0
        for start in range(24):
            if self.counts[start] or not self.counts[start - 1]:
                continue  # runs of empty hours start right after a busy one
            length = 0
            while not self.counts[(start + length) % 24]:
                length += 1
            if length > best_len:
                best_start, best_len = start, length
        return (best_start + best_len) % 24, (best_start - 1) % 24

    def describe(self, ts: float) -> str:
        """For a reason: '02:14 UTC, outside this identity's 07:00-18:59 UTC (136 sign-ins)'. The user's
        own span, not a guessed time zone: MFA activity alone does not pin a zone down to the hour (a
        day's first sign-in weighs most), while being outside one's own span needs no zone at all."""
        minutes = int(ts // 60) % 1440
        text = f"{minutes // 60:02d}:{minutes % 60:02d} UTC"
        span = self.span()
        if span is not None:
            text += f", outside this identity's {span[0]:02d}:00-{span[1]:02d}:59 UTC ({self.total} sign-ins)"
        return text
