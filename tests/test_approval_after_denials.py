"""Approval after denials: refusals from one source, then an approval from it, is the likely compromise;
a fat-fingered denial, a traveller's slow phone and the user's own sign-ins in between are not."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from pushguard.detect.approval_after_denials import ApprovalAfterDenials
from pushguard.detect.episode import HABIT_CAP, HourHabit
from pushguard.flow import analyze
from pushguard.model import Event, EventKind, Finding, Geo, Severity
from pushguard.simulate import okta_records as okta
from tests.events import ABROAD, HOME, T0, colleagues, daily_approvals, ev, run_engine

ATTACKER = "203.0.113.5"
PHONE = "37.166.94.231"
OFFICE = "198.51.100.7"
ALSO_ABROAD = Geo(lat=-23.55, lon=-46.63, country="Brazil", city="Sao Paulo", accuracy_km=50.0, asn=28573)
# a residential proxy in the victim's own country: a network the person never used, nothing hostile
PROXY = "203.0.113.77"
PROXY_GEO = Geo(
    lat=45.76, lon=4.84, country="France", city="Lyon", accuracy_km=50.0, asn=12322, as_org="Free"
)
LAPTOP = "dev-alice-laptop"


def history(days: int = 12) -> list[Event]:
    """A fortnight of the user's own approvals from the office at 09:00 and 14:00, among colleagues who
    all sign in from France."""
    return colleagues() + daily_approvals(days, hours=(0, 5), answer_after_s=6, ip=OFFICE)


def run(events: list[Event], detector: ApprovalAfterDenials | None = None) -> list[Finding]:
    return run_engine(events, [detector or ApprovalAfterDenials()])


def attempt(
    seconds: float, kind: EventKind, ip: str = ATTACKER, geo: Geo = ABROAD, device: str | None = None
) -> list[Event]:
    """An Okta-style prompt: the send from the requester, the answer from the phone (a deny_push carries
    the phone's address as the responder). ``device``: the requesting device (None: the attacker's,
    which the person never used; LAPTOP: the person's own)."""
    sent = ev(EventKind.PUSH_SENT, seconds, ip=ip, geo=geo, device_id=device)
    if kind is EventKind.PUSH_DENIED:
        answer = ev(kind, seconds + 8, ip=PHONE, geo=HOME, responder_ip=PHONE, responder_geo=HOME)
    else:
        answer = ev(kind, seconds + 8, ip=ip, geo=geo, device_id=device)
    return [sent, answer]


def own(seconds: float, kind: EventKind) -> list[Event]:
    """A prompt of the person's own, at the office on their laptop."""
    return attempt(seconds, kind, ip=OFFICE, geo=HOME, device=LAPTOP)


def test_denials_then_approval_from_the_attackers_new_source_is_critical() -> None:
    events = history() + attempt(0, EventKind.PUSH_DENIED) + attempt(1800, EventKind.PUSH_DENIED)
    events += attempt(5400, EventKind.PUSH_APPROVED)
    found = run(events)
    assert len(found) == 1
    finding = found[0]
    assert finding.detector == "approval_after_denials"
    assert finding.severity is Severity.CRITICAL
    assert finding.techniques == ["T1621", "T1078"]
    assert "2 denied" in finding.reasons[0]
    assert "neither the person nor the organisation" in finding.reasons[1]
    assert ATTACKER in finding.source_ips
    assert len(finding.evidence) >= 3  # both refusals and the approval


def test_the_users_own_approval_in_between_does_not_hide_the_attack() -> None:
    events = history() + attempt(0, EventKind.PUSH_DENIED)
    events += own(900, EventKind.PUSH_APPROVED)  # the user signs in at work
    events += attempt(1800, EventKind.PUSH_DENIED) + attempt(5400, EventKind.PUSH_APPROVED)
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]


def test_fat_fingered_denials_then_approval_from_the_person_s_own_context_are_quiet() -> None:
    events = history() + own(0, EventKind.PUSH_DENIED) + own(20, EventKind.PUSH_DENIED)
    events += own(60, EventKind.PUSH_APPROVED)
    assert run(events) == []


def test_a_travellers_fat_finger_abroad_on_their_own_laptop_is_quiet() -> None:
    """One denial then an approval a minute later from a hotel abroad, on their own registered laptop."""
    events = history() + attempt(0, EventKind.PUSH_DENIED, ip=ATTACKER, geo=ALSO_ABROAD, device=LAPTOP)
    events += attempt(60, EventKind.PUSH_APPROVED, ip=ATTACKER, geo=ALSO_ABROAD, device=LAPTOP)
    assert run(events) == []


def test_a_denial_and_a_miss_then_approval_from_a_new_source_is_critical() -> None:
    events = history() + attempt(0, EventKind.PUSH_DENIED) + attempt(1200, EventKind.PUSH_TIMEOUT)
    events += attempt(3000, EventKind.PUSH_APPROVED)
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert "weight 3" in found[0].reasons[0]


def test_a_travellers_slow_phone_is_quiet() -> None:
    """Two prompts time out in a new country, the third is approved, on the person's laptop."""
    events = history() + attempt(0, EventKind.PUSH_TIMEOUT, ip=ATTACKER, geo=ALSO_ABROAD, device=LAPTOP)
    events += attempt(300, EventKind.PUSH_TIMEOUT, ip=ATTACKER, geo=ALSO_ABROAD, device=LAPTOP)
    events += attempt(600, EventKind.PUSH_APPROVED, ip=ATTACKER, geo=ALSO_ABROAD, device=LAPTOP)
    assert run(events) == []


def test_many_timeouts_from_the_person_s_own_context_are_quiet() -> None:
    events = history()
    for n in range(6):
        events += own(n * 600, EventKind.PUSH_TIMEOUT)
    events += own(4000, EventKind.PUSH_APPROVED)
    assert run(events) == []


def test_two_missed_prompts_then_approval_from_a_residential_proxy_is_high() -> None:
    """Nothing hostile (the person's country, a residential ISP): unfamiliar is enough."""
    events = history() + attempt(0, EventKind.PUSH_TIMEOUT, ip=PROXY, geo=PROXY_GEO)
    events += attempt(900, EventKind.PUSH_TIMEOUT, ip=PROXY, geo=PROXY_GEO)
    events += attempt(1800, EventKind.PUSH_APPROVED, ip=PROXY, geo=PROXY_GEO)
    assert [f.severity for f in run(events)] == [Severity.HIGH]


def test_a_reflexive_approval_raises_it() -> None:
    events = history() + attempt(0, EventKind.PUSH_DENIED, ip=PROXY, geo=PROXY_GEO)
    events.append(ev(EventKind.PUSH_SENT, 1200, ip=PROXY, geo=PROXY_GEO, device_id=None))
    events.append(ev(EventKind.PUSH_APPROVED, 1201.5, ip=PROXY, geo=PROXY_GEO, device_id=None))
    found = run(events)
    assert [f.severity for f in found] == [Severity.CRITICAL]  # high, one step up for the reflex
    assert any("a reflex" in reason for reason in found[0].reasons)


def test_refusals_older_than_the_window_do_not_count() -> None:
    events = history() + attempt(0, EventKind.PUSH_DENIED) + attempt(600, EventKind.PUSH_DENIED)
    events += attempt(50 * 3600, EventKind.PUSH_APPROVED)
    assert run(events) == []  # the same address came back two days later: too late to tie together
    assert run(events, ApprovalAfterDenials({"window_s": 60 * 3600})) != []


def test_refusals_a_day_before_from_the_same_unfamiliar_address_count() -> None:
    """Low and slow over days: denied in the evening, approved from the same address the next night."""
    events = history() + attempt(0, EventKind.PUSH_DENIED) + attempt(3 * 3600, EventKind.PUSH_TIMEOUT)
    events += attempt(30 * 3600, EventKind.PUSH_APPROVED)
    assert [f.severity for f in run(events)] == [Severity.CRITICAL]


def test_okta_records_through_analyze(tmp_path: Path) -> None:
    """Okta System Log records (OIE answers and a Classic deny_push) through the whole pipeline."""
    login = "leo.fischer@example.com"
    records = []
    for day in range(1, 13):  # history: the user's own approvals from Paris
        moment = T0 - timedelta(days=day)
        records.append(okta.push_sent(moment, login, "88.160.137.23", "paris", seed=f"h{day}"))
        records.append(okta.push_answer(moment + timedelta(seconds=7), login, "88.160.137.23", "paris", True))
    for n in range(2):
        moment = T0 + timedelta(minutes=40 * n)
        records.append(okta.push_sent(moment, login, ATTACKER, "newyork", seed=f"a{n}"))
        records.append(okta.deny_push(moment + timedelta(seconds=9), login, PHONE, "paris", seed=f"d{n}"))
    moment = T0 + timedelta(minutes=100)
    records.append(okta.push_sent(moment, login, ATTACKER, "newyork", seed="a2"))
    records.append(
        okta.push_answer(moment + timedelta(seconds=11), login, ATTACKER, "newyork", True, seed="ok")
    )
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    result = analyze([path], detector_config={"push_bombing": False, "push_fatigue": False})
    found = [f for f in result.findings if f.detector == "approval_after_denials"]
    assert len(found) == 1
    assert found[0].user == login
    assert found[0].severity is Severity.CRITICAL


def tokyo_history(days: int = 12) -> list[Event]:
    """A user in Tokyo (UTC+9) approving at 08:00 and 15:00 local: 23:00 and 06:00 UTC."""
    events = []
    for day in range(1, days + 1):
        for hour in (14, 21):  # test clock 09:00 UTC + 14 h = 23:00 UTC
            start = -day * 86400 + hour * 3600
            events.append(ev(EventKind.PUSH_SENT, start, ip=OFFICE))
            events.append(ev(EventKind.PUSH_APPROVED, start + 6, ip=OFFICE))
    return events


def two_misses_then_approval(at: float) -> list[Event]:
    """From a residential proxy in the person's country: unfamiliar, nothing hostile (high)."""
    events = attempt(at, EventKind.PUSH_TIMEOUT, ip=PROXY, geo=PROXY_GEO)
    events += attempt(at + 600, EventKind.PUSH_TIMEOUT, ip=PROXY, geo=PROXY_GEO)
    return events + attempt(at + 1200, EventKind.PUSH_APPROVED, ip=PROXY, geo=PROXY_GEO)


def test_the_hour_is_judged_in_the_users_own_time_not_utc() -> None:
    """Midday in Tokyo is 03:00 UTC, a 'night' hour by UTC: usual for this user. 23:00 in Tokyo (14:00
    UTC, office hours by UTC) is not."""
    tokyo_noon = 18 * 3600  # 03:00 UTC
    found = run(tokyo_history() + two_misses_then_approval(tokyo_noon - 1200))
    assert [f.severity for f in found] == [Severity.HIGH]
    assert not any("outside this identity" in r for r in found[0].reasons)
    tokyo_late = 5 * 3600  # 14:00 UTC
    found = run(tokyo_history() + two_misses_then_approval(tokyo_late - 1200))
    assert [f.severity for f in found] == [Severity.CRITICAL]  # high, one step up for the hour
    assert any(
        "14:00 UTC, outside this identity's 23:00-06:59 UTC (24 sign-ins)" in r for r in found[0].reasons
    )


def test_the_attackers_approval_does_not_teach_its_hour() -> None:
    """After a flagged approval at 02:00, the attacker's next one at 02:00 the following night is still at
    an hour this identity never signs in at."""
    first = 17 * 3600  # 02:00 UTC, the user works 09:00-14:00 UTC
    events = (
        history()
        + attempt(first - 2400, EventKind.PUSH_DENIED)
        + attempt(first - 1200, EventKind.PUSH_DENIED)
    )
    events += attempt(first, EventKind.PUSH_APPROVED)
    events.append(ev(EventKind.SIGNIN_SUCCESS, first + 30, ip=ATTACKER, geo=ABROAD))
    second = first + 86400
    events += attempt(second - 2400, EventKind.PUSH_DENIED) + attempt(second - 1200, EventKind.PUSH_DENIED)
    events += attempt(second, EventKind.PUSH_APPROVED)
    found = run(events)
    assert len(found) == 2 and found[0].id != found[1].id
    assert all(any("never signs in at" in r for r in f.reasons) for f in found)


def test_hour_habit_forgets_by_halving_and_finds_the_span() -> None:
    habit = HourHabit()
    assert habit.span() is None and not habit.unusual(0.0, 1)
    habit.learn(17 * 3600.0)
    for _ in range(600):
        habit.learn(9 * 3600.0)
    assert habit.total <= HABIT_CAP
    assert habit.counts[9] > 200 and habit.counts[17] == 0  # the lone 17:00 was halved away
    habit.learn(17 * 3600.0)
    assert habit.span() == (9, 17)
    assert habit.unusual(3 * 3600.0, 10) and not habit.unusual(18 * 3600.0, 10)


def test_an_okta_approval_is_judged_with_the_session_it_opened() -> None:
    """Okta's push records name the browser, not the device; the session start a second later names the
    registered device. Two quick denials then an approval from a hotel abroad, on the person's own
    registered laptop (seen at the session start), is the person; on a device they never used, it is not."""
    hotel = Geo(lat=-23.55, lon=-46.63, country="Brazil", city="Sao Paulo", accuracy_km=50.0, asn=64510)
    prompts = attempt(0, EventKind.PUSH_DENIED, ip=PROXY, geo=hotel) + attempt(
        20, EventKind.PUSH_DENIED, ip=PROXY, geo=hotel
    )
    approval = attempt(40, EventKind.PUSH_APPROVED, ip=PROXY, geo=hotel)
    own_session = ev(EventKind.SIGNIN_SUCCESS, 49, ip=PROXY, geo=hotel, device_id=LAPTOP)
    assert run(history() + prompts + approval + [own_session]) == []
    other_session = ev(EventKind.SIGNIN_SUCCESS, 49, ip=PROXY, geo=hotel, device_id="someone-else")
    found = run(history() + prompts + approval + [other_session])
    assert [f.severity for f in found] == [Severity.CRITICAL]
    assert found[0].detected_at == "2026-03-02T09:00:49Z"  # when the session said whose device it was
    # no session record at all: reported when the hold runs out (here: at the end of the input)
    assert [f.severity for f in run(history() + prompts + approval)] == [Severity.CRITICAL]


def test_okta_records_an_approval_abroad_on_the_person_s_registered_laptop(tmp_path: Path) -> None:
    """Okta System Log records (OIE shape, tests/fixtures/okta/handmade.jsonl): the push and its answer name
    only the browser; user.session.start names the registered device (``device`` object). Two quick
    denials and an approval from a New York hotel: the person on their own laptop, unless the session's
    device is one they never used."""
    login = "leo.fischer@example.com"
    laptop = {
        "id": "guo1a2b3c4d5e6f7g8h9",
        "name": "MacBookPro18,3",
        "os_platform": "OSX",
        "os_version": "14.6.0",
    }

    def session(moment: datetime, ip: str, place: str, device: dict[str, Any], seed: str) -> dict[str, Any]:
        record = okta.session_start(moment, login, ip, place, seed=seed)
        record["device"] = device
        return record

    records: list[dict[str, Any]] = []
    for day in range(1, 13):  # history: the person's own approvals and sessions in Paris
        moment = T0 - timedelta(days=day)
        records.append(okta.push_sent(moment, login, "88.160.137.23", "paris", seed=f"h{day}"))
        records.append(okta.push_answer(moment + timedelta(seconds=7), login, "88.160.137.23", "paris", True))
        records.append(session(moment + timedelta(seconds=8), "88.160.137.23", "paris", laptop, f"s{day}"))
    for n in range(2):
        moment = T0 + timedelta(seconds=20 * n)
        records.append(okta.push_sent(moment, login, "203.0.113.70", "newyork", seed=f"a{n}"))
        records.append(okta.deny_push(moment + timedelta(seconds=4), login, PHONE, "paris", seed=f"d{n}"))
    moment = T0 + timedelta(seconds=40)
    records.append(okta.push_sent(moment, login, "203.0.113.70", "newyork", seed="a2"))
    records.append(okta.push_answer(moment + timedelta(seconds=6), login, "203.0.113.70", "newyork", True))

    def found(session_device: dict[str, Any]) -> list[Severity]:
        every = [
            *records,
            session(moment + timedelta(seconds=7), "203.0.113.70", "newyork", session_device, "x"),
        ]
        path = tmp_path / "okta.jsonl"
        path.write_bytes(b"\n".join(msgspec.json.encode(r) for r in every) + b"\n")
        result = analyze([path])
        assert result.stats.errors == 0, result.stats.error_samples
        return [f.severity for f in result.findings if f.detector == "approval_after_denials"]

    assert found(laptop) == []
    assert found({"id": "guoSTRANGERDEVICE0001", "os_platform": "Linux"}) == [Severity.CRITICAL]
