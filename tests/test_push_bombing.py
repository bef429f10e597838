"""Push bombing: bursts from a context the person and the organisation never used fire by the third
prompt; the person's own phone-in-a-drawer retries, from their own network and device, never alarm."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from pushguard.detect.push_bombing import PushBombing
from pushguard.model import Device, Event, EventKind, Finding, Geo, Provider, Severity
from pushguard.pipeline import Engine
from tests.events import ABROAD, ev

ATTACKER_IP = "203.0.113.66"
HOTEL_IP = "192.0.2.140"
HOTEL = Geo(
    lat=45.76, lon=4.84, country="France", city="Lyon", accuracy_km=50.0, asn=64500, as_org="Hotel Wi-Fi"
)
VPS = Geo(country="Netherlands", asn=14061, as_org="DigitalOcean", is_hosting=True, accuracy_km=1000.0)
LAPTOP = Device(id="dev-alice-laptop", os="Windows 11", browser="Chrome 131")


def run(events: Iterable[Event], **overrides: float) -> tuple[Engine, list[Finding]]:
    engine = Engine(detectors=[PushBombing(dict(overrides) if overrides else None)])
    produced: list[Finding] = []
    for event in events:
        produced.extend(engine.process(event))
    produced.extend(engine.finish())
    return engine, produced


def own(event: Event) -> Event:
    """The person's own laptop (device id, Windows and Chrome)."""
    return msgspec.structs.replace(event, device=LAPTOP)


def history(days: int = 3) -> list[Event]:
    """A normal user: each morning a sign-in push approved from home on their laptop."""
    events = []
    for day in range(-days, 0):
        base = day * 86400
        events.append(own(ev(EventKind.PUSH_SENT, base)))
        events.append(own(ev(EventKind.PUSH_APPROVED, base + 8)))
    return events


def attacker(kind: EventKind, t: float, ip: str = ATTACKER_IP, geo: Geo | None = ABROAD) -> Event:
    """The attacker's browser: a network and a device the person never used (no device id)."""
    return ev(kind, t, ip=ip, geo=geo, device_id=None)


def bombing(start: float, prompts: int, gap: float = 45, deny_every: int = 0) -> list[Event]:
    events = []
    for n in range(prompts):
        t = start + n * gap
        events.append(attacker(EventKind.PUSH_SENT, t))
        if deny_every and (n + 1) % deny_every == 0:
            # Okta's deny_push is logged by the phone: the phone is the client (requester = responder)
            events.append(ev(EventKind.PUSH_DENIED, t + 10, ip="192.0.2.9", responder_ip="192.0.2.9"))
    return events


def final(produced: list[Finding]) -> Finding:
    return max(produced, key=lambda f: f.revision)


def test_burst_from_a_context_nobody_knows_fires_at_the_third_prompt() -> None:
    _, produced = run(history() + bombing(3600, 6))
    first = produced[0]
    assert first.detector == "push_bombing"
    assert (first.revision, first.severity) == (1, Severity.MEDIUM)
    assert len(first.evidence) == 3  # fired by the 3rd prompt
    assert first.source_ips == [ATTACKER_IP]
    assert "T1621" in first.techniques
    assert any("neither the person nor the organisation" in r for r in first.reasons)
    assert first.frameworks["nist_csf_2"] == ["PR.AA-03", "DE.CM-03", "DE.AE-02"]


def test_approval_from_the_attacker_escalates_to_critical_with_same_id_and_history() -> None:
    events = [*history(), *bombing(3600, 9, deny_every=3)]
    events.append(attacker(EventKind.PUSH_SENT, 3600 + 9 * 45))
    events.append(attacker(EventKind.PUSH_APPROVED, 3600 + 9 * 45 + 6))
    engine, produced = run(events)
    assert len({f.id for f in produced}) == 1, "one episode, one finding id across revisions"
    last = final(produced)
    assert last.severity is Severity.CRITICAL
    assert "T1078" in last.techniques and last.title.endswith("then approved")
    assert "9 push prompts without approval" in last.reasons[0]
    assert engine.findings[last.id] == last
    # when it first fired is kept: the history lists every earlier revision
    assert [h.revision for h in last.history] == list(range(1, last.revision))
    assert last.first_detected_at == produced[0].detected_at < last.detected_at
    assert last.history[0].severity is Severity.MEDIUM


def test_the_person_approving_their_own_sign_in_does_not_make_the_burst_critical() -> None:
    events = [*history(), *bombing(3600, 5)]
    events += [own(ev(EventKind.PUSH_SENT, 3600 + 400)), own(ev(EventKind.PUSH_APPROVED, 3600 + 405))]
    _, produced = run(events)
    assert produced and all(f.severity is not Severity.CRITICAL for f in produced)


def test_an_approval_before_the_burst_fired_ends_it() -> None:
    events = [*history(), *bombing(3600, 2), attacker(EventKind.PUSH_APPROVED, 3600 + 100)]
    assert run(events)[1] == []  # two prompts and an answer: approval_after_denials' to judge


def test_high_severity_at_eight_prompts() -> None:
    assert final(run(history() + bombing(3600, 8))[1]).severity is Severity.HIGH


def test_five_apps_at_nine_each_approved_is_quiet() -> None:
    events = history()
    for n in range(5):
        events += [own(ev(EventKind.PUSH_SENT, n * 40)), own(ev(EventKind.PUSH_APPROVED, n * 40 + 5))]
    assert run(events)[1] == []


def test_phone_in_a_drawer_from_the_person_s_own_laptop_never_alarms() -> None:
    """Eight unanswered prompts and two fat-finger denials from home on their laptop, then approved."""
    events = history()
    for n in range(8):
        events.append(own(ev(EventKind.PUSH_SENT, n * 60)))
    events += [ev(EventKind.PUSH_DENIED, 490, ip="192.0.2.9", responder_ip="192.0.2.9")]
    events += [ev(EventKind.PUSH_DENIED, 495, ip="192.0.2.9", responder_ip="192.0.2.9")]
    events += [own(ev(EventKind.PUSH_SENT, 530)), own(ev(EventKind.PUSH_APPROVED, 536))]
    assert run(events)[1] == []


def test_many_prompts_from_the_person_s_own_context_are_only_info() -> None:
    events = [*history(), *(own(ev(EventKind.PUSH_SENT, n * 60)) for n in range(12))]
    produced = run(events)[1]
    assert produced and {f.severity for f in produced} == {Severity.INFO}
    assert "own context" in produced[0].title


def test_the_person_s_browser_on_a_hotel_network_needs_a_denial() -> None:
    """Partly familiar: their Windows/Chrome from a network they never used (no device id), in a country
    they know. (From a country nobody in the organisation uses, a browser anyone can claim does not make
    the context partly theirs: that burst fires at the third prompt.)"""

    def hotel(kind: EventKind, t: float) -> Event:
        event = ev(kind, t, ip=HOTEL_IP, geo=HOTEL, device_id=None)
        return msgspec.structs.replace(event, device=Device(os="Windows 11", browser="Chrome 131"))

    missed = [*history(), *(hotel(EventKind.PUSH_SENT, n * 60) for n in range(6))]
    assert run(missed)[1] == []
    denied = [*history(), *(hotel(EventKind.PUSH_SENT, n * 60) for n in range(5))]
    denied.append(ev(EventKind.PUSH_DENIED, 250, ip="192.0.2.9", responder_ip="192.0.2.9"))
    produced = run(denied)[1]
    assert produced and produced[0].severity is Severity.MEDIUM


def test_with_no_history_an_unfamiliar_burst_is_low_unless_something_is_hostile() -> None:
    quiet_misses = [attacker(EventKind.PUSH_SENT, n * 60, geo=None) for n in range(4)]
    assert {f.severity for f in run(quiet_misses)[1]} == {Severity.LOW}
    from_a_vps = [attacker(EventKind.PUSH_SENT, n * 60, geo=VPS) for n in range(4)]
    assert final(run(from_a_vps)[1]).severity is Severity.MEDIUM
    with_denials = bombing(0, 4, deny_every=2)
    assert final(run(with_denials)[1]).severity is Severity.MEDIUM


def test_an_unfamiliar_hosting_network_is_not_excused() -> None:
    events = [*history(), *(attacker(EventKind.PUSH_SENT, 3600 + n * 60, geo=VPS) for n in range(3))]
    produced = run(events)[1]
    assert produced[0].severity is Severity.MEDIUM
    assert any("hosting/VPN egress nobody here uses" in r for r in produced[0].reasons)


def test_an_office_egress_colleagues_use_is_familiar_to_a_newcomer() -> None:
    """Five colleagues succeed from the office egress for days; a new hire's phone then misses prompts
    there: the organisation knows the network, so it is not a burst from outside."""
    office = "198.51.100.200"
    events = []
    for day in range(-3, 0):
        for n, colleague in enumerate(("bo", "cy", "di", "ed", "fay")):
            t = day * 86400 + n * 30
            events.append(ev(EventKind.PUSH_APPROVED, t, user=f"{colleague}@corp.example", ip=office))
    newcomer = [ev(EventKind.PUSH_SENT, n * 60, user="new@corp.example", ip=office) for n in range(6)]
    produced = run(events + newcomer)[1]
    assert produced == []


def test_entra_and_duo_outcomes_without_sends_are_prompts_of_their_own() -> None:
    events = history()
    for n, provider in enumerate([Provider.ENTRA, Provider.DUO, Provider.ENTRA, Provider.DUO]):
        events.append(
            ev(EventKind.PUSH_DENIED, n * 50, provider=provider, ip=ATTACKER_IP, geo=ABROAD, device_id=None)
        )
    produced = run(events)[1]
    assert produced[0].provider == "several"
    assert produced[0].reasons[0].startswith("3 push prompts without approval")


def test_slow_prompts_outside_the_window_do_not_add_up() -> None:
    events = [*history(), *(attacker(EventKind.PUSH_SENT, n * 1300) for n in range(6))]
    assert run(events)[1] == []


def test_late_approval_long_after_the_burst_does_not_escalate() -> None:
    events = [*history(), *bombing(3600, 4)]
    events.append(attacker(EventKind.PUSH_SENT, 3600 + 4 * 45 + 7200))
    events.append(attacker(EventKind.PUSH_APPROVED, 3600 + 4 * 45 + 7205))
    assert all(f.severity is not Severity.CRITICAL for f in run(events)[1])


def test_a_new_burst_after_quiet_is_a_new_finding() -> None:
    events = [*history(), *bombing(3600, 4), *bombing(3600 + 3 * 3600, 4)]
    assert len({f.id for f in run(events)[1]}) == 2


def test_tunables_change_the_threshold() -> None:
    events = [*history(), *bombing(3600, 3)]
    assert run(events)[1]
    assert run(events, min_prompts=4)[1] == []
