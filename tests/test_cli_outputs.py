"""What the commands print: ``--format json`` documents a script can read, the demo's closing lines, the
evaluate message on a directory without labels, and the spellings and variables every command accepts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.api import load_config
from pushguard.cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli") / "demo"
    result = runner.invoke(app, ["demo", "--out-dir", str(out)], terminal_width=400)  # the old spelling
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_demo_says_what_it_caught_and_where_to_look(demo: tuple[Path, str]) -> None:
    out, printed = demo
    labels = json.loads((out / "logs" / "labels.json").read_text())
    caught = next(line for line in printed.splitlines() if line.startswith("caught "))
    found, of, attacks = caught.split()[1:4]
    assert of == "of" and int(attacks) == len(labels["campaigns"]) and 0 < int(found) <= int(attacks)
    assert "false alarms" in caught
    assert str(out / "report.html") in printed and str(out / "findings.jsonl") in printed


def test_json_from_report_respond_and_audit_verify(demo: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo
    findings = out / "findings.jsonl"
    report = runner.invoke(
        app, ["report", str(findings), "--ocsf", str(tmp_path / "o.jsonl"), "--format", "json"]
    )
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout) == {
        "findings": len(findings.read_text().splitlines()),
        "ocsf": str(tmp_path / "o.jsonl"),
    }
    audit = tmp_path / "audit.jsonl"
    respond = runner.invoke(
        app,
        [
            "respond",
            str(findings),
            "--playbook",
            str(EXAMPLES / "playbook.yaml"),
            "--audit-log",
            str(audit),
            "--format",
            "json",
        ],
    )
    assert respond.exit_code == 0, respond.output
    plan = json.loads(respond.stdout)
    outcomes = Counter(action["outcome"] for action in plan["actions"])
    assert plan["executed"] is False and outcomes["planned"] == plan["counts"]["planned"] > 0
    verified = runner.invoke(app, ["audit-verify", str(audit), "--format", "json"])
    assert verified.exit_code == 0, verified.output
    verdict = json.loads(verified.stdout)
    assert verdict["intact"] and verdict["entries"] == len(audit.read_text().splitlines())


def test_json_from_enforce_and_keys_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "enforcement.json"
    args = ["enforce", "--expire", "--config", str(EXAMPLES / "enforcement.yaml"), "--state", str(state)]
    enforce = runner.invoke(app, [*args, "--audit-log", str(tmp_path / "a.jsonl"), "--format", "json"])
    assert enforce.exit_code == 0, enforce.output
    assert json.loads(enforce.stdout)["changes"] == []
    monkeypatch.setenv("PUSHGUARD_KEYS_FILE", str(tmp_path / "keys.json"))
    created = runner.invoke(app, ["keys", "create", "--name", "hook", "--scope", "ingest"])
    assert created.exit_code == 0, created.output
    listed = json.loads(runner.invoke(app, ["keys", "list", "--format", "json"]).stdout)
    assert [(k["name"], k["scopes"], k["revoked"]) for k in listed] == [("hook", ["ingest"], False)]


def test_evaluate_without_labels_says_it_needs_a_simulated_tenant(tmp_path: Path) -> None:
    (tmp_path / "okta.jsonl").write_text("{}\n")
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "labels.json" in result.stderr and "pushguard simulate" in result.stderr
    assert f"--out {tmp_path}" not in result.stderr  # never advice to write a tenant over the user's logs


def test_evaluate_and_worker_keep_their_old_json_flags_hidden() -> None:
    for command, flag in (("evaluate", "--json"), ("worker", "--stats-json")):
        shown = runner.invoke(app, [command, "-h"], terminal_width=200).output
        assert flag not in shown and "--format" in shown


def test_redis_url_is_read_from_either_variable() -> None:
    assert load_config(None, {"REDIS_URL": "redis://one:6379/0"}).redis_url == "redis://one:6379/0"
    both = {"REDIS_URL": "redis://one:6379/0", "PUSHGUARD_REDIS_URL": "redis://two:6379/0"}
    assert load_config(None, both).redis_url == "redis://two:6379/0"  # ours wins


def test_simulate_and_demo_take_the_same_spellings(tmp_path: Path) -> None:
    for spelling in ("--out", "--out-dir"):
        where = tmp_path / spelling.strip("-")
        result = runner.invoke(app, ["simulate", spelling, str(where), "--users", "20", "--days", "2"])
        assert result.exit_code == 0, result.output
        assert (where / "labels.json").is_file()
