"""Push spray: one source prompting many identities that do not approve; busy shared egress stays quiet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import pytest

from pushguard.detect.base import Detector
from pushguard.detect.push_spray import PushSpray, PushSprayAsn
from pushguard.model import Event, EventKind, Finding, Geo, Provider, Severity
from pushguard.pipeline import Engine
from tests.events import ABROAD, HOME, ev

ATTACKER = "203.0.113.5"
OFFICE = "198.51.100.7"
HOSTING = Geo(country="Netherlands", asn=14061, as_org="DigitalOcean", is_hosting=True)
ZSCALER = Geo(country="France", asn=22616, as_org="Zscaler", is_hosting=True, is_proxy=True)


def users(n: int, prefix: str = "user") -> list[str]:
    return [f"{prefix}{i:03d}@corp.example" for i in range(n)]


def run(events: Iterable[Event], *detectors: Detector[Any]) -> tuple[Engine, list[Finding]]:
    engine = Engine(detectors=list(detectors) or [PushSpray()])
    produced: list[Finding] = []
    for event in sorted(events, key=lambda e: e.sort_key()):
        produced.extend(engine.process(event))
    produced.extend(engine.advance(engine.watermark + 600))  # the stream's watermark moves on
    produced.extend(engine.finish())
    return engine, produced


def history(names: Iterable[str], ip: str = OFFICE, geo: Geo = HOME) -> list[Event]:
    """Each user approved a push from their usual egress the day before: that source is known to them."""
    events = []
    for n, user in enumerate(names):
        events.append(ev(EventKind.PUSH_SENT, -86400 + n, user=user, ip=ip, geo=geo))
        events.append(ev(EventKind.PUSH_APPROVED, -86400 + n + 5, user=user, ip=ip, geo=geo))
    return events


def spray(names: Iterable[str], start: float = 0, gap: float = 30, ip: str = ATTACKER) -> list[Event]:
    return [ev(EventKind.PUSH_SENT, start + n * gap, user=u, ip=ip, geo=ABROAD) for n, u in enumerate(names)]


def about_source(produced: list[Finding]) -> list[Finding]:
    """The findings that name the spraying source (the victims' own findings name an account)."""
    return [f for f in produced if f.user.startswith(("ip:", "asn:"))]


def final(produced: list[Finding]) -> Finding:
    """The last revision of the finding about the source."""
    return max(about_source(produced), key=lambda f: f.revision)


def targets_of(finding: Finding) -> list[str]:
    """The accounts a finding names as targeted (none: the field is unset, and not written)."""
    return finding.targets if isinstance(finding.targets, list) else []


def victims(produced: list[Finding]) -> dict[str, Finding]:
    """Each account's own finding at its last revision."""
    last: dict[str, Finding] = {}
    for finding in produced:
        if not finding.user.startswith(("ip:", "asn:")):
            old = last.get(finding.user)
            if old is None or finding.revision > old.revision:
                last[finding.user] = finding
    return last


# -- attacks ----------------------------------------------------------------------------------------


def test_unanswered_prompts_to_many_identities_fire_keyed_by_ip() -> None:
    targets = users(8)
    events = history(targets) + spray(targets)
    events.append(ev(EventKind.SIGNIN_FAILURE, 100, user="late@corp.example", ip=ATTACKER, geo=ABROAD))
    engine, produced = run(events)
    assert produced, "the spray should fire"
    first = about_source(produced)[0]
    assert first.detector == "push_spray"
    assert first.user == f"ip:{ATTACKER}"
    assert first.source_ips == [ATTACKER]
    assert first.severity is Severity.MEDIUM
    assert first.techniques == ["T1621", "T1110.003"]
    assert first.reasons[0].startswith("9 identities got push prompts")  # 8 prompted + 1 failure
    assert "0 of " in first.reasons[2]
    last = final(produced)
    assert "8 prompted" in last.reasons[0]
    assert "1 password failures only" in last.reasons[0]
    spray_ids = {e.event_id for e in events if e.ip == ATTACKER}
    assert set(last.evidence) == spray_ids
    assert len({f.id for f in about_source(produced)}) == 1
    assert engine.findings[last.id] == last
    # every targeted account is named; the 8 that got a push each have a finding of their own
    assert sorted(targets_of(last)) == sorted([*targets, "late@corp.example"])
    assert all(name in last.reasons[3] for name in targets_of(last))
    own = victims(produced)
    assert sorted(own) == sorted(targets)  # not the one that only failed its password
    for name, finding in own.items():
        assert finding.detector == "push_spray" and finding.severity is Severity.HIGH
        assert finding.techniques == ["T1621", "T1110.003"]
        assert finding.targets is msgspec.UNSET
        mine = {e.event_id for e in events if e.ip == ATTACKER and e.identity == name}
        assert set(finding.evidence) == mine
        assert f"part of spray finding {last.id} " in finding.reasons[1]


def test_denials_by_several_targets_make_it_high() -> None:
    targets = users(6)
    events = history(targets) + spray(targets)
    for n, user in enumerate(targets[:3]):
        events.append(ev(EventKind.PUSH_DENIED, n * 30 + 8, user=user, ip=ATTACKER, geo=ABROAD))
    _, produced = run(events)
    last = final(produced)
    assert last.severity is Severity.HIGH
    assert "3 denied or reported" in last.reasons[0]


def test_password_spray_then_pushes_to_the_valid_ones() -> None:
    """Entra-style: 30 failed passwords across users, 4 correct ones get pushes that time out."""
    targets = users(30)
    events = [
        ev(EventKind.SIGNIN_FAILURE, n * 10, user=u, ip=ATTACKER, geo=ABROAD, provider=Provider.ENTRA)
        for n, u in enumerate(targets)
    ]
    lucky = users(4, prefix="valid")
    events += [
        ev(EventKind.PUSH_TIMEOUT, 400 + n * 20, user=u, ip=ATTACKER, geo=ABROAD, provider=Provider.ENTRA)
        for n, u in enumerate(lucky)
    ]
    _, produced = run(events)
    last = final(produced)
    assert last.provider == "entra"
    assert last.severity is Severity.HIGH  # 33 suspects >= high_identities
    assert "4 prompted" in last.reasons[0]
    assert "30 password failures only" in last.reasons[0]


def test_a_target_approving_escalates_to_critical_with_the_same_id() -> None:
    targets = users(7)
    events = history(targets) + spray(targets)
    events.append(ev(EventKind.PUSH_SENT, 600, user=targets[6], ip=ATTACKER, geo=ABROAD))
    events.append(ev(EventKind.PUSH_APPROVED, 607, user=targets[6], ip=ATTACKER, geo=ABROAD))
    _, produced = run(events)
    assert len({f.id for f in about_source(produced)}) == 1
    last = final(produced)
    assert last.severity is Severity.CRITICAL
    assert "T1078" in last.techniques
    assert targets[6] in last.reasons[-1]
    assert last.title.endswith("1 approved")
    # the approving account's own finding escalates too (same id, a later revision)
    own = [f for f in produced if f.user == targets[6]]
    assert [f.severity for f in own] == [Severity.HIGH, Severity.CRITICAL]
    assert len({f.id for f in own}) == 1
    assert own[-1].techniques == ["T1621", "T1110.003", "T1078"]
    assert {f.severity for f in victims(produced).values() if f.user != targets[6]} == {Severity.HIGH}


def test_ip_rotation_inside_a_hosting_asn_is_caught_by_the_asn_variant() -> None:
    targets = users(10)
    events = history(targets)
    for n, user in enumerate(targets):  # each target from its own droplet address
        events.append(ev(EventKind.PUSH_SENT, n * 40, user=user, ip=f"203.0.113.{100 + n}", geo=HOSTING))
        events.append(
            ev(EventKind.PUSH_DENIED, n * 40 + 9, user=user, ip=f"203.0.113.{100 + n}", geo=HOSTING)
        )
    _, produced = run(events, PushSpray(), PushSprayAsn())
    assert {f.detector for f in produced} == {"push_spray_asn"}
    last = final(produced)
    assert last.user == "asn:14061"
    assert len(last.source_ips) >= 5
    assert last.severity is Severity.HIGH
    assert sorted(targets_of(last)) == targets
    assert sorted(victims(produced)) == targets


# -- benign look-alikes -------------------------------------------------------------------------------


def test_office_nat_morning_where_everyone_approves_is_quiet() -> None:
    """200 users behind the office NAT approve their 9:00 prompts; a handful ignore or deny theirs."""
    staff = users(200)
    events = history(staff)
    for n, user in enumerate(staff):
        t = n * 9
        events.append(ev(EventKind.PUSH_SENT, t, user=user))
        if n % 20 == 0:
            events.append(ev(EventKind.PUSH_DENIED, t + 4, user=user))
        elif n % 15 != 0:
            events.append(ev(EventKind.PUSH_APPROVED, t + 6, user=user))
    assert run(events, PushSpray(), PushSprayAsn())[1] == []


def test_first_day_at_a_new_office_is_quiet() -> None:
    """Nobody has used the new egress before, but most approve: unresolved stays a small share."""
    staff = users(60)
    events = []
    for n, user in enumerate(staff):
        events.append(ev(EventKind.PUSH_SENT, n * 20, user=user, ip="192.0.2.44"))
        if n % 8:
            events.append(ev(EventKind.PUSH_APPROVED, n * 20 + 7, user=user, ip="192.0.2.44"))
    assert run(events)[1] == []


def test_helpdesk_verifying_callers_is_quiet() -> None:
    """A service desk sends verification pushes to callers from its own IP; callers answer them."""
    callers = users(12, prefix="caller")
    desk = "192.0.2.10"
    events = []
    for n, user in enumerate(callers):
        events.append(ev(EventKind.PUSH_SENT, n * 300, user=user, ip=desk, actor="helpdesk@corp.example"))
        answer = EventKind.PUSH_DENIED if n == 4 else EventKind.PUSH_APPROVED
        events.append(ev(answer, n * 300 + 20, user=user, ip=desk))
    events.append(ev(EventKind.PUSH_SENT, 3700, user=callers[4], ip=desk))
    events.append(ev(EventKind.PUSH_APPROVED, 3712, user=callers[4], ip=desk))
    assert run(events)[1] == []


def test_vpn_concentrator_on_a_proxy_asn_is_quiet() -> None:
    """Zscaler / a VPN egress: many users, many addresses in one proxy ASN they all know."""
    staff = users(40)
    events = history(staff, ip="185.46.212.1", geo=ZSCALER)
    for n, user in enumerate(staff):
        ip = f"185.46.212.{n % 7 + 1}"
        events.append(ev(EventKind.PUSH_SENT, n * 15, user=user, ip=ip, geo=ZSCALER))
        if n % 6:
            events.append(ev(EventKind.PUSH_APPROVED, n * 15 + 5, user=user, ip=ip, geo=ZSCALER))
    assert run(events, PushSpray(), PushSprayAsn())[1] == []


def test_password_spray_alone_is_left_to_a_password_spray_detector() -> None:
    events = [
        ev(EventKind.SIGNIN_FAILURE, n * 5, user=u, ip=ATTACKER, geo=ABROAD) for n, u in enumerate(users(50))
    ]
    assert run(events)[1] == []


def test_mistyped_passwords_then_approved_are_quiet() -> None:
    """Monday after a password rotation: failures, then each user gets it right and approves."""
    staff = users(20)
    events = []
    for n, user in enumerate(staff):
        events.append(ev(EventKind.SIGNIN_FAILURE, n * 30, user=user, ip="192.0.2.44"))
        events.append(ev(EventKind.PUSH_SENT, n * 30 + 15, user=user, ip="192.0.2.44"))
        events.append(ev(EventKind.PUSH_APPROVED, n * 30 + 21, user=user, ip="192.0.2.44"))
    assert run(events)[1] == []


def test_slow_prompts_outside_the_window_do_not_add_up() -> None:
    targets = users(8)
    assert run(history(targets) + spray(targets, gap=1000))[1] == []


def test_the_phones_answer_is_not_the_requesting_source() -> None:
    """Okta deny_push carries the phone's IP: it must not be counted against that IP."""
    phone_denial = ev(EventKind.PUSH_DENIED, 0, ip="192.0.2.77", responder_ip="192.0.2.77")
    assert PushSpray().partition(phone_denial) is None
    assert PushSpray().partition(ev(EventKind.PUSH_SENT, 0, ip=ATTACKER)) == ATTACKER
    assert PushSpray().partition(ev(EventKind.PRIVILEGED_ACTION, 0)) is None
    assert PushSprayAsn().partition(ev(EventKind.PUSH_SENT, 0, geo=HOME)) is None
    assert PushSprayAsn().partition(ev(EventKind.PUSH_SENT, 0, geo=HOSTING)) == "14061"


# -- tunables -------------------------------------------------------------------------------------------


def test_tunables_change_the_threshold() -> None:
    targets = users(6)
    events = history(targets) + spray(targets)
    assert run(events)[1]
    assert run(events, PushSpray({"min_identities": 7}))[1] == []
    assert run(events, PushSpray({"min_unresolved_ratio": 1}))[1]


def test_unknown_tunable_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tunable"):
        PushSpray({"min_users": 3})
