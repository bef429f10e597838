"""Scoring findings against labels: matching, recall (per kind, provider, infrastructure), pushes until
detection, alarms apart from low/info, false alarms per detector and per benign behaviour, pooling."""

from __future__ import annotations

import json

import msgspec
import pytest

from pushguard.model import Finding, FindingRevision, FindingStatus, Severity
from pushguard.simulate.evaluate import fp_rate, pooled, score, to_json
from pushguard.simulate.labels import BenignEpisode, CampaignLabel, Labels


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


# -- alarms, attribution of false positives to benign behaviours, providers, pooling ----------------


def episode(identity: str, behaviour: str, start: str, end: str) -> BenignEpisode:
    return BenignEpisode(identity=identity, behaviour=behaviour, start=start, end=end)


def seen(fid: str, detector: str, user: str, first: str, last: str, severity: Severity) -> Finding:
    base = finding(fid, detector, [f"ev-{fid}"], last, user=user)
    return msgspec.structs.replace(base, first_seen=first, last_seen=last, severity=severity)


WITH_EPISODES = msgspec.structs.replace(
    LABELS,
    benign_episodes=[
        episode("ann@corp.example", "far_gateway", "2026-03-03T08:00:00Z", "2026-03-03T17:00:00Z"),
        episode("ann@corp.example", "missed_prompts", "2026-03-03T09:00:00Z", "2026-03-03T09:06:00Z"),
        episode("bob@corp.example", "double_denial", "2026-03-04T10:00:00Z", "2026-03-04T10:00:40Z"),
        episode("ip:198.51.100.7", "office_rush", "2026-03-04T08:50:00Z", "2026-03-04T09:20:00Z"),
        episode("bob@corp.example", "lost_phone_reset", "2026-03-05T10:00:00Z", "2026-03-05T11:00:00Z"),
    ],
)


def test_false_alarms_are_put_down_to_the_benign_episode_that_covers_them() -> None:
    findings = [
        # inside both of ann's episodes: the shorter one that covers it (the missed prompts)
        seen(
            "1",
            "push_bombing",
            "ann@corp.example",
            "2026-03-03T09:00:00Z",
            "2026-03-03T09:05:00Z",
            Severity.HIGH,
        ),
        # inside the gateway day only
        seen(
            "2",
            "new_context",
            "ann@corp.example",
            "2026-03-03T13:00:00Z",
            "2026-03-03T13:00:00Z",
            Severity.MEDIUM,
        ),
        # a second after the fat fingers' last record: still theirs (the records lie a little apart)
        seen(
            "3",
            "approval_after_denials",
            "bob@corp.example",
            "2026-03-04T10:00:00Z",
            "2026-03-04T10:00:41Z",
            Severity.HIGH,
        ),
        # the office egress, keyed by address
        seen(
            "4",
            "push_spray",
            "ip:198.51.100.7",
            "2026-03-04T09:00:00Z",
            "2026-03-04T09:10:00Z",
            Severity.HIGH,
        ),
        # bob, but at no episode of his: other
        seen(
            "5",
            "impossible_travel",
            "bob@corp.example",
            "2026-03-06T10:00:00Z",
            "2026-03-06T10:00:00Z",
            Severity.HIGH,
        ),
        # low severity: counted apart, not as a false alarm
        seen(
            "6",
            "new_context",
            "bob@corp.example",
            "2026-03-05T10:30:00Z",
            "2026-03-05T10:30:00Z",
            Severity.LOW,
        ),
        # spans ann's missed prompts and beyond: the episode it overlaps most
        seen(
            "7",
            "push_fatigue",
            "ann@corp.example",
            "2026-03-03T09:03:00Z",
            "2026-03-03T18:00:00Z",
            Severity.HIGH,
        ),
    ]
    result = score(WITH_EPISODES, findings)
    behaviour_of = {o.id: o.behaviour for o in result.outcomes}
    assert behaviour_of == {
        "1": "missed_prompts",
        "2": "far_gateway",
        "3": "double_denial",
        "4": "office_rush",
        "5": "other",
        "6": "lost_phone_reset",
        "7": "far_gateway",
    }
    assert result.false_positives == 6 and result.low_false_positives == 1
    assert result.false_positive_ids == ["1", "2", "3", "4", "5", "7"]
    rows = {b.behaviour: b for b in result.by_behaviour}
    # 200 benign users over 5 days: one false alarm is 1 per 1,000 people per day
    assert rows["far_gateway"].false_positives == 2 and rows[
        "far_gateway"
    ].fp_per_1k_users_day == pytest.approx(2.0)
    assert rows["far_gateway"].episodes == 1 and rows["far_gateway"].episodes_alarmed == 1
    assert rows["far_gateway"].detectors == {"new_context": 1, "push_fatigue": 1}
    assert rows["lost_phone_reset"].false_positives == 0 and rows["lost_phone_reset"].low_false_positives == 1
    assert rows["other"].episodes == 0 and rows["other"].false_positives == 1
    detectors = {d.detector: d for d in result.by_detector}
    assert detectors["new_context"].findings == 2 and detectors["new_context"].alarms == 1
    assert detectors["new_context"].false_positives == 1 and detectors["new_context"].low_false_positives == 1


def test_only_alarms_detect_a_campaign() -> None:
    low = msgspec.structs.replace(
        finding("1", "push_bombing", ["g1"], "2026-03-03T10:00:30Z"), severity=Severity.LOW
    )
    result = score(LABELS, [low])
    ridden = next(k for k in result.by_kind if k.kind == "push_bombing_ridden_out")
    assert (ridden.detected, ridden.detected_low) == (0, 1)
    assert result.false_positives == 0 and result.low_false_positives == 0  # it was about an attack
    medium = msgspec.structs.replace(low, severity=Severity.MEDIUM)
    assert score(LABELS, [medium]).detected == 1


def test_recall_per_provider_and_per_infrastructure() -> None:
    labels = msgspec.structs.replace(
        LABELS,
        campaigns=[
            msgspec.structs.replace(c, provider=p, infrastructure=i)
            for c, p, i in zip(
                LABELS.campaigns,
                ["okta", "entra", "duo", "okta"],
                ["residential", "foreign", "residential", "local_vps"],
                strict=True,
            )
        ],
    )
    findings = [
        finding("1", "push_bombing", ["e1"], "2026-03-03T10:00:10Z"),
        finding("2", "push_bombing", ["g1"], "2026-03-03T10:00:10Z"),
    ]
    result = score(labels, findings)
    assert [(g.name, g.campaigns, g.detected) for g in result.by_provider] == [
        ("duo", 1, 1),
        ("entra", 1, 0),
        ("okta", 2, 1),
    ]
    assert [(g.name, g.detected, g.recall) for g in result.by_infrastructure] == [
        ("foreign", 0, 0.0),
        ("local_vps", 0, 0.0),
        ("residential", 2, 1.0),
    ]


def test_a_finding_on_the_spray_around_a_victim_is_related_not_a_false_positive() -> None:
    victim = msgspec.structs.replace(
        campaign("v", "spray_then_push", ["p1", "p2"], PROMPTS[:2], ips=["192.0.2.44"]),
        context_event_ids=["fail1", "fail2", "fail3"],
    )
    labels = msgspec.structs.replace(LABELS, campaigns=[victim])
    spray_alarm = finding(
        "1", "password_spray", ["fail1", "fail2"], "2026-03-03T10:03:00Z", user="ip:192.0.2.44"
    )
    push_alarm = finding("2", "push_spray", ["p2"], "2026-03-03T10:01:30Z")
    result = score(labels, [spray_alarm, push_alarm])
    assert {o.id: o.outcome for o in result.outcomes} == {"1": "related", "2": "attack"}
    assert result.false_positives == 0 and result.related_findings == 1
    assert result.detected == 1 and result.results[0].pushes_to_detect == 2


def test_without_revisions_the_findings_own_first_alarm_decides_when() -> None:
    base = finding("1", "push_bombing", ["e1", "e2", "e3", "e4", "e5", "e6"], "2026-03-03T10:05:30Z")
    history = [
        FindingRevision(revision=1, severity=Severity.LOW, detected_at="2026-03-03T10:01:30Z", title="t"),
        FindingRevision(revision=2, severity=Severity.MEDIUM, detected_at="2026-03-03T10:03:30Z", title="t"),
    ]
    with_history = msgspec.structs.replace(base, first_detected_at="2026-03-03T10:01:30Z", history=history)
    assert score(LABELS, [with_history]).results[0].pushes_to_detect == 4  # medium reached at 10:03:30
    first_only = msgspec.structs.replace(base, first_detected_at="2026-03-03T10:02:10Z")
    assert score(LABELS, [first_only]).results[0].pushes_to_detect == 3
    # opened by something before the campaign: not earlier than the campaign's first record
    early = msgspec.structs.replace(base, first_detected_at="2026-03-03T08:00:00Z")
    assert score(LABELS, [early]).results[0].seconds_to_detect == 0


def test_pooled_seeds_sum_campaigns_and_rate_over_all_person_days() -> None:
    one = score(
        WITH_EPISODES,
        [
            seen(
                "1",
                "push_bombing",
                "ann@corp.example",
                "2026-03-03T09:01:00Z",
                "2026-03-03T09:02:00Z",
                Severity.HIGH,
            )
        ],
    )
    two = score(msgspec.structs.replace(WITH_EPISODES, benign_users=["x"] * 300), [])
    total = pooled([one, two])
    assert total.campaigns == one.campaigns + two.campaigns
    assert total.person_days == 200 * 5 + 300 * 5
    assert total.fp_per_1k_users_day == pytest.approx(1000 / 2500)
    gateway = next(b for b in total.by_behaviour if b.behaviour == "missed_prompts")
    assert gateway.episodes == 2 and gateway.episodes_alarmed == 1
