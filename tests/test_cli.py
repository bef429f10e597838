"""The CLI end to end on Okta-format logs: findings file against the contract, bad lines, state files."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.report.present import plain
from pushguard.simulate import okta_records as okta

runner = CliRunner()
DAY = datetime(2026, 3, 2, tzinfo=UTC)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FINDING_KEYS = {
    "id",
    "revision",
    "status",
    "incident",
    "detector",
    "title",
    "severity",
    "confidence",
    "user",
    "provider",
    "first_seen",
    "last_seen",
    "detected_at",
    "techniques",
    "frameworks",
    "evidence",
    "source_ips",
    "reasons",
    "actions",
    "first_detected_at",
    "history",
}


def normal_days(login: str, days: range, apps: int = 4) -> list[dict[str, Any]]:
    records = []
    for day in days:
        t = DAY + timedelta(days=day, hours=9)
        records.append(okta.session_start(t, login, "198.51.100.7", "paris"))
        for n in range(apps):  # several apps each morning, each push approved
            records.append(okta.push_sent(t + timedelta(seconds=60 * n + 5), login, "198.51.100.7", "paris"))
            records.append(
                okta.push_answer(
                    t + timedelta(seconds=60 * n + 12), login, "198.51.100.7", "paris", approved=True
                )
            )
    return records


def attack(login: str, day: int, approve: bool) -> list[dict[str, Any]]:
    start = DAY + timedelta(days=day, hours=23, minutes=4)
    records = []
    for n in range(8):
        t = start + timedelta(seconds=50 * n)
        records.append(okta.push_sent(t, login, "203.0.113.66", "lagos"))
        if n % 3 == 2:
            records.append(okta.deny_push(t + timedelta(seconds=9), login, "192.0.2.4", "paris"))
    if approve:
        t = start + timedelta(seconds=50 * 8)
        records.append(okta.push_sent(t, login, "203.0.113.66", "lagos"))
        records.append(
            okta.push_answer(t + timedelta(seconds=7), login, "203.0.113.66", "lagos", approved=True)
        )
    return records


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    records = sorted(records, key=lambda r: r["published"])
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def read_findings(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_bombing_found_benign_lookalike_quiet_and_findings_follow_the_contract(tmp_path: Path) -> None:
    records = normal_days("victim@corp.example", range(5)) + normal_days(
        "busy@corp.example", range(5), apps=6
    )
    records += attack("victim@corp.example", 4, approve=True)
    log = write_jsonl(tmp_path / "okta.jsonl", records)
    out = tmp_path / "findings.jsonl"
    result = runner.invoke(app, ["analyze", str(log), "--out", str(out)])
    assert result.exit_code == 0, result.output
    findings = read_findings(out)
    assert {f["user"] for f in findings} == {"victim@corp.example"}  # the busy user stays quiet
    assert len({f["incident"] for f in findings}) == 1  # one attack, one incident, whatever fired
    assert all(set(f) == FINDING_KEYS for f in findings)
    finding = next(f for f in findings if f["detector"] == "push_bombing")
    assert finding["severity"] == "critical"
    assert finding["status"] == "open"
    assert finding["provider"] == "okta"
    assert finding["revision"] >= 2
    assert 0 < finding["confidence"] <= 1
    for key in ("first_seen", "last_seen", "detected_at", "first_detected_at"):
        assert RFC3339.match(finding[key]), finding[key]
    assert finding["first_seen"] <= finding["last_seen"] <= finding["detected_at"]
    # every earlier revision is kept, oldest first, and the first one is when it first fired
    history = finding["history"]
    assert [h["revision"] for h in history] == list(range(1, finding["revision"]))
    assert history[0]["detected_at"] == finding["first_detected_at"] < finding["detected_at"]
    assert history[-1]["severity"] != "critical"  # escalated to critical at the last revision
    assert finding["techniques"][0] == "T1621" and "T1078" in finding["techniques"]
    assert finding["source_ips"][0] == "203.0.113.66"
    assert len(finding["evidence"]) == 12  # 9 prompts, 2 denials, the approval
    assert re.fullmatch(r"[0-9a-f]{24}", finding["id"]) and re.fullmatch(r"[0-9a-f]{24}", finding["incident"])
    assert finding["actions"] and finding["reasons"]
    assert "push_bombing" in result.output and "victim@corp.example" in result.output


def test_corrupt_line_is_reported_and_the_rest_analyzed(tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "okta.jsonl",
        normal_days("victim@corp.example", range(3)) + attack("victim@corp.example", 2, approve=False),
    )
    lines = log.read_text().splitlines()
    lines.insert(5, lines[5][: len(lines[5]) // 2])  # a record cut in half
    lines.insert(9, "not json at all")
    log.write_text("\n".join(lines) + "\n")
    out = tmp_path / "findings.jsonl"
    result = runner.invoke(app, ["analyze", str(log), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"{log}:6: invalid JSON" in result.output
    assert f"{log}:10: invalid JSON" in result.output
    assert re.search(r"malformed records\s*│\s*2", result.output)
    # The attack's prompts come from Lagos and are refused on the victim's phone in Paris: both fire.
    assert {f["detector"] for f in read_findings(out)} == {"push_bombing", "requester_responder_mismatch"}


def test_state_file_carries_history_and_replays_are_skipped(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    day1 = write_jsonl(tmp_path / "day1.jsonl", normal_days("victim@corp.example", range(3)))
    # Day 2 alone: three prompts from a new place fire only if day 1's history (usual place) is known.
    day2 = write_jsonl(tmp_path / "day2.jsonl", attack("victim@corp.example", 3, approve=False)[:3])
    out = tmp_path / "f.jsonl"
    assert runner.invoke(app, ["analyze", str(day2), "--out", str(out), "-q"]).exit_code == 0
    # no history: a new user's first prompts from an unknown place are worth a note, not an alarm
    assert [f["severity"] for f in read_findings(out)] == ["low"]
    assert runner.invoke(app, ["analyze", str(day1), "--state", str(state), "-q"]).exit_code == 0
    result = runner.invoke(app, ["analyze", str(day2), "--state", str(state), "--out", str(out)])
    assert result.exit_code == 0, result.output
    first = read_findings(out)
    assert len(first) == 1 and first[0]["revision"] == 1 and first[0]["severity"] == "medium"
    again = runner.invoke(app, ["analyze", str(day2), "--state", str(state), "--out", str(out)])
    assert re.search(r"replayed \(applied by an earlier run\)\s*│\s*3", again.output)
    assert re.search(r"duplicates \(same record again\)\s*│\s*0", again.output)
    assert read_findings(out) == []  # nothing new: counts did not inflate


def test_a_first_run_calls_a_record_delivered_twice_a_duplicate_not_a_replay(tmp_path: Path) -> None:
    records = normal_days("victim@corp.example", range(2))
    log = write_jsonl(tmp_path / "okta.jsonl", records + records[:3])  # three records exported twice
    result = runner.invoke(app, ["analyze", str(log)])
    assert result.exit_code == 0, result.output
    assert re.search(r"replayed \(applied by an earlier run\)\s*│\s*0", result.output)
    assert re.search(r"duplicates \(same record again\)\s*│\s*3", result.output)
    assert re.search(rf"events analyzed\s*│\s*{len(records)}\b", result.output)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_directory_is_read_whatever_the_file_names_and_skipped_files_are_listed(
    tmp_path: Path, jobs: str
) -> None:
    logs = tmp_path / "export"
    logs.mkdir()
    records = normal_days("victim@corp.example", range(2))
    write_jsonl(logs / "okta-2026-03.ocsf", records)  # an odd suffix: read for its content
    (logs / "notes.txt").write_text("exported by hand\n")
    result = runner.invoke(app, ["analyze", str(logs), "--jobs", jobs])
    assert result.exit_code == 0, result.output
    assert re.search(rf"events analyzed\s*│\s*{len(records)}\b", result.output)
    assert re.search(r"files skipped \(not JSON logs, listed below\)\s*│\s*1", result.output)
    assert f"{logs / 'notes.txt'}: not JSON or JSON Lines" in result.output
    only_notes = tmp_path / "notes-only"
    only_notes.mkdir()
    (only_notes / "notes.txt").write_text("exported by hand\n")
    refused = runner.invoke(app, ["analyze", str(only_notes)])
    assert refused.exit_code == 2
    assert "no log files found" in refused.output and "notes.txt: not JSON" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "/nonexistent/log.jsonl"], "no such file or directory"),
        (["analyze", "{tmp}/empty-dir"], "no log files found"),
        (["analyze", "{tmp}/log.jsonl", "--aliases", "{tmp}/missing.yaml"], "cannot read alias map"),
        (["analyze", "{tmp}/log.jsonl", "--config", "{tmp}/bad.yaml"], "unknown detector"),
        (["analyze", "{tmp}/log.jsonl", "--state", "{tmp}/log.jsonl"], "not a pushguard state file"),
    ],
)
def test_unusable_arguments_exit_non_zero_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty-dir").mkdir()
    write_jsonl(tmp_path / "log.jsonl", normal_days("a@corp.example", range(1)))
    (tmp_path / "bad.yaml").write_text("detectors:\n  no_such_detector: {}\n")
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_config_tunes_a_detector(tmp_path: Path) -> None:
    log = write_jsonl(
        tmp_path / "okta.jsonl", normal_days("v@corp.example", range(3)) + attack("v@corp.example", 2, False)
    )
    config = tmp_path / "pushguard.yaml"
    config.write_text(
        "detectors:\n  push_bombing:\n    min_prompts: 20\n    partly_quiet_prompts: 20\n"
        "  requester_responder_mismatch: false\n"
    )
    out = tmp_path / "f.jsonl"
    assert (
        runner.invoke(app, ["analyze", str(log), "--config", str(config), "--out", str(out), "-q"]).exit_code
        == 0
    )
    assert read_findings(out) == []
    config.write_text("detectors:\n  push_bombing: false\n  requester_responder_mismatch: false\n")
    assert (
        runner.invoke(app, ["analyze", str(log), "--config", str(config), "--out", str(out), "-q"]).exit_code
        == 0
    )
    assert read_findings(out) == []


def test_demo_and_detectors_listing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out-dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    findings = read_findings(tmp_path / "demo" / "findings.jsonl")
    assert {f["severity"] for f in findings} >= {"critical"}
    report = (tmp_path / "demo" / "report.html").read_text()
    assert report.lower().startswith("<!doctype html>")
    # titles as the report words them (no scores, factor names a reader knows)
    assert all(html.escape(plain(f["title"])) in report and f["user"] in report for f in findings)
    listing = runner.invoke(app, ["detectors", "--format", "json"])
    metas = json.loads(listing.output)
    assert metas[0]["id"] == "push_bombing" and metas[0]["tunables"]["min_prompts"]["default"] == 3
    assert "push_sent" in metas[0]["watches"] and "signin_success" not in metas[0]["watches"]
    table = runner.invoke(app, ["detectors"])
    assert "Event kinds it sees: fraud_reported, push_approved" in table.output


def test_a_baseline_learns_without_reporting_and_the_next_run_knows_more(tmp_path: Path) -> None:
    """--baseline over history reports nothing and stores no finding; the next run judges the same
    prompts from a new place as it would after an ordinary run over that history."""
    state = tmp_path / "state.sqlite"
    history = write_jsonl(
        tmp_path / "history.jsonl",
        normal_days("victim@corp.example", range(3)) + attack("other@corp.example", 1, approve=False),
    )
    day = write_jsonl(tmp_path / "day.jsonl", attack("victim@corp.example", 3, approve=False)[:3])
    learnt = runner.invoke(app, ["analyze", str(history), "--state", str(state), "--baseline"])
    assert learnt.exit_code == 0, learnt.output
    assert "baseline learnt into" in learnt.output
    out = tmp_path / "f.jsonl"
    stored = runner.invoke(app, ["analyze", str(day), "--state", str(state), "--out", str(out), "-q"])
    assert stored.exit_code == 0, stored.output
    assert [(f["user"], f["severity"]) for f in read_findings(out)] == [("victim@corp.example", "medium")]
    # the other identity's bombing in the baseline was never reported: not in the state's findings
    assert runner.invoke(app, ["analyze", str(history), "--baseline"]).exit_code == 2  # needs --state


def test_the_organisation_s_allow_list_makes_an_office_familiar_from_the_first_day(tmp_path: Path) -> None:
    """Missed prompts from an office egress the person never used: a burst from outside, unless the config
    names the office network."""
    log = write_jsonl(tmp_path / "okta.jsonl", normal_days("v@corp.example", range(3)) + office_misses())
    out = tmp_path / "f.jsonl"
    assert runner.invoke(app, ["analyze", str(log), "--out", str(out), "-q"]).exit_code == 0
    assert [f["detector"] for f in read_findings(out)] == ["push_bombing"]
    config = tmp_path / "pushguard.yaml"
    config.write_text("organisation:\n  trusted_networks: [203.0.113.0/24]\n")
    assert (
        runner.invoke(app, ["analyze", str(log), "--config", str(config), "--out", str(out), "-q"]).exit_code
        == 0
    )
    assert read_findings(out) == []
    config.write_text("organisation:\n  trusted_networks: [the office]\n")
    bad = runner.invoke(app, ["analyze", str(log), "--config", str(config)])
    assert bad.exit_code == 2 and "organisation.trusted_networks: not a network: 'the office'" in bad.output


def office_misses() -> list[dict[str, Any]]:
    """The person's first day at the company's New York office: eight pushes from its egress that the
    phone never answers (still in flight mode after the flight)."""
    start = DAY + timedelta(days=3, hours=15)
    return [
        okta.push_sent(start + timedelta(seconds=60 * n), "v@corp.example", "203.0.113.10", "newyork")
        for n in range(8)
    ]


def test_a_state_file_of_another_release_is_named_not_a_traceback(tmp_path: Path) -> None:
    """The profile's known-places maps were last-seen integers before familiarity counted them."""
    import msgspec

    from pushguard.store import SqliteStore
    from pushguard.store.base import Commit

    state = tmp_path / "old.sqlite"
    old_profile = {"identity": "victim@corp.example", "countries": {"FR": 1772442600}}
    store = SqliteStore(state)
    store.commit(Commit(states={"victim@corp.example": msgspec.msgpack.encode([old_profile, {}])}))
    store.close()
    day = write_jsonl(tmp_path / "day.jsonl", attack("victim@corp.example", 3, approve=False)[:3])
    result = runner.invoke(app, ["analyze", str(day), "--state", str(state)])
    assert result.exit_code == 2
    assert "written by another version of pushguard" in result.output
