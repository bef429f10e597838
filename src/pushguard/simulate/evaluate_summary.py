"""The evaluation's tables from per-campaign results and per-finding outcomes: recall per kind, provider
and attacker infrastructure, findings and false alarms per detector and per benign behaviour; one seed,
or several pooled (rates over the summed person-days)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

import msgspec

from pushguard.model import Severity

ALARM_RANK = Severity.MEDIUM.rank


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
    # the attacker's first approved prompt ("" when none was approved): the closed loop's deadline
    # (simulate.evaluate_containment)
    approved_prompt_at: str = ""


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


def per_1k(count: int, person_days: float) -> float:
    return count * 1000.0 / person_days if person_days > 0 else 0.0


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


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
