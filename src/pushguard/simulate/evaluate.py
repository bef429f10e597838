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

import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from pushguard.model import Finding, Severity
from pushguard.simulate.labels import BenignEpisode, CampaignLabel, Labels

SPRAY_KINDS = frozenset({"password_spray"})
ALARM_RANK = Severity.MEDIUM.rank
EPISODE_SLACK = timedelta(minutes=5)  # the records a finding cites lie a few seconds past an episode's
OTHER = "other"


class KindScore(msgspec.Struct, kw_only=True):
    kind: str
    campaigns: int
    detected: int  # by an alarm
    recall: float
    detected_low: int  # touched only by low/info findings (not detected)
    pushes_to_detect_median: float | None
    pushes_to_detect_max: int | None
    seconds_to_detect_median: float | None
    seconds_to_detect_max: float | None
    detectors: list[str]  # detectors whose alarms matched a campaign of this kind


class GroupScore(msgspec.Struct, kw_only=True):
    """Recall over the campaigns of one provider, or of one kind of attacker infrastructure."""

    name: str
    campaigns: int
    detected: int
    recall: float


class DetectorScore(msgspec.Struct, kw_only=True):
    detector: str
    findings: int  # every severity
    alarms: int  # medium or worse
    true_positives: int  # alarms that matched a campaign
    false_positives: int  # alarms that matched none
    fp_per_1k_users_day: float
    low_false_positives: int  # low/info findings that matched no campaign
    campaigns_detected: int


class BehaviourScore(msgspec.Struct, kw_only=True):
    behaviour: str
    episodes: int  # benign episodes of this behaviour in the scored period
    episodes_alarmed: int  # of them, those a false alarm was put down to
    false_positives: int  # false alarms put down to it
    fp_per_1k_users_day: float
    low_false_positives: int
    detectors: dict[str, int]  # false alarms per detector


class CampaignResult(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    identity: str
    detected: bool
    detectors: list[str]
    detected_at: str | None
    pushes_to_detect: int | None
    seconds_to_detect: float | None
    provider: str = ""
    infrastructure: str = ""
    detected_low: bool = False


class FindingOutcome(msgspec.Struct, kw_only=True):
    """What one finding turned out to be: attack (it touched a campaign) | related (only the context of
    one) | false_positive."""

    id: str
    detector: str
    severity: str
    identity: str
    outcome: str
    behaviour: str = ""  # false positives: the benign behaviour it is put down to
    episode: str = ""  # and the episode (identity|behaviour|start)

    @property
    def alarm(self) -> bool:
        return Severity(self.severity).rank >= ALARM_RANK


class Evaluation(msgspec.Struct, kw_only=True):
    campaigns: int
    detected: int
    recall: float
    findings: int
    alarms: int
    false_positives: int  # false alarms
    fp_per_1k_users_day: float
    low_false_positives: int
    low_fp_per_1k_users_day: float
    related_findings: int
    benign_users: int
    days: int
    person_days: float  # benign people x scored days: the false-positive rates' denominator
    history_days: int
    by_kind: list[KindScore]
    by_provider: list[GroupScore]
    by_infrastructure: list[GroupScore]
    by_detector: list[DetectorScore]
    by_behaviour: list[BehaviourScore]
    results: list[CampaignResult]
    outcomes: list[FindingOutcome]
    episodes: dict[str, int]  # benign episodes per behaviour
    false_positive_ids: list[str]


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


def per_1k(count: int, person_days: float) -> float:
    return count * 1000.0 / person_days if person_days > 0 else 0.0


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _field(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def _rank(severity: Any) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def first_alarm_time(finding: Finding) -> datetime:
    """When the finding first stood at medium or worse, from what the finding itself carries."""
    history = getattr(finding, "history", None)  # findings carry it from the engine's next version on
    if isinstance(history, list) and history:
        for entry in history:
            severity, at = _field(entry, "severity"), _field(entry, "detected_at")
            if isinstance(at, str) and _rank(severity) >= ALARM_RANK:
                return _time(at)
        return _time(finding.detected_at)
    first = getattr(finding, "first_detected_at", None)
    if isinstance(first, str) and first:
        return _time(first)
    return _time(finding.detected_at)


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


def _groups(results: list[CampaignResult], key: Callable[[CampaignResult], str]) -> list[GroupScore]:
    groups: list[GroupScore] = []
    for name in sorted({key(r) for r in results}):
        mine = [r for r in results if key(r) == name]
        hit = sum(1 for r in mine if r.detected)
        groups.append(GroupScore(name=name, campaigns=len(mine), detected=hit, recall=hit / len(mine)))
    return groups


def _kind_scores(results: list[CampaignResult]) -> list[KindScore]:
    scores: list[KindScore] = []
    for kind in sorted({r.kind for r in results}):
        of_kind = [r for r in results if r.kind == kind]
        hit = [r for r in of_kind if r.detected]
        pushes = [r.pushes_to_detect for r in hit if r.pushes_to_detect is not None]
        seconds = [r.seconds_to_detect for r in hit if r.seconds_to_detect is not None]
        scores.append(
            KindScore(
                kind=kind,
                campaigns=len(of_kind),
                detected=len(hit),
                recall=len(hit) / len(of_kind),
                detected_low=sum(1 for r in of_kind if r.detected_low),
                pushes_to_detect_median=_median(pushes),
                pushes_to_detect_max=max(pushes) if pushes else None,
                seconds_to_detect_median=_median(seconds),
                seconds_to_detect_max=max(seconds) if seconds else None,
                detectors=sorted({d for r in hit for d in r.detectors}),
            )
        )
    return scores


def _detector_scores(
    outcomes: list[FindingOutcome], results: list[CampaignResult], person_days: float
) -> list[DetectorScore]:
    scores: list[DetectorScore] = []
    for detector in sorted({o.detector for o in outcomes}):
        mine = [o for o in outcomes if o.detector == detector]
        alarms = [o for o in mine if o.alarm]
        false = sum(1 for o in alarms if o.outcome == "false_positive")
        scores.append(
            DetectorScore(
                detector=detector,
                findings=len(mine),
                alarms=len(alarms),
                true_positives=sum(1 for o in alarms if o.outcome == "attack"),
                false_positives=false,
                fp_per_1k_users_day=per_1k(false, person_days),
                low_false_positives=sum(1 for o in mine if not o.alarm and o.outcome == "false_positive"),
                campaigns_detected=sum(1 for r in results if detector in r.detectors),
            )
        )
    return scores


def _behaviour_scores(
    outcomes: list[FindingOutcome], episodes: dict[str, int], person_days: float
) -> list[BehaviourScore]:
    false = [o for o in outcomes if o.outcome == "false_positive"]
    scores: list[BehaviourScore] = []
    for behaviour in sorted(set(episodes) | {o.behaviour for o in false}):
        mine = [o for o in false if o.behaviour == behaviour]
        alarms = [o for o in mine if o.alarm]
        detectors: dict[str, int] = {}
        for o in alarms:
            detectors[o.detector] = detectors.get(o.detector, 0) + 1
        scores.append(
            BehaviourScore(
                behaviour=behaviour,
                episodes=episodes.get(behaviour, 0),
                episodes_alarmed=len({o.episode for o in alarms if o.episode}),
                false_positives=len(alarms),
                fp_per_1k_users_day=per_1k(len(alarms), person_days),
                low_false_positives=len(mine) - len(alarms),
                detectors=dict(sorted(detectors.items(), key=lambda kv: (-kv[1], kv[0]))),
            )
        )
    return scores


def summarize(
    results: list[CampaignResult],
    outcomes: list[FindingOutcome],
    episodes: dict[str, int],
    *,
    benign_users: int,
    days: int,
    history_days: int = 0,
    person_days: float | None = None,
) -> Evaluation:
    """The tables from per-campaign results and per-finding outcomes (one seed, or several pooled)."""
    person_days = float(benign_users * days) if person_days is None else person_days
    false = [o for o in outcomes if o.outcome == "false_positive"]
    false_alarms = [o for o in false if o.alarm]
    detected = sum(1 for r in results if r.detected)
    return Evaluation(
        campaigns=len(results),
        detected=detected,
        recall=detected / len(results) if results else 0.0,
        findings=len(outcomes),
        alarms=sum(1 for o in outcomes if o.alarm),
        false_positives=len(false_alarms),
        fp_per_1k_users_day=per_1k(len(false_alarms), person_days),
        low_false_positives=len(false) - len(false_alarms),
        low_fp_per_1k_users_day=per_1k(len(false) - len(false_alarms), person_days),
        related_findings=sum(1 for o in outcomes if o.outcome == "related"),
        benign_users=benign_users,
        days=days,
        person_days=person_days,
        history_days=history_days,
        by_kind=_kind_scores(results),
        by_provider=_groups(results, lambda r: r.provider),
        by_infrastructure=_groups(results, lambda r: r.infrastructure),
        by_detector=_detector_scores(outcomes, results, person_days),
        by_behaviour=_behaviour_scores(outcomes, episodes, person_days),
        results=results,
        outcomes=outcomes,
        episodes=dict(sorted(episodes.items())),
        false_positive_ids=sorted(o.id for o in false_alarms),
    )


def pooled(evaluations: Sequence[Evaluation]) -> Evaluation:
    """Several seeds as one: campaigns and findings pooled, rates over the summed person-days."""
    results = [r for e in evaluations for r in e.results]
    outcomes = [
        msgspec.structs.replace(o, episode=f"{n}/{o.episode}" if o.episode else "")
        for n, e in enumerate(evaluations)
        for o in e.outcomes
    ]
    episodes: dict[str, int] = {}
    for evaluation in evaluations:
        for behaviour, count in evaluation.episodes.items():
            episodes[behaviour] = episodes.get(behaviour, 0) + count
    days = {e.days for e in evaluations}
    history = {e.history_days for e in evaluations}
    return summarize(
        results,
        outcomes,
        episodes,
        benign_users=sum(e.benign_users for e in evaluations),
        days=days.pop() if len(days) == 1 else 0,
        history_days=history.pop() if len(history) == 1 else 0,
        person_days=sum(e.person_days for e in evaluations),
    )


def to_json(evaluation: Evaluation) -> bytes:
    return msgspec.json.encode(evaluation)
