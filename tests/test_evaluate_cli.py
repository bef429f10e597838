"""``pushguard evaluate``: the history is analyzed first into a state the scored part continues from, only
the scored part's findings are scored, and several seeds print side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.cli import evaluate as commands
from pushguard.flow import analyze as real_analyze
from pushguard.pipeline import RunResult, RunStats
from pushguard.simulate.labels import read_labels
from pushguard.simulate.scenario import simulate
from pushguard.store import MemoryStore


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "tenant"
    simulate(31, 60, 2, out, history_days=3)
    return out


def test_history_is_analyzed_first_into_the_store_the_scored_part_continues(
    tenant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[Path], Any, bool]] = []

    def spy(inputs: list[Path], **options: Any) -> RunResult:
        calls.append((list(inputs), options.get("store"), options.get("keep_revisions", False)))
        return real_analyze(inputs, **options)

    monkeypatch.setattr(commands, "analyze", spy)
    result = commands.analyze_simulated(tenant)
    (history, store, kept), (scored, same, revisions) = calls
    assert history == [tenant / "history"] and scored == [tenant / "scored"]
    assert isinstance(store, MemoryStore) and same is store
    assert not kept and revisions
    assert any(True for _ in store.state_keys())  # the history's state was there for the scored part
    start = read_labels(tenant / "labels.json").start
    assert all(f.last_seen >= start for f in result.findings)  # only the scored part's findings


def test_a_directory_without_history_is_analyzed_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulate(32, 40, 2, tmp_path / "flat")
    seen: list[list[Path]] = []

    def spy(inputs: list[Path], **options: Any) -> RunResult:
        seen.append(list(inputs))
        return RunResult(RunStats(), [], [])

    monkeypatch.setattr(commands, "analyze", spy)
    evaluation = commands.evaluate_directory(tmp_path / "flat")
    assert seen == [[tmp_path / "flat"]]
    assert evaluation.detected == 0 and evaluation.campaigns > 0


def test_history_without_a_scored_part_is_refused(tmp_path: Path) -> None:
    simulate(33, 40, 2, tmp_path / "t", history_days=2)
    for path in sorted((tmp_path / "t" / "scored").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (tmp_path / "t" / "scored").rmdir()
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "t")])
    assert result.exit_code == 2 and "scored" in result.output


def test_evaluate_a_history_tenant_as_json(tenant: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", str(tenant), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    labels = read_labels(tenant / "labels.json")
    assert data["campaigns"] == len(labels.campaigns)
    assert data["history_days"] == 3 and data["days"] == 2
    assert sum(row["campaigns"] for row in data["by_provider"]) == len(labels.campaigns)
    assert {row["behaviour"] for row in data["by_behaviour"]} >= {e.behaviour for e in labels.benign_episodes}


def test_several_seeds_side_by_side(tmp_path: Path) -> None:
    args = ["evaluate", "--seeds", "1,2", "--users", "40", "--days", "2", "--history-days", "2"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for heading in (
        "seed 1: detection by campaign kind",
        "seed 2:",
        "all seeds (1,2):",
        "recall per provider",
    ):
        assert heading in result.output
    assert (tmp_path / "seed-1" / "history").is_dir() and (tmp_path / "seed-2" / "labels.json").is_file()
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert set(data["seeds"]) == {"1", "2"}
    assert data["all"]["campaigns"] == data["seeds"]["1"]["campaigns"] + data["seeds"]["2"]["campaigns"]


def test_directory_or_seeds_and_seed_lists() -> None:
    assert CliRunner().invoke(app, ["evaluate"]).exit_code == 2
    assert commands.parse_seeds("1-3,7, 2") == [1, 2, 3, 7]
    with pytest.raises(ValueError, match="seeds"):
        commands.parse_seeds("1,x")
    with pytest.raises(ValueError, match="none"):
        commands.parse_seeds(" , ")
    bad = CliRunner().invoke(app, ["evaluate", "--seeds", "a-b"])
    assert bad.exit_code == 2 and "seeds" in bad.output
