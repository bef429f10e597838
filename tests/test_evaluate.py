"""Scoring findings against labels: matching, recall, pushes until detection, FP rate."""

from __future__ import annotations

import json

import msgspec
import pytest

from pushguard.model import Finding, FindingStatus, Severity
from pushguard.simulate.evaluate import fp_rate, score, to_json
from pushguard.simulate.labels import CampaignLabel, Labels


def campaign(
    cid: str, kind: str, ids: list[str], prompts: list[str], ips: list[str] | None = None
) -> CampaignLabel:
    return CampaignLabel(
        id=cid,
        kind=kind,
        identity="ip:203.0.113.9" if kind == "password_spray" else f"{cid}@corp.example",
        provider="okta",
        source_ips=ips or ["203.0.113.9"],
        start="2026-03-03T10:00:00Z",
        end="2026-03-03T10:30:00Z",
        techniques=["T1621"],
        event_ids=ids,
        prompts=len(prompts),
        prompt_times=prompts,
    )


def finding(fid: str, detector: str, evidence: list[str], at: str, user: str = "x@corp.example") -> Finding:
    return Finding(
        id=fid,
        revision=1,
        status=FindingStatus.OPEN,
        incident="i",
        detector=detector,
        title="t",
        severity=Severity.HIGH,
        confidence=0.9,
        user=user,
        provider="okta",
        first_seen=at,
        last_seen=at,
        detected_at=at,
        techniques=["T1621"],
        frameworks={},
        evidence=evidence,
        source_ips=[],
        reasons=[],
        actions=[],
    )


PROMPTS = [f"2026-03-03T10:0{n}:00Z" for n in range(6)]
LABELS = Labels(
    seed=1,
    users=100,
    days=5,
    start="2026-03-02T00:00:00Z",
    benign_users=[f"u{n}" for n in range(200)],
    service_accounts=[],
    campaigns=[
        campaign("a", "push_bombing_approved", ["e1", "e2", "e3", "e4", "e5", "e6"], PROMPTS),
        campaign("b", "push_bombing_approved", ["f1", "f2"], PROMPTS[:2]),
        campaign("c", "push_bombing_ridden_out", ["g1"], PROMPTS[:1]),
        campaign("s", "password_spray", ["s1", "s2"], []),
    ],
)


def test_time_to_detect_comes_from_the_first_revision_that_touched_the_campaign() -> None:
    # One escalating finding: revision 1 after 3 prompts (e1-e3), the final revision after all 6. Without
    # the revisions the final time counts; with them the first revision that touched the campaign. A
    # revision about other events (a benign episode the attack then joined) does not count.
    early = msgspec.structs.replace(
        finding("1", "push_bombing", ["e1", "e2", "e3"], "2026-03-03T10:02:30Z"), revision=1
    )
    unrelated = msgspec.structs.replace(
        finding("1", "push_bombing", ["other"], "2026-03-03T09:00:00Z"), revision=1
    )
    final = msgspec.structs.replace(
        finding("1", "push_bombing", ["e1", "e2", "e3", "e6"], "2026-03-03T10:05:30Z"), revision=2
    )
    late = score(LABELS, [final])
    timed = score(LABELS, [final], [unrelated, early, final])
    assert late.results[0].pushes_to_detect == 6 and late.results[0].seconds_to_detect == 330
    assert timed.results[0].pushes_to_detect == 3 and timed.results[0].seconds_to_detect == 150
    assert timed.false_positives == late.false_positives  # what counts as detected is unchanged


def test_recall_pushes_and_time_to_detect() -> None:
    findings = [
        finding("1", "push_bombing", ["e2", "e3", "e4"], "2026-03-03T10:03:30Z"),  # after 4 prompts
        finding("2", "approval_after_bombing", ["e6"], "2026-03-03T10:05:10Z"),  # later: not the earliest
        finding("3", "push_bombing", ["f2"], "2026-03-03T10:01:00Z"),  # after 2 prompts
        finding("4", "password_spray", ["zz"], "2026-03-03T10:20:00Z", user="ip:203.0.113.9"),
        finding("5", "push_bombing", ["nope"], "2026-03-03T11:00:00Z"),  # false positive
        finding("6", "impossible_travel", [], "2026-03-04T11:00:00Z"),  # false positive
    ]
    result = score(LABELS, findings)
    assert result.campaigns == 4
    assert result.detected == 3
    assert result.recall == pytest.approx(0.75)
    kinds = {k.kind: k for k in result.by_kind}
    bombing = kinds["push_bombing_approved"]
    assert (bombing.campaigns, bombing.detected, bombing.recall) == (2, 2, 1.0)
    assert bombing.pushes_to_detect_median == 3.0  # 4 and 2
    assert bombing.pushes_to_detect_max == 4
    assert bombing.seconds_to_detect_median == pytest.approx((210 + 60) / 2)
    assert bombing.seconds_to_detect_max == 210
    assert bombing.detectors == ["approval_after_bombing", "push_bombing"]
    assert kinds["push_bombing_ridden_out"].recall == 0.0
    assert kinds["push_bombing_ridden_out"].pushes_to_detect_median is None
    spray = kinds["password_spray"]
    assert spray.detected == 1
    assert spray.pushes_to_detect_max is None  # no prompts in a spray
    assert spray.seconds_to_detect_max == 1200
    assert result.false_positives == 2
    assert result.false_positive_ids == ["5", "6"]
    # 2 FPs over 200 benign users and 5 days: 2 * 1000 / 200 / 5 = 2 per 1,000 users per day
    assert result.fp_per_1k_users_day == pytest.approx(2.0)
    detectors = {d.detector: d for d in result.by_detector}
    assert detectors["push_bombing"].findings == 3
    assert detectors["push_bombing"].true_positives == 2
    assert detectors["push_bombing"].false_positives == 1
    assert detectors["push_bombing"].fp_per_1k_users_day == pytest.approx(1.0)
    assert detectors["push_bombing"].campaigns_detected == 2
    assert detectors["impossible_travel"].false_positives == 1
    decoded = json.loads(to_json(result))
    assert decoded["detected"] == 3


def test_spray_matches_by_ip_only_for_sprays() -> None:
    labels = Labels(
        seed=1,
        users=10,
        days=1,
        start="2026-03-02T00:00:00Z",
        benign_users=["u"],
        service_accounts=[],
        campaigns=[campaign("a", "push_bombing_approved", ["e1"], PROMPTS[:1])],
    )
    result = score(labels, [finding("1", "spray", [], "2026-03-03T10:00:00Z", user="ip:203.0.113.9")])
    assert result.detected == 0
    assert result.false_positives == 1


def test_fp_rate_edges() -> None:
    assert fp_rate(3, 0, 7) == 0.0
    assert fp_rate(3, 300, 0) == 0.0
    assert fp_rate(21, 300, 7) == pytest.approx(10.0)
    empty = score(
        Labels(seed=1, users=1, days=1, start="x", benign_users=[], service_accounts=[], campaigns=[]), []
    )
    assert empty.recall == 0.0
    assert empty.by_kind == []
