"""Backtest: a policy replayed over logs decides at every prompt with the state *before* it; labeled
campaigns are stopped at a prompt number, benign prompts give the friction; the CLI compares policies."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.backtest import backtest
from pushguard.cli import app
from pushguard.decide import load_policy, parse_policy
from pushguard.enrich import AliasMap
from pushguard.model import EventKind
from pushguard.pipeline import RunStats, parse_items
from pushguard.simulate import okta_records as okta
from pushguard.simulate.labels import CampaignLabel, Labels
from pushguard.sources.readers import expand_paths, read_paths
from tests.events import T0

VICTIM = "victim@corp.example"

STRICT = """
version: strict-1
fallback: step_up
rules:
  - name: three-prompts-in-ten-minutes
    condition: operation == "push" && prompts_last_10m >= 2
    action: step_up
    reason: {code: burst, message: "burst"}
"""
LAX = """
version: lax-1
fallback: step_up
rules:
  - name: ten-prompts
    condition: operation == "push" && prompts_last_10m >= 10
    action: step_up
    reason: {code: burst, message: "burst"}
"""


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    return path


def bombing(tmp_path: Path) -> tuple[Path, Labels]:
    records = []
    for day in range(1, 4):  # the victim's own, benign prompts
        moment = T0 - timedelta(days=day)
        records.append(okta.push_sent(moment, VICTIM, "88.160.137.23", "paris", seed=f"h{day}"))
        records.append(
            okta.push_answer(moment + timedelta(seconds=6), VICTIM, "88.160.137.23", "paris", True)
        )
    attack = []
    for n in range(6):
        moment = T0 + timedelta(seconds=45 * n)
        attack.append(okta.push_sent(moment, VICTIM, "203.0.113.66", "lagos", seed=f"b{n}"))
    records += attack
    label = CampaignLabel(
        id="c1",
        kind="push_bombing_ridden_out",
        identity=VICTIM,
        provider="okta",
        source_ips=["203.0.113.66"],
        start="",
        end="",
        techniques=["T1621"],
        event_ids=[r["uuid"] for r in attack],
        prompts=6,
        prompt_times=[],
    )
    labels = Labels(
        seed=0, users=1, days=4, start="", benign_users=[], service_accounts=[], campaigns=[label]
    )
    return write(tmp_path / "okta.jsonl", records), labels


def test_the_policy_sees_the_state_before_each_prompt(tmp_path: Path) -> None:
    log, labels = bombing(tmp_path)
    strict, lax = parse_policy(STRICT, "strict.yaml"), parse_policy(LAX, "lax.yaml")
    result = backtest([log], [strict, lax], labels=labels)
    assert result.decision_points == 9  # 3 benign sends + 6 attack sends; answers are not decisions
    first, second = result.policies
    assert first.version == "strict-1" and second.version == "lax-1"
    # 2 prompts in the last 10 min are needed *before* the prompt: the 3rd attack prompt is the first stopped
    assert first.decisions == {"allow": 5, "step_up": 4}
    assert first.rules["three-prompts-in-ten-minutes"].matched == 4
    assert first.labeled is not None and second.labeled is not None
    assert first.labeled.by_kind["push_bombing_ridden_out"].stopped == 1
    assert first.labeled.by_kind["push_bombing_ridden_out"].median_prompt == 3.0
    assert first.labeled.benign_prompts == 3 and first.labeled.benign_escalated == 0
    assert second.labeled.stopped == 0
    assert second.decisions == {"allow": 9}


def test_benign_friction_is_counted(tmp_path: Path) -> None:
    log, labels = bombing(tmp_path)
    everything = parse_policy(
        'version: all-1\nfallback: step_up\nrules:\n  - name: all\n    condition: operation == "push"\n'
        "    action: step_up\n    reason: {code: all, message: all}\n",
        "all.yaml",
    )
    (figures,) = backtest([log], [everything], labels=labels).policies
    assert figures.labeled is not None
    assert figures.labeled.benign_escalated == 3
    assert figures.labeled.escalations_per_1000_benign_prompts == pytest.approx(1000.0)
    assert figures.labeled.by_kind["push_bombing_ridden_out"].median_prompt == 1.0


def test_enrollments_are_decision_points_too(tmp_path: Path) -> None:
    fixture = Path(__file__).parent / "fixtures" / "entra" / "audit-graph-handmade.jsonl"
    result = backtest([fixture], [parse_policy(STRICT, "strict.yaml")])
    (figures,) = result.policies
    assert figures.enrollments >= 1 and figures.labeled is None


def test_cli_backtest_compares_policies_on_a_simulated_tenant(tmp_path: Path) -> None:
    runner = CliRunner()
    tenant = tmp_path / "tenant"
    assert (
        runner.invoke(app, ["simulate", "--out", str(tenant), "--users", "60", "--days", "3"]).exit_code == 0
    )
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    result = runner.invoke(
        app, ["policy", "backtest", str(tenant), "--policy", str(strict), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    (figures,) = body["policies"]
    assert figures["version"] == "strict-1"
    assert figures["labeled"]["campaigns"] >= 10  # labels.json found in the directory
    assert (
        sum(row["prompts"] for row in figures["labeled"]["campaign_rows"])
        == (figures["labeled"]["attack_prompts"])
    )
    table = runner.invoke(
        app, ["policy", "backtest", str(tenant), "--policy", str(strict), "--policy", str(strict)]
    )
    assert table.exit_code == 0, table.output
    assert "benign prompts escalated" in table.output and table.output.count("strict-1") >= 4
    bad = runner.invoke(app, ["policy", "backtest", str(tenant), "--policy", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2


def test_enrollments_are_decided_and_labeled_apart_from_prompts() -> None:
    fixture = Path(__file__).parent / "fixtures" / "entra" / "audit-graph-handmade.jsonl"

    events = list(parse_items(read_paths(expand_paths([fixture])), RunStats(), None, AliasMap()))
    enrolled = sorted((e for e in events if e.kind is EventKind.FACTOR_ENROLLED), key=lambda e: e.ts)
    after_reset = enrolled[-1]  # 03:11, eleven minutes after the helpdesk's password reset
    label = CampaignLabel(
        id="c9",
        kind="reset_enroll_access",
        identity=after_reset.identity,
        provider="entra",
        source_ips=[],
        start="",
        end="",
        techniques=["T1098.005"],
        event_ids=[after_reset.event_id],
        prompts=0,
        prompt_times=[],
    )
    labels = Labels(
        seed=0, users=1, days=1, start="", benign_users=[], service_accounts=[], campaigns=[label]
    )
    (figures,) = backtest([fixture], [load_policy(None)], labels=labels).policies
    # the user's fraud report is a prompt of its own (Entra logs no send): one push decision point
    assert figures.prompts == 1 and figures.enrollments == len(enrolled)
    assert figures.enrollment_decisions.get("step_up", 0) >= 1
    labeled = figures.labeled
    assert labeled is not None
    (row,) = labeled.campaign_rows
    assert (row.enrollments, row.first_escalation, row.first_operation) == (1, 1, "enroll")
    assert row.first_rules == ["enroll-after-reset"] and row.first_action == "step_up"
    assert labeled.attack_enrollments == labeled.attack_enrollments_escalated == 1
    assert labeled.attack_prompts == labeled.attack_prompts_escalated == 0
    assert labeled.benign_enrollments == len(enrolled) - 1 and labeled.benign_prompts == 1


def test_a_campaign_without_prompts_and_a_broken_record_are_reported(tmp_path: Path) -> None:
    log, labels = bombing(tmp_path)
    with log.open("ab") as handle:
        handle.write(b"{not json\n")
    spray = msgspec.structs.replace(labels.campaigns[0], id="c2", kind="password_spray", event_ids=["nope"])
    labels = msgspec.structs.replace(labels, campaigns=[*labels.campaigns, spray])
    result = backtest([log], [parse_policy(STRICT, "strict.yaml")], labels=labels)
    assert result.errors == 1 and result.error_samples[0].startswith(f"{log}:")
    (figures,) = result.policies
    assert figures.labeled is not None
    kinds = figures.labeled.by_kind
    assert kinds["password_spray"].with_decision_points == 0 and kinds["password_spray"].stopped == 0
    assert kinds["push_bombing_ridden_out"].with_decision_points == 1
    assert figures.labeled.attack_prompts == 6 and figures.labeled.attack_prompts_escalated == 4


def test_a_history_builds_the_state_and_is_not_counted(tmp_path: Path) -> None:
    """The person's own context, learnt from a history period, is familiar: their push from home is not
    escalated by the default policy, the attacker's first prompt from elsewhere is."""
    history = []
    for day in range(1, 6):
        moment = T0 - timedelta(days=day)
        history.append(okta.push_sent(moment, VICTIM, "88.160.137.23", "paris", seed=f"h{day}"))
        history.append(
            okta.push_answer(moment + timedelta(seconds=6), VICTIM, "88.160.137.23", "paris", True)
        )
    home = okta.push_sent(T0 - timedelta(hours=1), VICTIM, "88.160.137.23", "paris", seed="home")
    log, labels = bombing(tmp_path)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    scored = write(tmp_path / "scored.jsonl", [home, *records[6:]])  # the attack only, after home
    hist = write(tmp_path / "history.jsonl", history)
    result = backtest([scored], [load_policy(None)], labels=labels, history=[hist])
    assert result.decision_points == 7  # the history's 5 prompts are not decided
    (figures,) = result.policies
    labeled = figures.labeled
    assert labeled is not None
    assert labeled.benign_prompts == 1 and labeled.benign_escalated == 0
    (row,) = labeled.campaign_rows
    assert row.first_escalation == 1 and "unfamiliar-context" in row.first_rules
    assert labeled.stopped_before_approval == 1
    unfamiliar = figures.rules["unfamiliar-context"]  # its cost and catch
    assert (unfamiliar.benign_prompts, unfamiliar.attack_points, unfamiliar.campaigns_in_time) == (0, 6, 1)
    matching = figures.rules["number-match-every-push"]  # not an escalation: catches nothing
    assert (matching.benign_prompts, matching.campaigns_in_time) == (1, 0)
    assert labeled.cheapest is not None and labeled.cheapest.reached
    # one rule catches the one campaign at no benign cost (which of the rules that tie is the first by name)
    assert len(labeled.cheapest.rules) == 1 and labeled.cheapest.benign_escalated == 0
    # without the history nothing is known: the same attack prompt is not "unfamiliar" to a blank profile
    (blank,) = backtest([scored], [load_policy(None)], labels=labels).policies
    assert blank.labeled is not None
    assert "unfamiliar-context" not in (blank.labeled.campaign_rows[0].first_rules or [])


def test_an_escalation_after_the_attackers_approval_is_too_late(tmp_path: Path) -> None:
    log, labels = bombing(tmp_path)
    approval = okta.push_answer(T0 + timedelta(seconds=50), VICTIM, "203.0.113.66", "lagos", True)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    write(log, [*records, approval])
    label = msgspec.structs.replace(
        labels.campaigns[0], event_ids=[*labels.campaigns[0].event_ids, approval["uuid"]]
    )
    labels = msgspec.structs.replace(labels, campaigns=[label])
    (figures,) = backtest([log], [parse_policy(STRICT, "strict.yaml")], labels=labels).policies
    assert figures.labeled is not None
    (row,) = figures.labeled.campaign_rows
    assert row.first_approval == 2 and row.first_escalation == 3  # approved at the 2nd prompt
    assert figures.labeled.stopped == 1 and figures.labeled.stopped_before_approval == 0
    assert not row.before_approval
    burst = figures.rules["three-prompts-in-ten-minutes"]
    assert (burst.attack_points, burst.campaigns_in_time, burst.benign_prompts) == (4, 0, 0)
