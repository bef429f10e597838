"""Decoded states beyond MAX_CACHED are committed and dropped, then read back when their identity (or IP)
shows up again: a run that evicts all the time finds exactly what a run that never evicts finds, with the
engine's own store (which gets states only when they are dropped) and with a store given to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushguard import pipeline
from pushguard.enrich import AliasMap
from pushguard.flow import Flow, analyze
from pushguard.simulate.scenario import simulate
from pushguard.sources.readers import expand_paths
from pushguard.store import MemoryStore


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eviction") / "tenant"
    simulate(4, 80, 4, root)
    return root


def test_evicting_every_commit_finds_what_keeping_everything_finds(
    tenant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = analyze([tenant])
    assert len(kept.findings) > 10
    monkeypatch.setattr(pipeline, "MAX_CACHED", 5)
    evicting = analyze([tenant], commit_every=50)
    given = MemoryStore()
    evicting_into_a_given_store = analyze([tenant], commit_every=50, store=given)
    assert evicting.findings == kept.findings
    assert evicting_into_a_given_store.findings == kept.findings
    assert evicting.stats.events == kept.stats.events
    assert sum(1 for key in given.state_keys() if not key.startswith("k:")) >= 80  # every identity stored


def test_the_engine_s_own_store_gets_no_state_until_one_is_dropped(tenant: Path) -> None:
    engine = Flow().engine(commit_every=10)
    given = Flow().engine(MemoryStore(), commit_every=10)
    for event, _ in pipeline.merged_events(expand_paths([tenant]), pipeline.RunStats(), None, AliasMap()):
        engine.process(event)
        given.process(event)
    assert not list(engine.store.state_keys())  # nothing evicted: states live decoded only
    assert list(given.store.state_keys())  # a given store is someone's: it gets every commit
