"""Scoring findings against a simulation's labels: pure arithmetic, no analysis (``simulate`` sits below
``pipeline``; the CLI runs the analysis, history first, and hands the scored period's findings here).

Alarms are findings of medium severity or worse; low and info findings are counted apart and detect
nothing. A campaign is detected when an alarm's evidence shares an event id with it, or, for a plain
spray, when the alarm's identity is ``ip:<the campaign's source IP>``. A finding that touches only the
context of a campaign (the failures of the spray around a spray-then-push victim) is *related*: neither a
detection nor a false positive. Every other finding is a false positive, reported per 1,000 benign
people per scored day, per detector and per benign behaviour: the benign episode of the finding's
identity whose window (widened by ``EPISODE_SLACK``) covers the finding's first_seen..last_seen, else the
one overlapping it most, the shorter first; "other" when none does.

When was a campaign detected: given every revision as reported (``revisions``), the earliest alarm
revision whose own evidence already touched the campaign (exact). Without them, the finding's own
record: the first alarm entry of its ``history``, else ``first_detected_at``, else ``detected_at``,
never earlier than the campaign's first record (a finding opened by something else cannot have seen
the campaign before it began). Pushes before detection count the campaign's prompts up to that moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec

from pushguard.model import Finding
from pushguard.simulate.evaluate_summary import (
    ALARM_RANK,
    BehaviourScore,
    CampaignResult,
    DetectorScore,
    Evaluation,
    FindingOutcome,
    GroupScore,
    KindScore,
    per_1k,
    pooled,
    summarize,
)
from pushguard.simulate.labels import BenignEpisode, CampaignLabel, Labels

__all__ = [
    "BehaviourScore",
    "CampaignResult",
    "DetectorScore",
    "Evaluation",
    "FindingOutcome",
    "GroupScore",
    "KindScore",
    "fp_rate",
    "per_1k",
    "pooled",
    "score",
    "summarize",
    "to_json",
]

SPRAY_KINDS = frozenset({"password_spray"})
EPISODE_SLACK = timedelta(minutes=5)  # the records a finding cites lie a few seconds past an episode's
OTHER = "other"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_alarm(finding: Finding) -> bool:
    return finding.severity.rank >= ALARM_RANK


def matches(campaign: CampaignLabel, finding: Finding, ids: frozenset[str]) -> bool:
    if campaign.kind in SPRAY_KINDS and any(finding.user == f"ip:{ip}" for ip in campaign.source_ips):
        return True
    return not ids.isdisjoint(finding.evidence)


def fp_rate(false_positives: int, benign_users: int, days: int) -> float:
    """False positives per 1,000 benign users per day."""
    return per_1k(false_positives, float(benign_users * days))


def first_alarm_time(finding: Finding) -> datetime:
    """When the finding first stood at medium or worse, from what the finding itself carries: the first
    alarm entry of its history, else (no earlier revision) its first detection."""
    for entry in finding.history:
        if entry.severity.rank >= ALARM_RANK:
            return _time(entry.detected_at)
    if finding.history:
        return _time(finding.detected_at)
    return _time(finding.first_detected_at or finding.detected_at)


def _detection_time(
    campaign: CampaignLabel,
    hits: list[Finding],
    ids: frozenset[str],
    revisions: dict[str, list[Finding]] | None,
) -> datetime:
    if revisions is not None:
        timed = [
            _time(r.detected_at)
            for f in hits
            for r in revisions.get(f.id, ())
            if is_alarm(r) and matches(campaign, r, ids)
        ]
        if timed:
            return min(timed)
    start = _time(campaign.start)
    return min(max(first_alarm_time(f), start) for f in hits)


def _campaign_result(
    campaign: CampaignLabel, findings: Sequence[Finding], revisions: dict[str, list[Finding]] | None
) -> tuple[CampaignResult, list[Finding]]:
    ids = frozenset(campaign.event_ids)
    touching = [f for f in findings if matches(campaign, f, ids)]
    hits = [f for f in touching if is_alarm(f)]
    result = CampaignResult(
        id=campaign.id,
        kind=campaign.kind,
        identity=campaign.identity,
        detected=bool(hits),
        detectors=sorted({f.detector for f in hits}),
        detected_at=None,
        pushes_to_detect=None,
        seconds_to_detect=None,
        provider=campaign.provider,
        infrastructure=campaign.infrastructure,
        detected_low=bool(touching) and not hits,
        approved_prompt_at=campaign.approved_prompt_at,
    )
    if hits:
        at = _detection_time(campaign, hits, ids, revisions)
        result.detected_at = at.isoformat().replace("+00:00", "Z")
        result.pushes_to_detect = (
            sum(1 for t in campaign.prompt_times if _time(t) <= at) if campaign.prompts else None
        )
        result.seconds_to_detect = (at - _time(campaign.start)).total_seconds()
    return result, touching


class _Episodes:
    """The benign episodes of each identity, to put a false positive down to one."""

    def __init__(self, episodes: Iterable[BenignEpisode]) -> None:
        self.by_identity: dict[str, list[tuple[datetime, datetime, BenignEpisode]]] = {}
        for episode in episodes:
            self.by_identity.setdefault(episode.identity, []).append(
                (_time(episode.start) - EPISODE_SLACK, _time(episode.end) + EPISODE_SLACK, episode)
            )

    def attribute(self, finding: Finding) -> BenignEpisode | None:
        first, last = _time(finding.first_seen), _time(finding.last_seen)
        best: tuple[bool, timedelta, timedelta] | None = None
        chosen: BenignEpisode | None = None
        for start, end, episode in self.by_identity.get(finding.user, ()):
            overlap = min(end, last) - max(start, first)
            if overlap < timedelta(0):
                continue
            key = (start <= first and last <= end, overlap, start - end)  # covers, overlap, shorter
            if best is None or key > best:
                best, chosen = key, episode
        return chosen


def _outcomes(
    labels: Labels, findings: Sequence[Finding], detected_by: dict[str, str]
) -> list[FindingOutcome]:
    context = {i for c in labels.campaigns for i in c.context_event_ids}
    context_ips = {f"ip:{ip}" for c in labels.campaigns if c.context_event_ids for ip in c.source_ips}
    episodes = _Episodes(labels.benign_episodes)
    out: list[FindingOutcome] = []
    for finding in findings:
        outcome = FindingOutcome(
            id=finding.id,
            detector=finding.detector,
            severity=finding.severity.value,
            identity=finding.user,
            outcome="false_positive",
        )
        if finding.id in detected_by:
            outcome.outcome = "attack"
        elif finding.user in context_ips or not context.isdisjoint(finding.evidence):
            outcome.outcome = "related"
        else:
            episode = episodes.attribute(finding)
            outcome.behaviour = episode.behaviour if episode else OTHER
            outcome.episode = f"{episode.identity}|{episode.behaviour}|{episode.start}" if episode else ""
        out.append(outcome)
    return out


def score(
    labels: Labels, findings: Sequence[Finding], revisions: Sequence[Finding] | None = None
) -> Evaluation:
    """``findings`` at their final revision decide what was detected and what is a false positive;
    ``revisions`` (every revision as reported), when given, decide when (see the module docstring)."""
    by_id: dict[str, list[Finding]] | None = None
    if revisions is not None:
        by_id = {}
        for revision in revisions:
            by_id.setdefault(revision.id, []).append(revision)
    results: list[CampaignResult] = []
    matched: dict[str, str] = {}  # finding id → a campaign it matched
    for campaign in labels.campaigns:
        result, touching = _campaign_result(campaign, findings, by_id)
        results.append(result)
        for finding in touching:
            matched.setdefault(finding.id, campaign.id)
    episodes: dict[str, int] = {}
    for episode in labels.benign_episodes:
        episodes[episode.behaviour] = episodes.get(episode.behaviour, 0) + 1
    return summarize(
        results,
        _outcomes(labels, findings, matched),
        episodes,
        benign_users=len(labels.benign_users),
        days=labels.days,
        history_days=labels.history_days,
    )


def to_json(evaluation: Evaluation) -> bytes:
    return msgspec.json.encode(evaluation)
