"""Push fatigue: prompts through the night that never reach a burst fire; a workday of answered pushes,
a burst (push_bombing's) and a phone left at home for an hour do not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import msgspec

from pushguard.detect.push_fatigue import PushFatigue
from pushguard.flow import analyze
from pushguard.model import Event, EventKind, Finding, Severity
from pushguard.pipeline import Engine
from pushguard.simulate import okta_records as okta
from tests.events import ABROAD, T0, colleagues, daily_approvals, ev, run_engine

ATTACKER = "203.0.113.5"
OFFICE = "198.51.100.7"
HOUR = 3600.0


def history(days: int = 12) -> list[Event]:
    """The user's own approvals at the office, 09:00 to 17:00 (the test clock starts at 09:00 UTC), among
    colleagues who all sign in from France."""
    return colleagues() + daily_approvals(days, hours=(0, 3, 7), ip=OFFICE)


def night(
    count: int, every: float = 40 * 60, start: float = 14 * HOUR, kind: EventKind = EventKind.PUSH_TIMEOUT
) -> list[Event]:
    """From 23:00: a prompt every ``every`` seconds from the attacker, each timing out (or denied)."""
    events = []
    for n in range(count):
        moment = start + n * every
        events.append(ev(EventKind.PUSH_SENT, moment, ip=ATTACKER, geo=ABROAD, device_id=None))
        events.append(ev(kind, moment + 60, ip=ATTACKER, geo=ABROAD, device_id=None))
    return events


def run(events: list[Event], detector: PushFatigue | None = None) -> list[Finding]:
    return run_engine(events, [detector or PushFatigue()])


def test_prompts_through_the_night_fire_and_escalate() -> None:
    found = run(history() + night(10))
    assert [f.severity for f in found] == [Severity.HIGH]  # night hours this user is never active
    finding = found[0]
    assert finding.detector == "push_fatigue"
    assert finding.revision == 1
    assert "push prompts left unresolved over" in finding.reasons[0]
    night_reason = next(r for r in finding.reasons if "hours this identity never signs in at" in r)
    assert "the first at 23:00 UTC, outside this identity's 09:00-16:59 UTC (36 sign-ins)" in night_reason
    assert ATTACKER in finding.source_ips


def test_budget_then_more_prompts_escalates_by_count() -> None:
    """A new identity (no history to say what hours are odd) in an organisation that signs in from France:
    prompts from a country nobody here uses escalate by count alone, medium at 5, high at 9."""
    found = run(colleagues() + night(9))
    assert [f.severity for f in found] == [Severity.MEDIUM, Severity.HIGH]
    assert found[0].id == found[1].id and found[1].revision == 2


def test_an_approval_after_the_budget_is_critical() -> None:
    events = night(6)
    approval_at = 14 * HOUR + 6 * 40 * 60
    events.append(ev(EventKind.PUSH_SENT, approval_at, ip=ATTACKER, geo=ABROAD, device_id=None))
    events.append(ev(EventKind.PUSH_APPROVED, approval_at + 20, ip=ATTACKER, geo=ABROAD, device_id=None))
    found = run(events)
    assert found[-1].severity is Severity.CRITICAL
    assert "T1078" in found[-1].techniques


def test_a_workday_of_answered_pushes_is_quiet() -> None:
    events = history()
    for n in range(12):
        events.append(ev(EventKind.PUSH_SENT, n * 2400, ip=OFFICE))
        events.append(ev(EventKind.PUSH_APPROVED, n * 2400 + 4, ip=OFFICE))
    assert run(events) == []


def test_a_burst_is_left_to_push_bombing() -> None:
    assert run(history() + night(8, every=45)) == []


def test_a_phone_left_at_home_then_another_factor_is_quiet() -> None:
    """Four pushes from the office time out over an hour; the user signs in with a code instead: those
    prompts were theirs. Three more later: nothing adds up."""

    def office(count: int, start: float) -> list[Event]:
        prompts = []
        for n in range(count):
            prompts.append(ev(EventKind.PUSH_SENT, start + n * 20 * 60, ip=OFFICE))
            prompts.append(ev(EventKind.PUSH_TIMEOUT, start + n * 20 * 60 + 60, ip=OFFICE))
        return prompts

    events = history() + office(4, 2 * HOUR)
    events.append(ev(EventKind.MFA_SUCCESS, 2 * HOUR + 4500, ip=OFFICE, factor=None))
    events += office(3, 3.5 * HOUR)
    assert run(events) == []


def test_the_person_signing_in_from_home_does_not_excuse_the_attacker_s_prompts() -> None:
    """Prompts from the attacker's address overnight; in between the person signs in from the office
    with a code: the attacker's prompts are still unresolved."""
    events = history() + night(3, every=40 * 60)
    events.append(ev(EventKind.MFA_SUCCESS, 14 * HOUR + 3 * 40 * 60, ip=OFFICE, factor=None))
    events += night(3, every=40 * 60, start=14 * HOUR + 4 * 40 * 60)
    found = run(events)
    assert found and found[0].severity.rank >= Severity.MEDIUM.rank
    assert "5 push prompts left unresolved" in found[0].reasons[0]  # 3 before the sign-in, 2 after


def test_the_budget_is_tunable() -> None:
    assert run(night(4)) == []
    assert run(night(4), PushFatigue({"budget": 4})) != []


def test_okta_records_of_a_night_of_unanswered_pushes_through_analyze(tmp_path: Path) -> None:
    """Okta System Log records: a fortnight of the user's own approvals from Paris in office hours, then
    from 23:00 a push every 40 minutes that nobody answers (no answer record: the next send or the push's
    lifetime resolves it), and at last one approved from the attacker's address."""
    login = "leo.fischer@example.com"
    records = []
    for day in range(1, 13):
        for hour in (0, 4, 7):
            moment = T0 - timedelta(days=day, hours=-hour)
            seed = f"h{day}-{hour}"
            records.append(okta.push_sent(moment, login, "88.160.137.23", "paris", seed=seed))
            records.append(
                okta.push_answer(
                    moment + timedelta(seconds=7),
                    login,
                    "88.160.137.23",
                    "paris",
                    True,
                    seed=f"{seed}-answer",
                )
            )
    night_start = T0 + timedelta(hours=14)
    for n in range(8):
        records.append(
            okta.push_sent(night_start + timedelta(minutes=40 * n), login, ATTACKER, "newyork", seed=f"n{n}")
        )
    last = night_start + timedelta(minutes=40 * 8)
    records.append(okta.push_sent(last, login, ATTACKER, "newyork", seed="n8"))
    records.append(
        okta.push_answer(last + timedelta(seconds=12), login, ATTACKER, "newyork", True, seed="ok")
    )
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    result = analyze([path], detector_config={"push_bombing": False, "approval_after_denials": False})
    found = [f for f in result.findings if f.detector == "push_fatigue"]
    assert len(found) == 1
    finding = found[0]
    assert finding.user == login
    assert finding.severity is Severity.CRITICAL and finding.revision >= 2  # high at night, then approved
    assert "approved after 8 prompts" in finding.reasons[0]
    assert ATTACKER in finding.source_ips


def test_a_last_prompt_nobody_answers_is_spent_when_its_lifetime_ends() -> None:
    """Okta logs no timeout: five sends and silence. The fifth is spent only once its lifetime is over."""
    sends = [
        ev(EventKind.PUSH_SENT, 14 * HOUR + n * 40 * 60, ip=ATTACKER, geo=ABROAD, device_id=None)
        for n in range(5)
    ]
    engine = Engine(detectors=[PushFatigue()])
    for event in colleagues():
        engine.process(event)
    for event in sends:
        assert engine.process(event) == []
    assert engine.advance(sends[-1].ts + 200) == []  # still within the push's five minutes
    found = engine.advance(sends[-1].ts + 301)
    assert [f.severity for f in found] == [Severity.MEDIUM]
    assert found[0].user == "alice@corp.example"
    assert found[0].evidence[-1] == sends[-1].event_id
    assert "5 push prompts left unresolved" in found[0].reasons[0]


def test_a_phone_missing_prompts_all_day_at_the_office_is_only_info() -> None:
    """The person's own laptop at the office keeps asking; the phone lost its push registration."""
    events = history()
    for n in range(12):
        events.append(ev(EventKind.PUSH_SENT, n * 1800, ip=OFFICE))
        events.append(ev(EventKind.PUSH_TIMEOUT, n * 1800 + 60, ip=OFFICE))
    found = run(events)
    assert found and {f.severity for f in found} == {Severity.INFO}
    assert any("the person's own network" in r for r in found[0].reasons)
