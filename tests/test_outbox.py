"""The closed loop's outbox: committed with the findings in every store, applied once, retried with
backoff on vendor errors (Retry-After honoured), given up after N and reported; a worker killed between
the vendor's change and the acknowledgement does not apply it twice (a real process, killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from pushguard.decide.closed_loop import plan_for_finding
from pushguard.decide.enforce import enforcement_config
from pushguard.model import ControlIntent
from pushguard.respond.audit import AuditLog
from pushguard.respond.credentials import build_responder
from pushguard.respond.enforcer import Enforcer, load_state
from pushguard.respond.outbox import OutboxApplier, decode_entry, outbox_entries
from pushguard.store import Commit, MemoryStore, SqliteStore, StateStore
from pushguard.store.redis import RedisStore, StateConflictError
from tests.enforce_fakes import FakeIdp, Seen
from tests.http_fakes import Reply
from tests.redis_support import REDIS_URL, client, prefix  # noqa: F401 (fixtures)
from tests.test_closed_loop import finding

NOW = datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
GROUP = "00g-phr"
ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def intent() -> ControlIntent:
    config = enforcement_config({"okta": {"groups": {"step_up": GROUP}}, "dry_run": False})
    (planned,) = plan_for_finding(finding(), config).intents
    return planned


@pytest.fixture
def okta() -> Iterator[FakeIdp]:
    fake = FakeIdp("okta")
    yield fake
    fake.close()


def applier(tmp_path: Path, store: StateStore, fake: FakeIdp, clock: Clock, **kw: object) -> OutboxApplier:
    state = tmp_path / "enforcement.json"
    enforcer = Enforcer(
        AuditLog(tmp_path / "audit.jsonl"),
        execute=True,
        state=load_state(state),
        state_path=state,
        responders=lambda vendor: build_responder(vendor, fake.env(), max_attempts=1),
        clock=clock,
    )
    return OutboxApplier(store, enforcer, clock=clock, **kw)  # type: ignore[arg-type]


def puts(fake: FakeIdp) -> list[str]:
    return [c for c in fake.calls() if c.startswith("PUT ")]


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_the_outbox_is_committed_with_the_findings_and_a_replay_does_not_reopen_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: StateStore
    if kind == "memory":
        store = MemoryStore()
    elif kind == "sqlite":
        store = SqliteStore(tmp_path / "s.sqlite")
    else:
        store = RedisStore(
            REDIS_URL, request.getfixturevalue("prefix"), client=request.getfixturevalue("client")
        )
    planned = intent()
    store.commit(Commit(findings=[finding()], outbox=outbox_entries([planned], NOW)))
    (key, blob), *rest = store.outbox_open()
    assert rest == [] and key == planned.key and decode_entry(blob).state == "pending"
    closed = msgspec.json.encode(msgspec.structs.replace(decode_entry(blob), state="done"))
    store.outbox_update(key, closed, closed=True)
    store.commit(Commit(findings=[finding(revision=2)], outbox=outbox_entries([planned], NOW)))  # a replay
    assert store.outbox_open() == []
    assert decode_entry(store.outbox_entry(key) or b"").state == "done"
    store.close()


def test_a_redis_commit_that_loses_its_race_writes_neither_findings_nor_intents(
    client: redis.Redis,  # noqa: F811 (fixture)
    prefix: str,  # noqa: F811 (fixture)
) -> None:
    # The outbox is written by the same script as the findings: a worker whose commit is refused (another
    # worker moved the state on) must not leave intents behind for findings that were never stored.
    mine = RedisStore(REDIS_URL, prefix, client=client)
    theirs = RedisStore(REDIS_URL, prefix, client=client)
    assert mine.load(["u:victim"]) == {} and theirs.load(["u:victim"]) == {}
    theirs.commit(Commit(states={"u:victim": b"theirs"}))
    with pytest.raises(StateConflictError):
        mine.commit(
            Commit(states={"u:victim": b"mine"}, findings=[finding()], outbox=outbox_entries([intent()], NOW))
        )
    assert mine.outbox_open() == [] and mine.findings() == []
    # killed right after the commit script returns: the findings and their intents are both stored
    real = mine._commit

    def commit_then_die(**given: Any) -> Any:
        real(**given)
        raise SystemExit("killed right after the commit script")

    mine._commit = commit_then_die  # type: ignore[assignment]
    mine.load(["u:victim"])
    with pytest.raises(SystemExit):
        mine.commit(
            Commit(states={"u:victim": b"mine"}, findings=[finding()], outbox=outbox_entries([intent()], NOW))
        )
    after = RedisStore(REDIS_URL, prefix, client=client)
    ((key, _),) = after.outbox_open()
    assert key == intent().key and len(after.findings()) == 1


def test_vendor_errors_are_retried_with_backoff_honouring_retry_after(tmp_path: Path, okta: FakeIdp) -> None:
    store, clock = MemoryStore(), Clock()
    store.commit(Commit(outbox=outbox_entries([intent()], NOW)))
    okta.faults = [
        Reply(503, {"errorSummary": "busy"}),
        Reply(429, {"errorSummary": "slow down"}, {"Retry-After": "40"}),
    ]
    run = applier(tmp_path, store, okta, clock)
    assert run.run_once() == []  # GET user → 503: retry in 2 s
    ((_, blob),) = store.outbox_open()
    assert decode_entry(blob).next_try_at == "2026-03-02T09:02:02.000Z"
    clock.at = NOW + timedelta(seconds=1)
    assert run.run_once() == [] and len(okta.seen) == 1  # not due yet: nothing sent
    clock.at = NOW + timedelta(seconds=2)
    assert run.run_once() == []  # 429 asking for 40 s, more than the 4 s backoff
    ((_, blob),) = store.outbox_open()
    assert decode_entry(blob).next_try_at == "2026-03-02T09:02:42.000Z"
    clock.at = NOW + timedelta(seconds=42)
    (done,) = run.run_once()
    assert (done.outcome, done.attempts, done.time_to_control_s) == ("performed", 3, 42 + 40.0)
    assert puts(okta) == [f"PUT /api/v1/groups/{GROUP}/users/{okta.user_id}"]
    assert okta.user_id in okta.members[GROUP]


def test_after_n_attempts_it_gives_up_and_reports(tmp_path: Path, okta: FakeIdp) -> None:
    store, clock = MemoryStore(), Clock()
    store.commit(Commit(outbox=outbox_entries([intent()], NOW)))
    okta.faults = [Reply(502, {"errorSummary": "bad gateway"})] * 3
    run = applier(tmp_path, store, okta, clock, max_attempts=3)
    closed = []
    for second in (0, 2, 6):
        clock.at = NOW + timedelta(seconds=second)
        closed += run.run_once()
    (failed,) = closed
    assert failed.state == "failed" and failed.detail.startswith("given up after 3 attempts")
    assert store.outbox_open() == [] and okta.user_id not in okta.members.get(GROUP, set())
    audit = (tmp_path / "audit.jsonl").read_text()
    assert audit.count('"outcome":"failed"') == 3  # every attempt audited


def test_an_intent_left_sending_is_read_back_at_the_vendor_before_it_is_sent(
    tmp_path: Path, okta: FakeIdp
) -> None:
    """A process that died after the vendor's change and before writing anything of its own."""
    store, clock = MemoryStore(), Clock()
    planned = intent()
    store.commit(Commit(outbox=outbox_entries([planned], NOW)))
    ((key, blob),) = store.outbox_open()
    sending = msgspec.structs.replace(decode_entry(blob), state="sending", attempts=1)
    store.outbox_update(key, msgspec.json.encode(sending), closed=False)
    okta.members[GROUP] = {okta.user_id}  # the change the dead process made
    (done,) = applier(tmp_path, store, okta, clock).run_once()
    assert done.outcome == "performed" and "already in place at okta: not sent again" in done.detail
    assert puts(okta) == [] and f"GET /api/v1/users/{okta.user_id}/groups" in okta.calls()
    okta.members[GROUP] = set()  # not in place: a read-back "no" sends it
    store.commit(Commit(outbox=outbox_entries([msgspec.structs.replace(planned, key="k2")], NOW)))
    ((k2, blob2),) = store.outbox_open()
    store.outbox_update(
        k2, msgspec.json.encode(msgspec.structs.replace(decode_entry(blob2), state="sending")), closed=False
    )
    applier(tmp_path, store, okta, clock).run_once()
    assert len(puts(okta)) == 1


def _child(tmp_path: Path, fake: FakeIdp, mode: str) -> subprocess.Popen[bytes]:
    args = [str(tmp_path / "state.sqlite"), str(tmp_path / "enforcement.json"), str(tmp_path / "audit.jsonl")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.outbox_child", *args, fake.url, mode], cwd=ROOT, env=env
    )


@pytest.mark.parametrize("kill", ["killed-before-the-answer", "exit-after-send"])
def test_a_worker_killed_mid_enforcement_applies_each_intent_exactly_once(
    tmp_path: Path, okta: FakeIdp, kill: str
) -> None:
    """Two kill points: SIGKILL while the vendor applies the change (the worker never hears the answer,
    writes neither audit nor state), and an exit once the state is saved but the outbox not acknowledged.
    Two intents (two findings): the second must be applied by the restarted worker, once."""
    store = SqliteStore(tmp_path / "state.sqlite")
    first = intent()
    second = msgspec.structs.replace(first, key="second-finding-key", group_id="00g-other")
    store.commit(Commit(findings=[finding()], outbox=outbox_entries([first, second], NOW)))
    store.close()
    started: list[int] = []  # the worker's pid, known before any request can reach the fake
    ready = threading.Event()

    def kill_on_put(seen: Seen) -> None:
        if seen.method == "PUT" and ready.wait(30):
            os.kill(started[0], signal.SIGKILL)

    if kill.startswith("killed"):
        okta.on_request = kill_on_put  # the vendor applied the change; the worker never hears of it
    child = _child(tmp_path, okta, "run" if kill.startswith("killed") else kill)
    started.append(child.pid)
    ready.set()
    assert child.wait(timeout=60) in (-signal.SIGKILL, 9)
    okta.on_request = None
    assert len(puts(okta)) == 1  # the first intent reached the vendor, the worker died
    restarted = _child(tmp_path, okta, "run")
    assert restarted.wait(timeout=60) == 0
    store = SqliteStore(tmp_path / "state.sqlite")
    assert store.outbox_open() == []
    entries = {k: decode_entry(store.outbox_entry(k) or b"") for k in (first.key, second.key)}
    assert {e.outcome for e in entries.values()} == {"performed"}
    assert "not sent again" in entries[first.key].detail
    assert sorted(puts(okta)) == sorted(
        f"PUT /api/v1/groups/{g}/users/{okta.user_id}" for g in (GROUP, "00g-other")
    )  # each intent applied exactly once
    state = load_state(tmp_path / "enforcement.json")
    assert set(state.applied) >= {second.key}
    store.close()
