"""Push bombing: attack bursts fire early; users answering their own prompts stay quiet."""

from __future__ import annotations

from collections.abc import Iterable

from pushguard.detect.push_bombing import PushBombing
from pushguard.model import Event, EventKind, Finding, Provider, Severity
from pushguard.pipeline import Engine
from tests.events import ABROAD, ev

ATTACKER_IP = "203.0.113.66"


def run(events: Iterable[Event], **overrides: float) -> tuple[Engine, list[Finding]]:
    engine = Engine(detectors=[PushBombing(dict(overrides) if overrides else None)])
    produced: list[Finding] = []
    for event in events:
        produced.extend(engine.process(event))
    produced.extend(engine.finish())
    return engine, produced


def history(days: int = 3) -> list[Event]:
    """A normal user: each morning a sign-in push approved from home."""
    events = []
    for day in range(-days, 0):
        base = day * 86400
        events.append(ev(EventKind.PUSH_SENT, base))
        events.append(ev(EventKind.PUSH_APPROVED, base + 8))
    return events


def bombing(start: float, prompts: int, gap: float = 45, deny_every: int = 0) -> list[Event]:
    events = []
    for n in range(prompts):
        t = start + n * gap
        events.append(ev(EventKind.PUSH_SENT, t, ip=ATTACKER_IP, geo=ABROAD))
        if deny_every and (n + 1) % deny_every == 0:
            events.append(ev(EventKind.PUSH_DENIED, t + 10, ip="192.0.2.9"))
    return events


def test_burst_from_a_new_place_fires_at_the_third_prompt() -> None:
    events = history() + bombing(3600, 6)
    _, produced = run(events)
    first = produced[0]
    assert first.detector == "push_bombing"
    assert first.revision == 1
    assert first.severity is Severity.MEDIUM
    assert len(first.evidence) == 3  # fired by the 3rd prompt
    assert first.source_ips == [ATTACKER_IP]
    assert "T1621" in first.techniques
    assert any("not used before" in r for r in first.reasons)
    assert first.frameworks["nist_csf_2"] == ["PR.AA-03", "DE.CM-03", "DE.AE-02"]


def test_approval_after_the_burst_escalates_to_critical_with_same_id() -> None:
    events = [*history(), *bombing(3600, 9, deny_every=3)]
    events.append(ev(EventKind.PUSH_SENT, 3600 + 9 * 45, ip=ATTACKER_IP, geo=ABROAD))
    events.append(ev(EventKind.PUSH_APPROVED, 3600 + 9 * 45 + 6, ip=ATTACKER_IP, geo=ABROAD))
    engine, produced = run(events)
    ids = {f.id for f in produced}
    assert len(ids) == 1, "one episode, one finding id across revisions"
    final = max(produced, key=lambda f: f.revision)
    assert final.severity is Severity.CRITICAL
    assert "T1078" in final.techniques
    assert final.title.endswith("then approved")
    assert "9 push prompts without approval" in final.reasons[0]
    assert [f.revision for f in produced] == sorted(f.revision for f in produced)
    assert engine.findings[final.id] == final


def test_traveller_answering_the_third_prompt_is_not_critical() -> None:
    # Seen in the simulator's benign traffic: abroad, two pushes missed, the third approved within seconds.
    # The burst fired on that third (pending) prompt; the approval shows the user is there.
    events = [*history(), *bombing(3600, 3, gap=120)]
    events.append(ev(EventKind.PUSH_APPROVED, 3600 + 2 * 120 + 15, ip=ATTACKER_IP, geo=ABROAD))
    _, produced = run(events)
    assert [(f.revision, f.severity) for f in produced] == [(1, Severity.MEDIUM)]


def test_approval_after_three_unanswered_prompts_is_critical() -> None:
    events = [*history(), *bombing(3600, 4, gap=120)]
    events.append(ev(EventKind.PUSH_APPROVED, 3600 + 3 * 120 + 15, ip=ATTACKER_IP, geo=ABROAD))
    _, produced = run(events)
    assert max(produced, key=lambda f: f.revision).severity is Severity.CRITICAL


def test_high_severity_at_eight_prompts() -> None:
    _, produced = run(history() + bombing(3600, 8))
    assert max(produced, key=lambda f: f.revision).severity is Severity.HIGH


def test_five_apps_at_nine_each_approved_is_quiet() -> None:
    events = history()
    for n in range(5):
        events.append(ev(EventKind.PUSH_SENT, n * 40))
        events.append(ev(EventKind.PUSH_APPROVED, n * 40 + 5))
    _, produced = run(events)
    assert produced == []


def test_phone_in_a_drawer_then_approved_is_quiet() -> None:
    """Two unanswered pushes and a fat-finger denial from the usual place, then the user approves."""
    events = [
        *history(),
        ev(EventKind.PUSH_SENT, 0),
        ev(EventKind.PUSH_SENT, 90),
        ev(EventKind.PUSH_SENT, 200),
    ]
    events.append(ev(EventKind.PUSH_DENIED, 205))
    events += [ev(EventKind.PUSH_SENT, 230), ev(EventKind.PUSH_APPROVED, 236)]
    _, produced = run(events)
    assert produced == []


def test_unanswered_prompts_from_home_fire_only_on_count_alone() -> None:
    quiet = [*history(), *(ev(EventKind.PUSH_SENT, n * 60) for n in range(4))]
    assert run(quiet)[1] == []
    loud = [*history(), *(ev(EventKind.PUSH_SENT, n * 60) for n in range(5))]
    produced = run(loud)[1]
    assert produced and len(produced[0].evidence) == 5
    assert not any("not used before" in r for r in produced[0].reasons)


def test_two_denials_make_three_prompts_enough_without_a_new_place() -> None:
    events = [*history(), ev(EventKind.PUSH_SENT, 0), ev(EventKind.PUSH_DENIED, 5)]
    events += [ev(EventKind.PUSH_SENT, 60), ev(EventKind.PUSH_DENIED, 65), ev(EventKind.PUSH_SENT, 120)]
    produced = run(events)[1]
    assert produced and produced[0].reasons[0].startswith("3 push prompts")


def test_entra_and_duo_outcomes_without_sends_are_prompts_of_their_own() -> None:
    events = history()
    for n, provider in enumerate([Provider.ENTRA, Provider.DUO, Provider.ENTRA, Provider.DUO]):
        events.append(ev(EventKind.PUSH_DENIED, n * 50, provider=provider, ip=ATTACKER_IP, geo=ABROAD))
    produced = run(events)[1]
    assert produced[0].provider == "several"
    assert produced[0].reasons[0].startswith("3 push prompts without approval")


def test_slow_prompts_outside_the_window_do_not_add_up() -> None:
    events = [*history(), *(ev(EventKind.PUSH_SENT, n * 700, ip=ATTACKER_IP, geo=ABROAD) for n in range(6))]
    assert run(events)[1] == []


def test_late_approval_long_after_the_burst_does_not_escalate() -> None:
    events = [*history(), *bombing(3600, 4)]
    events.append(ev(EventKind.PUSH_SENT, 3600 + 4 * 45 + 7200))
    events.append(ev(EventKind.PUSH_APPROVED, 3600 + 4 * 45 + 7205))
    produced = run(events)[1]
    assert all(f.severity is not Severity.CRITICAL for f in produced)


def test_a_new_burst_after_quiet_is_a_new_finding() -> None:
    events = [*history(), *bombing(3600, 4), *bombing(3600 + 3 * 3600, 4)]
    produced = run(events)[1]
    assert len({f.id for f in produced}) == 2


def test_tunables_change_the_threshold() -> None:
    events = [*history(), *bombing(3600, 3)]
    assert run(events)[1]
    assert run(events, min_prompts=4)[1] == []
