"""What the report tells a responder to do: actions merged from all of an incident's findings, worst
first, specific to what happened (the token created, the service account, the approval after refusals),
and the words it uses (no scores, no snake_case headings, local times with UTC on hover)."""

from __future__ import annotations

import re

import msgspec

from pushguard.detect import META_BY_ID
from pushguard.model import Event, EventKind, Finding, FindingStatus, Severity, UserKind, stable_id
from pushguard.report.html import render_html
from pushguard.report.incidents import build_incidents
from pushguard.report.present import plain, times
from tests.events import at, ev


def finding(
    detector: str,
    severity: Severity,
    *,
    user: str = "alice@corp.example",
    evidence: tuple[str, ...] = (),
    title: str = "",
    incident: str = "inc-1",
    start: float = 0,
    end: float = 600,
    reasons: tuple[str, ...] = ("a reason",),
    targets: tuple[str, ...] = (),
) -> Finding:
    meta = META_BY_ID[detector]
    return Finding(
        id=stable_id(detector, user, str(start)),
        revision=1,
        status=FindingStatus.OPEN,
        incident=incident,
        detector=detector,
        title=title or meta.title,
        severity=severity,
        confidence=0.8,
        user=user,
        provider="okta",
        first_seen=at(start).isoformat().replace("+00:00", "Z"),
        last_seen=at(end).isoformat().replace("+00:00", "Z"),
        detected_at=at(end).isoformat().replace("+00:00", "Z"),
        techniques=list(meta.techniques),
        frameworks={},
        evidence=list(evidence),
        source_ips=["203.0.113.9"],
        reasons=list(reasons),
        actions=list(meta.actions),
        targets=list(targets) if targets else msgspec.UNSET,
    )


def only_incident(findings: list[Finding], events: list[Event]) -> dict[str, object]:
    incidents = build_incidents(findings, events, META_BY_ID)
    assert len(incidents) == 1
    return incidents[0]


def test_actions_come_from_the_worst_finding_first_not_the_earliest() -> None:
    denied = ev(EventKind.PUSH_DENIED, 60, ip="203.0.113.9")
    approved = ev(EventKind.PUSH_APPROVED, 300, ip="203.0.113.9")
    early_low = finding("new_context", Severity.LOW, start=0, end=30)
    late_critical = finding(
        "approval_after_denials",
        Severity.CRITICAL,
        evidence=(denied.event_id, approved.event_id),
        title="Push approved after 4 refused prompts",
        start=60,
        end=300,
    )
    incident = only_incident([early_low, late_critical], [denied, approved])
    then = incident["then"]
    assert isinstance(then, list)
    # the critical finding's advice leads; the low finding's comes after it, each line once
    assert then[0] == META_BY_ID["approval_after_denials"].actions[0]
    assert (
        then.index(META_BY_ID["new_context"].actions[0])
        > len(META_BY_ID["approval_after_denials"].actions) - 1
    )
    assert len(then) == len(set(then))
    do_now = " ".join(str(step) for step in incident["do_now"])  # type: ignore[attr-defined]
    assert "Revoke alice@corp.example's sessions" in do_now
    assert "Reset alice@corp.example's password" in do_now
    # factors enrolled since the first refusal, at its moment
    assert f"since {denied.time.strftime('%Y-%m-%dT%H:%M:%SZ')}" in do_now
    assert incident["approved"] is True


def test_a_created_token_is_named_and_revoked() -> None:
    approved = ev(EventKind.PUSH_APPROVED, 0, ip="203.0.113.9")
    token = msgspec.structs.replace(ev(EventKind.PRIVILEGED_ACTION, 600), detail="system.api_token.create")
    found = finding(
        "privileged_after_risky_approval",
        Severity.CRITICAL,
        evidence=(approved.event_id, token.event_id),
        title="Privileged action 10 min after a risky approval: system.api_token.create",
    )
    incident = only_incident([found], [approved, token])
    steps = incident["do_now"]
    assert isinstance(steps, list)
    assert steps[0].startswith("Revoke the token or credential alice@corp.example created at")
    assert "system.api_token.create" in steps[0]
    timeline = incident["timeline"]
    assert isinstance(timeline, list)
    assert any(row["what"] == "privileged action: system.api_token.create" for row in timeline)


def test_the_token_is_named_from_a_findings_file_too() -> None:
    found = finding(
        "privileged_after_risky_approval",
        Severity.CRITICAL,
        title="Privileged action 10 min after a risky approval: system.api_token.create",
    )
    steps = only_incident([found], [])["do_now"]
    assert isinstance(steps, list)
    assert any("Revoke the token" in s and "system.api_token.create" in s for s in steps)


def test_a_service_account_is_rotated_never_asked_where_it_is() -> None:
    login = ev(EventKind.SIGNIN_SUCCESS, 0, user="svc-backup@corp.example")
    login = msgspec.structs.replace(login, user_kind=UserKind.NHI)
    travel = finding(
        "impossible_travel", Severity.HIGH, user="svc-backup@corp.example", evidence=(login.event_id,)
    )
    incident = only_incident([travel], [login])
    assert incident["service_account"] is True
    advice = [*incident["do_now"], *incident["then"]]  # type: ignore[misc]
    assert any("Rotate svc-backup@corp.example's credentials" in a for a in advice)
    assert not any(re.search(r"\bask the user\b", a, re.I) for a in advice)
    assert not any("Reset svc-backup" in a for a in advice)  # rotation covers it
    # a person's account gets the detector's question
    person = only_incident([finding("impossible_travel", Severity.HIGH)], [])
    assert any("Ask the user where they are" in a for a in person["then"])  # type: ignore[attr-defined]


def test_a_spray_lists_its_accounts_shows_its_events_and_names_its_victims() -> None:
    targets = ("a@corp.example", "b@corp.example", "c@corp.example")
    failures = [
        ev(EventKind.SIGNIN_FAILURE, 10 * n, user=user, ip="203.0.113.9") for n, user in enumerate(targets)
    ]
    spray = finding(
        "password_spray",
        Severity.MEDIUM,
        user="ip:203.0.113.9",
        evidence=tuple(e.event_id for e in failures),
        title="Password spray from ip:203.0.113.9: 3 identities targeted without approval",
        targets=targets,
    )
    victim = finding(
        "password_spray",
        Severity.HIGH,
        user="b@corp.example",
        incident="inc-2",
        reasons=(f"part of spray finding {spray.id} (password_spray, ip:203.0.113.9)",),
    )
    incidents = {i["user"]: i for i in build_incidents([spray, victim], failures, META_BY_ID)}
    source = incidents["ip:203.0.113.9"]
    assert source["who"] == "source 203.0.113.9" and source["targets"] == list(targets)
    assert [row["who"] for row in source["timeline"]] == list(targets)
    assert source["title"] == "Password spray from 203.0.113.9: 3 identities targeted without approval"
    assert source["do_now"][0].startswith("Block source 203.0.113.9")
    assert "b@corp.example" in source["do_now"][1]  # the victim's password is the attacker's
    html = render_html([spray, victim], failures, META_BY_ID)
    assert "Accounts targeted (3, 1 got past the password)" in html
    assert "Timeline (3 events, every account from this source)" in html


def test_scores_and_thresholds_are_not_shown_to_the_reader() -> None:
    assert (
        plain("okta_verify_push enrolled (score 8, fires at 4): a prompt")
        == "Okta Verify push enrolled: a prompt"
    )
    assert plain("context score 9 (fires at 7): first success from US") == "new here: first success from US"
    assert plain("(2 denied, 0 reported as fraud; weight 4)") == "(2 denied, 0 reported as fraud)"
    assert plain("1 prompt(s) refused in the 60 min before (weight 2: timeout 1, denial 2, report 3)") == (
        "1 prompt(s) refused in the 60 min before"
    )
    moment = str(times("since 2026-01-06T18:16:24Z; remove"))
    assert moment == (
        'since <time datetime="2026-01-06T18:16:24Z" title="2026-01-06 18:16:24 UTC">'
        "2026-01-06 18:16:24 UTC</time>; remove"
    )


def test_every_detector_carries_a_triage_note_and_known_false_positives() -> None:
    for meta in META_BY_ID.values():
        assert len(meta.triage) > 40, meta.id
        assert meta.false_positives and all(len(fp) > 20 for fp in meta.false_positives), meta.id


def test_the_incident_shows_the_detectors_title_triage_and_false_positives() -> None:
    html = render_html([finding("push_bombing", Severity.HIGH)], [], META_BY_ID)
    assert "<strong>Push bombing (MFA fatigue burst)</strong>" in html
    assert '<span class="tag">push_bombing</span>' in html
    assert META_BY_ID["push_bombing"].triage.replace("'", "&#39;") in html
    assert META_BY_ID["push_bombing"].false_positives[0].replace("'", "&#39;") in html
    assert not re.search(r"rev \d|confidence 0\.\d", html)


def test_charts_without_approvals_or_prompts_say_there_is_nothing_to_draw() -> None:
    from pushguard.report.charts import charts

    drawn = charts([ev(EventKind.SIGNIN_FAILURE, 0)])
    assert all(chart["empty"] and not chart["bars"] for chart in drawn.values())
    html = render_html(
        [finding("password_spray", Severity.MEDIUM)], [ev(EventKind.SIGNIN_FAILURE, 0)], META_BY_ID
    )
    assert html.count("Nothing to draw: no such events in the logs.") == 3


def test_chart_axes_have_round_ticks_and_titles() -> None:
    from pushguard.report.charts import charts

    events = [ev(EventKind.PUSH_APPROVED, 60 * n) for n in range(37)]
    chart = charts(events)["denials_vs_approvals"]
    assert [tick["label"] for tick in chart["y_ticks"]] == ["0", "10", "20", "30", "40"]
    assert chart["x_title"] == "day (UTC)" and chart["y_title"] == "answers"
    assert [item["name"] for item in chart["legend"]] == ["approved", "denied, unanswered or reported"]
    assert chart["values"]["approved"] == [37]
