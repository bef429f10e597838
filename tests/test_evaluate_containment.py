"""``pushguard evaluate``'s containment before approval: detection (the first alarm's event time) plus the
provider's delivery delay plus enforcement time, against the attacker's first approved prompt, per kind;
the simulator labels that prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.simulate.evaluate_containment import containment_by_kind, control_margin, parse_delays
from pushguard.simulate.evaluate_summary import CampaignResult
from pushguard.simulate.labels import read_labels
from pushguard.simulate.scenario import simulate


def result(kind: str, provider: str, detected: str | None, approved: str) -> CampaignResult:
    return CampaignResult(
        id=f"{kind}-{provider}-{detected}",
        kind=kind,
        identity="v@corp.example",
        detected=detected is not None,
        detectors=[],
        detected_at=detected,
        pushes_to_detect=None,
        seconds_to_detect=None,
        provider=provider,
        approved_prompt_at=approved,
    )


def test_the_delivery_delay_of_each_provider_decides_containment() -> None:
    approved = "2026-03-02T09:05:00Z"
    okta = result("push_bombing_approved", "okta", "2026-03-02T09:02:00Z", approved)
    duo = result("push_bombing_approved", "duo", "2026-03-02T09:02:00Z", approved)
    late = result("push_bombing_approved", "entra", "2026-03-02T09:02:00Z", approved)
    missed = result("push_bombing_approved", "okta", None, approved)
    after = result("push_bombing_approved", "okta", "2026-03-02T09:06:00Z", approved)
    ridden = result("push_bombing_ridden_out", "okta", "2026-03-02T09:02:00Z", "")  # no approval
    assert control_margin(okta, parse_delays(""), 60.0) == 180 - 70
    assert control_margin(duo, parse_delays(""), 60.0) == 180 - 180  # not before: not contained
    assert control_margin(late, parse_delays(""), 60.0) == 180 - 360
    (score,) = containment_by_kind([okta, duo, late, missed, after, ridden], parse_delays(""), 60.0)
    assert (score.kind, score.approved, score.detected_before, score.contained) == (
        "push_bombing_approved",
        5,
        3,
        1,
    )
    assert score.margin_median_s == 110
    faster = containment_by_kind([okta, duo, late], parse_delays("duo=30,entra=60"), 0.0)[0]
    assert faster.contained == 3


def test_delays_are_checked() -> None:
    assert parse_delays("duo=60")["duo"] == 60 and parse_delays("duo=60")["okta"] == 10
    for bad in ("duo", "duo=-1", "=5", "duo=soon"):
        with pytest.raises(ValueError, match="provider=seconds"):
            parse_delays(bad)


def test_the_simulator_labels_the_first_approved_prompt(tmp_path: Path) -> None:
    simulate(41, 60, 3, tmp_path / "t")
    campaigns = read_labels(tmp_path / "t" / "labels.json").campaigns
    approved = [c for c in campaigns if c.kind == "push_bombing_approved"]
    ridden = [c for c in campaigns if c.kind == "push_bombing_ridden_out"]
    assert approved and ridden
    for campaign in approved:  # the victim gave in at the last prompt of the burst
        assert campaign.approved_prompt_at == max(campaign.prompt_times)
    assert all(c.approved_prompt_at == "" for c in ridden)
    for campaign in (c for c in campaigns if c.kind == "enrollment_abuse"):
        # the victim's approval, not the attacker's later pushes to their own authenticator
        assert campaign.approved_prompt_at < max(campaign.prompt_times)


def test_evaluate_prints_and_writes_containment_per_kind() -> None:
    args = ["evaluate", "--seeds", "3", "--users", "40", "--days", "2", "--history-days", "2"]
    printed = CliRunner().invoke(app, [*args, "--delivery-delay", "duo=60"])
    assert printed.exit_code == 0, printed.output
    assert "Containment before approval (delivery: duo 60 s, entra 300 s, okta 10 s" in printed.output
    as_json = CliRunner().invoke(app, [*args, "--json", "--enforcement-s", "30"])
    data = json.loads(as_json.output)
    kinds = {row["kind"]: row for row in data["containment"]}
    assert "push_bombing_approved" in kinds
    assert all(0 <= row["contained"] <= row["detected_before"] <= row["approved"] for row in kinds.values())
    bad = CliRunner().invoke(app, [*args, "--delivery-delay", "duo"])
    assert bad.exit_code == 2 and "provider=seconds" in bad.output
