"""The detection-quality gate (issue 6): on the recorded seeds of the simulator, recall per campaign kind
may not fall and false positives per detector may not rise. The figures were recorded with
``python benchmarks/quality.py --record tests/fixtures/quality_baseline.json``; re-record them, and say
why in the commit, when a change makes detection better (or the simulator changes)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from benchmarks.quality import QualityRecord, evaluate_seed, record_of

BASELINE = Path(__file__).parent / "fixtures" / "quality_baseline.json"


@pytest.fixture(scope="module")
def recorded() -> QualityRecord:
    return msgspec.json.decode(BASELINE.read_bytes(), type=QualityRecord)


@pytest.fixture(scope="module")
def measured(recorded: QualityRecord) -> QualityRecord:
    evaluations = {seed: evaluate_seed(seed, recorded.users, recorded.days) for seed in recorded.seeds}
    return record_of(evaluations, recorded.users, recorded.days)


def test_the_simulated_campaigns_are_the_recorded_ones(
    recorded: QualityRecord, measured: QualityRecord
) -> None:
    assert {k: f.campaigns for k, f in measured.detected_by_kind.items()} == {
        k: f.campaigns for k, f in recorded.detected_by_kind.items()
    }, "the simulator changed: re-record the baseline"


def test_recall_per_kind_does_not_fall(recorded: QualityRecord, measured: QualityRecord) -> None:
    worse = {
        kind: f"{measured.detected_by_kind[kind].detected} < {figure.detected} of {figure.campaigns}"
        for kind, figure in recorded.detected_by_kind.items()
        if measured.detected_by_kind[kind].detected < figure.detected
    }
    assert not worse, f"fewer campaigns detected than recorded: {worse}"


def test_false_positives_per_detector_do_not_rise(recorded: QualityRecord, measured: QualityRecord) -> None:
    worse = {
        detector: f"{count} > {recorded.false_positives_by_detector.get(detector, 0)}"
        for detector, count in measured.false_positives_by_detector.items()
        if count > recorded.false_positives_by_detector.get(detector, 0)
    }
    assert not worse, f"more false positives than recorded: {worse}"
