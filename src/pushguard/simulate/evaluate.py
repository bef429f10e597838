"""Scoring findings against a simulation's labels: pure arithmetic, no analysis (``simulate`` sits below
``pipeline``; the CLI runs the analysis and hands the findings here).

A campaign is detected when a finding's evidence shares an event id with it, or, for a spray, when the
finding's identity is ``ip:<the campaign's source IP>``. Per campaign kind: recall; pushes until
detection (the campaign's prompts up to the earliest matching finding's ``detected_at``), median and
max; time to detect (that ``detected_at`` minus the campaign start), median and max. A finding that
matches no campaign is a false positive, reported per 1,000 benign users per simulated day, per
detector."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime

import msgspec
from rich.console import Console
from rich.table import Table

from pushguard.model import Finding
from pushguard.simulate.labels import CampaignLabel, Labels

SPRAY_KINDS = frozenset({"password_spray"})


class KindScore(msgspec.Struct, kw_only=True):
    kind: str
    campaigns: int
    detected: int
    recall: float
    pushes_to_detect_median: float | None
    pushes_to_detect_max: int | None
    seconds_to_detect_median: float | None
    seconds_to_detect_max: float | None
    detectors: list[str]  # detectors whose findings matched a campaign of this kind


class DetectorScore(msgspec.Struct, kw_only=True):
    detector: str
    findings: int
    true_positives: int  # findings that matched a campaign
    false_positives: int
    fp_per_1k_users_day: float
    campaigns_detected: int


class CampaignResult(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    identity: str
    detected: bool
    detectors: list[str]
    detected_at: str | None
    pushes_to_detect: int | None
    seconds_to_detect: float | None


class Evaluation(msgspec.Struct, kw_only=True):
    campaigns: int
    detected: int
    recall: float
    findings: int
    false_positives: int
    fp_per_1k_users_day: float
    benign_users: int
    days: int
    by_kind: list[KindScore]
    by_detector: list[DetectorScore]
    results: list[CampaignResult]
    false_positive_ids: list[str]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def matches(campaign: CampaignLabel, finding: Finding, ids: frozenset[str]) -> bool:
    if campaign.kind in SPRAY_KINDS and any(finding.user == f"ip:{ip}" for ip in campaign.source_ips):
        return True
    return not ids.isdisjoint(finding.evidence)


def fp_rate(false_positives: int, benign_users: int, days: int) -> float:
    """False positives per 1,000 benign users per day."""
    if benign_users <= 0 or days <= 0:
        return 0.0
    return false_positives * 1000.0 / benign_users / days


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def score(
    labels: Labels, findings: Sequence[Finding], revisions: Sequence[Finding] | None = None
) -> Evaluation:
    """``findings`` at their final revision decide what was detected and what is a false positive;
    ``revisions`` (every revision as reported), when given, decide when: the earliest revision whose own
    evidence already touched the campaign. Without them the final revision's time is used, which is
    late for a finding that escalated."""
    results: list[CampaignResult] = []
    matched: set[str] = set()
    detector_campaigns: dict[str, set[str]] = {}
    for campaign in labels.campaigns:
        ids = frozenset(campaign.event_ids)
        hits = [f for f in findings if matches(campaign, f, ids)]
        for finding in hits:
            matched.add(finding.id)
            detector_campaigns.setdefault(finding.detector, set()).add(campaign.id)
        if not hits:
            results.append(
                CampaignResult(
                    id=campaign.id,
                    kind=campaign.kind,
                    identity=campaign.identity,
                    detected=False,
                    detectors=[],
                    detected_at=None,
                    pushes_to_detect=None,
                    seconds_to_detect=None,
                )
            )
            continue
        timed = hits
        if revisions is not None:
            timed = [r for r in revisions if matches(campaign, r, ids)] or hits
        first = min(timed, key=lambda f: (_time(f.detected_at), f.id))
        at = _time(first.detected_at)
        until = sum(1 for t in campaign.prompt_times if _time(t) <= at) if campaign.prompts else None
        results.append(
            CampaignResult(
                id=campaign.id,
                kind=campaign.kind,
                identity=campaign.identity,
                detected=True,
                detectors=sorted({f.detector for f in hits}),
                detected_at=first.detected_at,
                pushes_to_detect=until,
                seconds_to_detect=(at - _time(campaign.start)).total_seconds(),
            )
        )
    by_kind: list[KindScore] = []
    for kind in sorted({c.kind for c in labels.campaigns}):
        of_kind = [r for r in results if r.kind == kind]
        hit = [r for r in of_kind if r.detected]
        pushes = [r.pushes_to_detect for r in hit if r.pushes_to_detect is not None]
        seconds = [r.seconds_to_detect for r in hit if r.seconds_to_detect is not None]
        by_kind.append(
            KindScore(
                kind=kind,
                campaigns=len(of_kind),
                detected=len(hit),
                recall=len(hit) / len(of_kind),
                pushes_to_detect_median=_median(pushes),
                pushes_to_detect_max=max(pushes) if pushes else None,
                seconds_to_detect_median=_median(seconds),
                seconds_to_detect_max=max(seconds) if seconds else None,
                detectors=sorted({d for r in hit for d in r.detectors}),
            )
        )
    benign, days = len(labels.benign_users), labels.days
    by_detector: list[DetectorScore] = []
    for detector in sorted({f.detector for f in findings}):
        mine = [f for f in findings if f.detector == detector]
        false = sum(1 for f in mine if f.id not in matched)
        by_detector.append(
            DetectorScore(
                detector=detector,
                findings=len(mine),
                true_positives=len(mine) - false,
                false_positives=false,
                fp_per_1k_users_day=fp_rate(false, benign, days),
                campaigns_detected=len(detector_campaigns.get(detector, ())),
            )
        )
    false_ids = sorted(f.id for f in findings if f.id not in matched)
    detected = sum(1 for r in results if r.detected)
    return Evaluation(
        campaigns=len(results),
        detected=detected,
        recall=detected / len(results) if results else 0.0,
        findings=len(findings),
        false_positives=len(false_ids),
        fp_per_1k_users_day=fp_rate(len(false_ids), benign, days),
        benign_users=benign,
        days=days,
        by_kind=by_kind,
        by_detector=by_detector,
        results=results,
        false_positive_ids=false_ids,
    )


# -- rendering ------------------------------------------------------------------------------------


def to_json(evaluation: Evaluation) -> bytes:
    return msgspec.json.encode(evaluation)


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def print_evaluation(console: Console, evaluation: Evaluation) -> None:
    kinds = Table(
        title=(
            f"Detection by campaign kind: {evaluation.detected}/{evaluation.campaigns} campaigns "
            f"(recall {evaluation.recall:.0%})"
        ),
        title_justify="left",
    )
    for column in (
        "kind",
        "campaigns",
        "detected",
        "recall",
        "pushes med",
        "pushes max",
        "ttd med",
        "ttd max",
        "detectors",
    ):
        kinds.add_column(column, justify="left" if column in ("kind", "detectors") else "right")
    for row in evaluation.by_kind:
        kinds.add_row(
            row.kind,
            str(row.campaigns),
            str(row.detected),
            f"{row.recall:.0%}",
            _num(row.pushes_to_detect_median, 1),
            _num(row.pushes_to_detect_max),
            _duration(row.seconds_to_detect_median),
            _duration(row.seconds_to_detect_max),
            ", ".join(row.detectors),
        )
    console.print(kinds)
    detectors = Table(
        title=(
            f"Findings by detector: {evaluation.findings} findings, {evaluation.false_positives} false "
            f"positives ({evaluation.fp_per_1k_users_day:.2f} per 1,000 benign users per day; "
            f"{evaluation.benign_users} benign users, {evaluation.days} days)"
        ),
        title_justify="left",
    )
    for column in ("detector", "findings", "true pos.", "false pos.", "FP /1k users/day", "campaigns"):
        detectors.add_column(column, justify="left" if column == "detector" else "right")
    for score in evaluation.by_detector:
        detectors.add_row(
            score.detector,
            str(score.findings),
            str(score.true_positives),
            str(score.false_positives),
            f"{score.fp_per_1k_users_day:.2f}",
            str(score.campaigns_detected),
        )
    console.print(detectors)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
