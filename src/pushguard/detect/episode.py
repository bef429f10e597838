"""What most per-identity detectors keep of an attack in progress, and how they report it.

An episode opens at its anchor event, gathers evidence, addresses and providers as the attack goes on,
and is reported again only when it escalates (a finding's revision grows with each report, its id stays
the anchor's). Also the identity's usual hours, read from the shared profile's rings of successes and
approvals: a user's own history is in their own time zone by construction, so comparing hours of one
identity with each other needs no time-zone guess (DST moves them by one hour: neighbours count)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from pushguard.detect.base import Detection, append_bounded, from_ts
from pushguard.model import Event, Severity

MAX_EVIDENCE = 60
MAX_LISTED = 10


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
    def open(cls, event: Event) -> Episode:
        episode = cls(anchor=event.event_id, first_ts=event.ts, last_ts=event.ts)
        episode.add(event)
        return episode

    def add(self, event: Event) -> None:
        self.last_ts = max(self.last_ts, event.ts)
        if event.event_id not in self.evidence[-3:]:
            append_bounded(self.evidence, event.event_id, MAX_EVIDENCE)
        for ip in (event.ip, event.responder_ip):
            if ip and ip not in self.ips and len(self.ips) < MAX_LISTED:
                self.ips.append(ip)
        if event.provider.value not in self.providers:
            self.providers.append(event.provider.value)

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


def hour_of(ts: float) -> int:
    return int(ts // 3600) % 24


def usual_hours(times: Iterable[float], min_samples: int) -> set[int] | None:
    """Hours of the day (with their neighbours) this identity has been active at, or None when the
    history is too short to say what is unusual."""
    seen = [hour_of(ts) for ts in times]
    if len(seen) < min_samples:
        return None
    return {(hour + delta) % 24 for hour in seen for delta in (-1, 0, 1)}
