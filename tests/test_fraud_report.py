"""Fraud report: "this wasn't me" is always high, critical when a push around it was approved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pushguard.detect.base import Detector
from pushguard.detect.fraud_report import FraudReport
from pushguard.detect.push_bombing import PushBombing
from pushguard.model import Event, EventKind, Factor, Finding, Provider, Severity
from pushguard.pipeline import Engine
from tests.events import ABROAD, ev

ATTACKER = "203.0.113.66"
PHONE = "192.0.2.30"


def run(events: Iterable[Event], *detectors: Detector[Any]) -> tuple[Engine, list[Finding]]:
    engine = Engine(detectors=list(detectors) or [FraudReport()])
    produced: list[Finding] = []
    for event in events:
        produced.extend(engine.process(event))
    produced.extend(engine.finish())
    return engine, produced


def mine(produced: list[Finding]) -> list[Finding]:
    return [f for f in produced if f.detector == "fraud_report"]


def history(days: int = 3) -> list[Event]:
    events = []
    for day in range(-days, 0):
        events.append(ev(EventKind.PUSH_SENT, day * 86400))
        events.append(ev(EventKind.PUSH_APPROVED, day * 86400 + 8))
    return events


def report(seconds: float, **kwargs: Any) -> Event:
    """Okta: the disowned request's IP is ``ip``; the reporting phone is the responder."""
    kwargs.setdefault("ip", ATTACKER)
    kwargs.setdefault("geo", ABROAD)
    kwargs.setdefault("responder_ip", PHONE)
    return ev(EventKind.FRAUD_REPORTED, seconds, **kwargs)


def test_a_lone_report_is_high_with_its_disowned_ip() -> None:
    events = [*history(), ev(EventKind.PUSH_SENT, 0, ip=ATTACKER, geo=ABROAD, device_id=None), report(20)]
    _, produced = run(events)
    (finding,) = produced
    assert finding.severity is Severity.HIGH
    assert finding.user == "alice@corp.example"
    assert finding.techniques == ["T1621"]
    assert finding.source_ips == [ATTACKER, PHONE]
    assert finding.reasons[0] == "the user reported 1 MFA request(s) as not theirs (1 record(s))"
    assert "1 push prompts" in finding.reasons[1]
    assert f"came from {ATTACKER} (Lagos, Nigeria), never used" in finding.reasons[2]
    assert finding.frameworks["nist_csf_2"] == ["PR.AA-03", "DE.AE-02", "DE.CM-03", "RS.MA-02"]


def test_report_after_a_bombing_lists_the_burst_and_the_open_finding() -> None:
    events = history()
    for n in range(5):
        events.append(ev(EventKind.PUSH_SENT, n * 40, ip=ATTACKER, geo=ABROAD, device_id=None))
        events.append(ev(EventKind.PUSH_DENIED, n * 40 + 10, ip=PHONE))
    events.append(report(230))
    _, produced = run(events, PushBombing(), FraudReport())
    (finding,) = mine(produced)
    assert "5 push prompts, 5 denied or unanswered, 0 approved" in finding.reasons[1]
    assert any(r.startswith("open findings for this identity: push_bombing (") for r in finding.reasons)


def test_approved_one_prompt_and_reported_the_next_is_critical() -> None:
    events = [*history(), ev(EventKind.PUSH_SENT, 0, ip=ATTACKER, geo=ABROAD, device_id=None)]
    approval = ev(EventKind.PUSH_APPROVED, 9, ip=ATTACKER, geo=ABROAD, device_id=None)
    events += [approval, ev(EventKind.PUSH_SENT, 300, ip=ATTACKER, geo=ABROAD, device_id=None), report(320)]
    _, produced = run(events)
    (finding,) = produced
    assert finding.severity is Severity.CRITICAL
    assert "T1078" in finding.techniques
    assert finding.evidence[0] == approval.event_id
    assert finding.reasons[-1] == f"a push was approved from {ATTACKER} 5 min before the report: " + (
        "the attacker probably got in"
    )


def test_approval_after_the_report_escalates_the_same_finding() -> None:
    events = [*history(), report(0)]
    events += [ev(EventKind.PUSH_SENT, 600, ip=ATTACKER, geo=ABROAD, device_id=None)]
    events += [ev(EventKind.PUSH_APPROVED, 606, ip=ATTACKER, geo=ABROAD, device_id=None)]
    _, produced = run(events)
    assert [f.revision for f in produced] == [1, 2]
    assert len({f.id for f in produced}) == 1
    assert produced[-1].severity is Severity.CRITICAL
    assert "10 min after the report" in produced[-1].reasons[-1]


def test_the_users_own_approval_from_home_does_not_make_it_critical() -> None:
    """Signed in from home at 9:00 (approved), then at 9:20 a push from abroad the user reports."""
    events = [*history(), ev(EventKind.PUSH_SENT, 0), ev(EventKind.PUSH_APPROVED, 6)]
    events += [ev(EventKind.PUSH_SENT, 1200, ip=ATTACKER, geo=ABROAD, device_id=None), report(1215)]
    events += [ev(EventKind.PUSH_SENT, 1500), ev(EventKind.PUSH_APPROVED, 1507)]  # back at work later
    _, produced = run(events)
    assert [f.severity for f in produced] == [Severity.HIGH]
    assert "1 approved" in produced[0].reasons[1]


def test_entra_logs_one_report_three_times_one_finding() -> None:
    """Sign-in (fraud code), audit "Fraud reported", risk detection userReportedSuspiciousActivity."""
    events = [*history()]
    for n in range(3):
        events.append(
            report(n * 40, provider=Provider.ENTRA, responder_ip=None, factor=Factor.MS_AUTHENTICATOR_PUSH)
        )
    _, produced = run(events)
    assert len({f.id for f in produced}) == 1
    last = produced[-1]
    assert last.reasons[0] == "the user reported 1 MFA request(s) as not theirs (3 record(s))"
    assert last.provider == "entra"
    assert len(last.evidence) == 3


def test_duo_fraud_from_a_known_address_is_still_high() -> None:
    """Duo: the user pressed "fraud" on a request from the office IP (an insider or a shared machine)."""
    events = [*history(), report(0, ip="198.51.100.7", provider=Provider.DUO, factor=Factor.DUO_PUSH)]
    (finding,) = run(events)[1]
    assert finding.severity is Severity.HIGH
    assert "an address this identity has used" in finding.reasons[2]


def test_two_reports_in_a_day_are_one_finding_a_week_later_another() -> None:
    events = [*history(), report(0), report(4 * 3600), report(8 * 86400)]
    _, produced = run(events)
    assert len(produced) == 3
    assert produced[0].id == produced[1].id != produced[2].id
    assert produced[1].reasons[0].startswith("the user reported 2 MFA request(s)")


def test_denials_without_a_report_are_not_this_detectors_business() -> None:
    events = [
        *history(),
        *(ev(EventKind.PUSH_DENIED, n * 30, ip=ATTACKER, geo=ABROAD, device_id=None) for n in range(6)),
    ]
    assert run(events)[1] == []


def test_tunables_change_the_approval_window() -> None:
    events = [*history(), ev(EventKind.PUSH_SENT, 0, ip=ATTACKER, geo=ABROAD, device_id=None)]
    events += [ev(EventKind.PUSH_APPROVED, 9, ip=ATTACKER, geo=ABROAD, device_id=None), report(900)]
    assert run(events)[1][0].severity is Severity.CRITICAL
    assert run(events, FraudReport({"approval_window_s": 600}))[1][0].severity is Severity.HIGH
