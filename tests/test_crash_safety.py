"""Crash safety of the embedded default (issue 9): ``pushguard analyze --state FILE`` killed with SIGKILL
mid-run, then run again on the same input, leaves the same findings and the same state as a run that was
never interrupted: none lost, none duplicated, no count inflated by the replay.

Why it holds: state, the last applied position of every input file and the findings are written in one
SQLite transaction (``store.sqlite``), and the replay guard skips what a committed position covers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pushguard.simulate.scenario import simulate

COMMIT_EVERY = 1500


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "tenant"
    simulate(5, 200, 5, root)
    return root


def run_analyze(tenant: Path, state: Path, out: Path | None = None) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "pushguard",
        "analyze",
        str(tenant),
        "--state",
        str(state),
        "--quiet",
        "--commit-every",
        str(COMMIT_EVERY),
        *(["--out", str(out)] if out is not None else []),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes]) -> int:
    _, stderr = process.communicate(timeout=600)
    assert process.returncode in (0, -signal.SIGKILL), stderr.decode(errors="replace")
    return process.returncode


def committed_positions(state: Path) -> str | None:
    """The committed positions as one string (None before anything is committed)."""
    if not state.exists():
        return None
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=0.05) as db:
            row = db.execute("SELECT group_concat(partition || '=' || value) FROM position").fetchone()
    except sqlite3.OperationalError:  # schema not there yet, or a writer holds the lock
        return None
    return None if row is None else row[0]


def kill_after_first_commit(tenant: Path, state: Path, out: Path | None = None) -> None:
    """Start analyze and SIGKILL it as soon as it has committed once (its positions moved)."""
    before = committed_positions(state)
    process = run_analyze(tenant, state, out)
    deadline = time.monotonic() + 120
    while committed_positions(state) in (None, before):
        if process.poll() is not None:
            finish(process)
            pytest.fail("analyze ended before its first commit")
        if time.monotonic() > deadline:
            process.kill()
            finish(process)
            pytest.fail("no commit within 120 s")
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    assert finish(process) == -signal.SIGKILL, "the run finished before it could be killed"


def snapshot(
    state: Path,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(state) as db:
        findings = db.execute(
            "SELECT id, revision, user, detector, severity, detected_at, body FROM finding ORDER BY id"
        ).fetchall()
        states = db.execute("SELECT key, value FROM state ORDER BY key").fetchall()
        positions = db.execute("SELECT partition, value FROM position ORDER BY partition").fetchall()
    return findings, states, positions


def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(tenant: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean.sqlite"
    assert finish(run_analyze(tenant, clean)) == 0

    crashed = tmp_path / "crashed.sqlite"
    kill_after_first_commit(tenant, crashed)
    findings_at_kill, _, _ = snapshot(crashed)
    assert finish(run_analyze(tenant, crashed)) == 0

    expected = snapshot(clean)
    got = snapshot(crashed)
    assert expected[0], "the input must produce findings for the comparison to mean something"
    assert len(findings_at_kill) < len(expected[0]), "killed after the run had already found everything"
    assert got[0] == expected[0]  # findings: same ids, revisions and bodies; none lost or duplicated
    assert got[2] == expected[2]  # every file's last applied position
    assert got[1] == expected[1]  # state byte for byte: the replay inflated no count


def test_killed_twice_still_converges(tenant: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean.sqlite"
    assert finish(run_analyze(tenant, clean)) == 0
    crashed = tmp_path / "crashed.sqlite"
    kill_after_first_commit(tenant, crashed)
    kill_after_first_commit(tenant, crashed)  # the second run is killed at its own first commit
    assert finish(run_analyze(tenant, crashed)) == 0
    assert snapshot(crashed) == snapshot(clean)


def test_the_out_file_of_a_resumed_run_equals_an_uninterrupted_runs(tenant: Path, tmp_path: Path) -> None:
    clean, clean_out = tmp_path / "clean.sqlite", tmp_path / "clean.jsonl"
    assert finish(run_analyze(tenant, clean, clean_out)) == 0
    crashed, crashed_out = tmp_path / "crashed.sqlite", tmp_path / "crashed.jsonl"
    kill_after_first_commit(tenant, crashed, crashed_out)
    findings_at_kill, _, _ = snapshot(crashed)
    assert findings_at_kill, "killed before any finding was committed: the resume would prove nothing"
    assert finish(run_analyze(tenant, crashed, crashed_out)) == 0
    expected = clean_out.read_bytes()
    assert expected and crashed_out.read_bytes() == expected  # the findings committed before the kill too
    # the state's own export holds the same findings
    exported = tmp_path / "exported.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "pushguard", "findings", "--state", str(crashed), "--out", str(exported)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert exported.read_bytes() == expected
    # a later run of the same inputs is a new run: it re-reads nothing and finds nothing new
    again = tmp_path / "again.jsonl"
    assert finish(run_analyze(tenant, crashed, again)) == 0
    assert again.read_bytes() == b""
