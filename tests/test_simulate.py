"""The labeled simulator: deterministic, in shapes the project's own sources map completely, with
labels that point at real records and every campaign kind present."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pushguard.enrich import AliasMap
from pushguard.flow import analyze
from pushguard.model import Event, EventKind
from pushguard.pipeline import RunStats, parse_items
from pushguard.simulate.labels import read_labels
from pushguard.simulate.scenario import KINDS, simulate
from pushguard.sources.readers import expand_paths, read_file


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "week"
    simulate(3, 200, 7, out)
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    simulate(5, 40, 3, tmp_path / "a")
    simulate(5, 40, 3, tmp_path / "b")
    simulate(6, 40, 3, tmp_path / "c")
    first, second, third = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert first == second
    assert {"labels.json", "okta/system-log.jsonl", "entra/signins.jsonl", "duo/authlogs.jsonl"} <= set(first)
    assert first != third


def test_every_record_maps_with_no_unmapped_and_no_errors(week: Path) -> None:
    result = analyze([week])
    stats = result.stats
    assert stats.records > 0
    assert stats.errors == 0, stats.error_samples
    assert not stats.unmapped, stats.unmapped
    assert stats.events == stats.records
    assert set(stats.by_provider) == {"okta", "entra", "duo"}


def _events(directory: Path) -> list[Event]:
    stats = RunStats()
    events: list[Event] = []
    for path in expand_paths([directory]):
        events.extend(parse_items(read_file(path), stats, None, AliasMap()))
    return events


def test_labels_reference_existing_event_ids(week: Path) -> None:
    labels = read_labels(week / "labels.json")
    ids = {e.event_id for e in _events(week)}
    for campaign in labels.campaigns:
        assert campaign.event_ids, campaign.id
        assert set(campaign.event_ids) <= ids, campaign.id
        assert campaign.start <= campaign.end
        assert campaign.prompts == len(campaign.prompt_times)
        assert campaign.techniques
        assert campaign.identity == campaign.identity.lower()
        assert set(campaign.context_event_ids) <= ids, campaign.id
        assert not set(campaign.context_event_ids) & set(campaign.event_ids)
        assert campaign.infrastructure in ("residential", "local_vps", "foreign")
        if campaign.kind == "password_spray":
            assert campaign.identity == f"ip:{campaign.source_ips[0]}"
            assert len(campaign.targets) >= 20
        else:
            assert campaign.identity not in labels.benign_users
        if campaign.kind == "spray_then_push":  # a victim of a spray: 1-3 pushes amid the failures
            assert 1 <= campaign.prompts <= 3 and len(campaign.targets) >= 20
            assert campaign.context_event_ids and campaign.techniques[:2] == ["T1110.003", "T1621"]


def test_every_campaign_kind_is_present(week: Path) -> None:
    labels = read_labels(week / "labels.json")
    kinds = Counter(c.kind for c in labels.campaigns)
    assert set(kinds) == set(KINDS)
    assert min(kinds.values()) >= 2  # enough of every kind to measure
    assert labels.users == 200
    assert labels.days == 7
    # the assurance chain's victims are legacy test accounts of their own, not among the tenant's people
    people = [c for c in labels.campaigns if c.kind != "spray_single_factor_chain"]
    victims = {c.identity for c in people if c.identity not in labels.service_accounts}
    victims = {v for v in victims if not v.startswith("ip:")}
    # everyone is benign or a victim; the people of simulate.split_idp come on top of ``users``
    assert not victims & set(labels.benign_users)
    assert len(labels.benign_users) + len(victims) > labels.users
    assert labels.service_accounts
    providers = {c.provider for c in labels.campaigns}
    assert providers == {"okta", "entra", "duo"}


def test_benign_volume_is_sane(week: Path) -> None:
    labels = read_labels(week / "labels.json")
    attack_ids = {i for c in labels.campaigns for i in c.event_ids}
    kinds: Counter[EventKind] = Counter()
    for event in _events(week):
        if event.event_id not in attack_ids:
            kinds[event.kind] += 1
    approvals = kinds[EventKind.PUSH_APPROVED]
    per_user_day = approvals / labels.users / labels.days
    assert 1.0 <= per_user_day <= 8.0
    refusals = kinds[EventKind.PUSH_DENIED] + kinds[EventKind.PUSH_TIMEOUT]
    # Misses and fat fingers happen, at the seed's rates: a flaky-phone seed misses up to 8 in a row.
    assert 0 < refusals < approvals * 0.5
    assert kinds[EventKind.FACTOR_ENROLLED] >= 1
    assert kinds[EventKind.SIGNIN_SUCCESS] > approvals
    assert kinds[EventKind.FRAUD_REPORTED] == 0  # only attacks get reported


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="users"):
        simulate(1, 3, 3, tmp_path)
    with pytest.raises(ValueError, match="days"):
        simulate(1, 50, 1, tmp_path)
    with pytest.raises(ValueError, match="history"):
        simulate(1, 50, 3, tmp_path, history_days=-1)


def test_cli_simulate_evaluate_and_demo(tmp_path: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from pushguard.cli import evaluate as evaluate_commands
    from pushguard.cli import simulate as commands

    app = typer.Typer()
    commands.register(app)
    evaluate_commands.register(app)
    runner = CliRunner()
    out = tmp_path / "sim"
    result = runner.invoke(
        app, ["simulate", "--seed", "4", "--users", "40", "--days", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "labels.json").is_file()
    result = runner.invoke(app, ["evaluate", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["campaigns"] == len(read_labels(out / "labels.json").campaigns)
    result = runner.invoke(app, ["evaluate", str(out)])
    assert result.exit_code == 0, result.output
    assert "recall" in result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    commands.run_demo(tmp_path / "demo")
    assert (tmp_path / "demo" / "findings.jsonl").is_file()
