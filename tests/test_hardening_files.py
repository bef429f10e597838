"""What pushguard writes is its owner's only (issue 19, item 14): state database, decision log, hook
spool, collector output and checkpoint, audit log, enforcement state: files 0600, directories 0700,
whatever the umask lets others read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushguard.api.hooks import HookWorker
from pushguard.api.metrics import Metrics
from pushguard.collect import CollectedFile
from pushguard.respond.audit import AuditLog
from pushguard.respond.enforcer import EnforcementState, save_state
from pushguard.store import Commit, SqliteStore
from tests.api_env import DECIDE, running


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files 0644 unless the code says otherwise
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_database_and_its_journal_files(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    store.commit(Commit(states={"alice": b"x"}, positions={"p": "1"}))
    files = sorted(tmp_path.glob("state.sqlite*"))
    assert {p.name for p in files} >= {"state.sqlite", "state.sqlite-wal"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    store.close()


def test_the_decision_log_and_the_hook_spool(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        assert env.client.post("/v1/decide", json=DECIDE, headers=env.headers("decide")).status_code == 200
        assert env.service.decision_log is not None
        env.service.decision_log.flush()
        assert mode(Path(env.config.decision_log or "")) == 0o600
    spool = tmp_path / "spool" / "hooks"
    worker = HookWorker(env.service, Metrics(), spool, advance_every_s=0)
    worker.start()
    worker.stop()
    worker.submit(b'{"data": {"events": []}}')  # not processed: the worker is stopped
    assert mode(spool) == 0o700
    (spooled,) = spool.glob("*.json")
    assert mode(spooled) == 0o600


def test_collector_output_and_checkpoint(tmp_path: Path) -> None:
    files = CollectedFile(tmp_path / "okta.jsonl", tmp_path / "okta.jsonl.checkpoint", "okta")
    files.append([b'{"uuid": "1"}'])
    files.commit("okta.logs", "cursor", 1)
    files.close()
    assert mode(tmp_path / "okta.jsonl") == 0o600
    assert mode(tmp_path / "okta.jsonl.checkpoint") == 0o600


def test_audit_log_and_enforcement_state(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit" / "audit.jsonl").append({"kind": "action"})
    assert mode(tmp_path / "audit") == 0o700
    assert mode(tmp_path / "audit" / "audit.jsonl") == 0o600
    save_state(tmp_path / "enforce" / "state.json", EnforcementState())
    assert mode(tmp_path / "enforce" / "state.json") == 0o600
