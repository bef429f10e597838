"""The engine hands each detector only the event kinds its metadata ``watches``: the result must be the
one of every detector seeing every event, event by event, on a tenant with every campaign kind and on
the vendors' own sample records."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from pushguard.detect import build_detectors
from pushguard.detect.push_spray import SprayState, _is_open
from pushguard.enrich import AliasMap, build_enrichers
from pushguard.model import Event, EventKind, Finding
from pushguard.pipeline import Engine, RunStats, merged_events
from pushguard.simulate.scenario import simulate
from pushguard.sources.readers import expand_paths

FIXTURES = Path(__file__).parent / "fixtures"


def _events(root: Path) -> list[Event]:
    paths = expand_paths([root])
    return [event for event, _ in merged_events(paths, RunStats(), None, AliasMap(), build_enrichers())]


def _view(findings: list[Finding]) -> list[tuple[str, int, str, list[str]]]:
    return [(f.id, f.revision, f.severity.value, f.reasons) for f in findings]


def _lockstep(events: list[Event]) -> tuple[int, set[EventKind]]:
    """(findings compared, kinds seen); fails at the first event where the two engines differ."""
    by_kind = Engine(detectors=build_detectors())
    every = Engine(detectors=build_detectors(), by_kind=False)
    compared = 0
    for number, event in enumerate(events):
        mine, reference = by_kind.process(event), every.process(event)
        assert _view(mine) == _view(reference), f"event #{number} ({event.kind.value}, {event.event_id})"
        compared += len(reference)
    assert _view(by_kind.finish()) == _view(every.finish())
    assert by_kind.findings == every.findings
    return compared + len(every.findings), {event.kind for event in events}


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("by-kind") / "tenant"
    simulate(2, 120, 5, root)
    return root


def test_a_tenant_with_every_campaign_gives_the_same_findings_event_by_event(tenant: Path) -> None:
    compared, kinds = _lockstep(_events(tenant))
    assert compared > 50, "the comparison must cover findings to mean something"
    # the kinds most detectors skip are in the stream, so the table is exercised
    assert {EventKind.SIGNIN_SUCCESS, EventKind.SIGNIN_FAILURE, EventKind.MFA_REQUIRED} <= kinds


def test_vendor_sample_records_give_the_same_findings(tmp_path: Path) -> None:
    events = _events(FIXTURES / "okta") + _events(FIXTURES / "entra") + _events(FIXTURES / "duo")
    events += _events(FIXTURES / "ocsf")
    events.sort(key=lambda e: (e.ts, e.provider.value, e.event_id))
    _, kinds = _lockstep(events)
    assert len(kinds) >= 10


def test_every_detector_declares_what_it_watches() -> None:
    for detector in build_detectors():
        watches = detector.meta.watches
        assert watches, detector.meta.id
        assert list(watches) == sorted(set(watches)), detector.meta.id  # printed: stable order
        assert EventKind.MFA_REQUIRED not in watches  # an interrupt asking for MFA is nobody's input
        assert EventKind.SIGNIN_INTERRUPTED not in watches  # nor is any other interrupt


def test_a_detector_does_not_see_a_kind_it_does_not_watch() -> None:
    engine = Engine(detectors=build_detectors())
    by_id = {d.meta.id: d for d in engine.detectors}
    for kind in EventKind:
        for detector_id in engine.watching(kind):
            watches = by_id[detector_id].meta.watches
            assert watches is not None and kind in watches, detector_id
    assert not engine.watching(EventKind.MFA_REQUIRED)
    assert engine.watching(EventKind.PUSH_SENT)[:2] == ["push_bombing", "push_fatigue"]
    assert engine.watching(EventKind.SIGNIN_FAILURE)[-1] == "password_spray"
    everything = Engine(detectors=build_detectors(), by_kind=False)
    assert len(everything.watching(EventKind.MFA_REQUIRED)) == len(engine.detectors)


def test_second_stage_detectors_decide_the_same_on_their_view_of_the_profile(tenant: Path) -> None:
    """A deferred second stage (``--jobs``, stream workers) carries ``keyed_view``, not the profile."""
    learning = Engine(detectors=build_detectors())  # keeps the profiles as a run does
    on_profile, on_view = Engine(detectors=build_detectors()), Engine(detectors=build_detectors())
    deferred = 0
    for event in _events(tenant):
        if event.identity:
            profile = learning.profile(event.identity)
            parts, view = learning.keyed_view(event, profile)
            if view is None:
                assert not parts
            else:
                deferred += 1
                assert len(msgspec.msgpack.encode(view)) < 200  # a known place or two, not the profile
                expected = _view(on_profile.second_stage(event, profile))
                assert _view(on_view.second_stage(event, view)) == expected
        learning.process(event)
    assert deferred > 1000
    assert {f.detector for f in on_view.findings.values()} & {"push_spray", "password_spray"}
    assert on_view.findings == on_profile.findings
    on_view.flush()
    on_profile.flush()
    keys = sorted(on_profile.store.state_keys())
    assert keys == sorted(on_view.store.state_keys())
    assert on_view.store.load(keys) == on_profile.store.load(keys)  # every IP's and ASN's state


def test_spray_open_target_count_is_a_recount_at_every_step(tenant: Path) -> None:
    """The spray detectors skip an evaluation on a running count of targets that could be suspects: the
    count must be what a pass over the targets gives, after every event and every expiry."""
    engine = Engine(detectors=build_detectors())
    checked = 0
    for number, event in enumerate(_events(tenant)):
        engine.process(event)
        if number % 50:
            continue
        for key, state in engine._keyed.items():
            if isinstance(state, SprayState) and state.open_targets >= 0:
                assert state.open_targets == sum(_is_open(t) for t in state.targets.values()), key
                checked += 1
    assert checked > 10_000
