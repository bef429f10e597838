"""The simulator's assurance accounts and chain: their own random stream, their own kind in evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushguard.cli.evaluate import evaluate_directory
from pushguard.flow import analyze
from pushguard.model import Severity
from pushguard.simulate import scenario
from pushguard.simulate.campaigns_assurance import KIND
from pushguard.simulate.labels import read_labels
from pushguard.simulate.scenario import simulate


def _lines(root: Path) -> dict[str, list[str]]:
    return {
        str(path.relative_to(root)): path.read_text().splitlines() for path in sorted(root.rglob("*.jsonl"))
    }


def test_the_rest_of_the_tenant_stays_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(5, 30, 2, tmp_path / "full", history_days=2)
    monkeypatch.setattr(scenario, "simulate_assurance", lambda seed, world: ([], []))
    simulate(5, 30, 2, tmp_path / "plain", history_days=2)
    full, plain = _lines(tmp_path / "full"), _lines(tmp_path / "plain")
    assert set(plain) == set(full)
    added = 0
    for name, lines in plain.items():
        kept = iter(full[name])
        assert all(line in kept for line in lines), name  # every record, in the same order
        added += len(full[name]) - len(lines)
    assert added > 0


def test_the_chain_is_its_own_kind_and_is_detected(tmp_path: Path) -> None:
    simulate(2, 60, 3, tmp_path, history_days=3)
    labels = read_labels(tmp_path / "labels.json")
    chains = [c for c in labels.campaigns if c.kind == KIND]
    assert len(chains) >= 2 and len({c.identity for c in chains}) == len(chains)
    for chain in chains:
        assert {"T1110.003", "T1078", "T1098.001", "T1528"} <= set(chain.techniques)
        assert chain.context_event_ids and chain.outcome == "access"
        assert chain.identity not in labels.benign_users
    assert len(labels.assurance_exceptions) == 2
    evaluation = evaluate_directory(tmp_path)
    (kind,) = [k for k in evaluation.by_kind if k.kind == KIND]
    assert kind.detected == len(chains)
    assert not any(
        o.detector == "assurance_gap" and o.outcome == "false_positive" for o in evaluation.outcomes
    )
    # without the operator's exceptions, the shared mailbox and the scanner are low findings: no alarm
    plain = [f for f in analyze([tmp_path]).findings if f.detector == "assurance_gap"]
    excepted = [f for f in plain if f.user in labels.assurance_exceptions]
    assert {f.user for f in excepted} == set(labels.assurance_exceptions)
    assert all(f.severity is Severity.LOW for f in excepted)
    exempt = {"assurance_gap": {"exempt_accounts": ",".join(labels.assurance_exceptions)}}
    configured = [
        f for f in analyze([tmp_path], detector_config=exempt).findings if f.detector == "assurance_gap"
    ]
    assert not any(f.user in labels.assurance_exceptions for f in configured)
