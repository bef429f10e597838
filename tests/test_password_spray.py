"""Password spray: failed passwords against many identities from one new source fire without any push;
typos behind a shared, known egress and a handful of failures do not."""

from __future__ import annotations

from pushguard.detect.password_spray import PasswordSpray
from pushguard.detect.push_spray import PushSpray
from pushguard.model import Event, EventKind, Severity
from tests.events import ABROAD, ev
from tests.test_push_spray import ATTACKER, OFFICE, final, history, run, users, victims


def failures(names: list[str], start: float = 0, gap: float = 40, ip: str = ATTACKER) -> list[Event]:
    return [
        ev(EventKind.SIGNIN_FAILURE, start + n * gap, user=u, ip=ip, geo=ABROAD) for n, u in enumerate(names)
    ]


def test_failures_against_many_identities_fire_without_a_push() -> None:
    targets = users(12)
    events = history(targets) + failures(targets)
    _, produced = run(events, PasswordSpray())
    assert produced, "a password spray against 12 identities should fire"
    last = final(produced)
    assert last.detector == "password_spray"
    assert last.user == f"ip:{ATTACKER}"
    assert last.severity is Severity.MEDIUM
    assert last.techniques == ["T1110.003"]
    assert last.title.startswith("Password spray from ip:")
    assert "12 password failures only" in last.reasons[0]
    assert set(last.evidence) == {e.event_id for e in events if e.ip == ATTACKER}
    assert last.targets == targets
    assert victims(produced) == {}  # nobody got past the password: no account's own finding


def test_push_spray_alone_stays_quiet_on_failures_only() -> None:
    targets = users(12)
    _, produced = run(history(targets) + failures(targets), PushSpray())
    assert produced == []


def test_an_approval_by_a_target_makes_it_critical() -> None:
    targets = users(12)
    events = history(targets) + failures(targets)
    events.append(ev(EventKind.PUSH_SENT, 700, user=targets[3], ip=ATTACKER, geo=ABROAD))
    events.append(ev(EventKind.PUSH_APPROVED, 706, user=targets[3], ip=ATTACKER, geo=ABROAD))
    _, produced = run(events, PasswordSpray())
    last = final(produced)
    assert last.severity is Severity.CRITICAL
    assert targets[3] in last.reasons[-1]
    own = victims(produced)
    assert list(own) == [targets[3]] and own[targets[3]].severity is Severity.CRITICAL


def test_too_few_identities_stay_quiet() -> None:
    targets = users(9)
    _, produced = run(history(targets) + failures(targets), PasswordSpray())
    assert produced == []


def test_typos_behind_the_known_office_egress_stay_quiet() -> None:
    staff = users(60, "staff")
    events = history(staff)  # everyone has signed in from the office address before
    for n, user in enumerate(staff[:15]):  # a Monday morning: 15 typos, each followed by the right password
        events.append(ev(EventKind.SIGNIN_FAILURE, 100 + n * 30, user=user, ip=OFFICE, factor=None))
        events.append(ev(EventKind.SIGNIN_SUCCESS, 110 + n * 30, user=user, ip=OFFICE, factor=None))
    _, produced = run(events, PasswordSpray())
    assert produced == []


def test_a_new_shared_egress_with_mostly_successes_stays_quiet() -> None:
    """A new VPN address the whole company moves to: some typos, most sign in fine (low unresolved ratio)."""
    staff = users(40, "vpn")
    events = []
    for n, user in enumerate(staff):
        kind = EventKind.SIGNIN_FAILURE if n % 3 == 0 else EventKind.SIGNIN_SUCCESS
        events.append(ev(kind, n * 20, user=user, ip=ATTACKER, factor=None))  # Okta: the password step
    _, produced = run(events, PasswordSpray())
    assert produced == []
