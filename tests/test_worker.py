"""``pushguard ingest`` and ``pushguard worker`` against the real Redis server: partitioning, dead letters,
two workers, a worker killed with SIGKILL mid-stream, reclaimed pending records, duplicates. The yardstick
is always one ``analyze`` of the same input: the same findings (none lost, none duplicated) and the same
state for every identity."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
import typer
from typer.testing import CliRunner

from pushguard.cli import worker
from pushguard.cli.stream_worker import StreamWorker, WorkerOptions
from pushguard.detect.org import ORG_STATE_KEY, OrgTable
from pushguard.enrich import build_enrichers
from pushguard.enrich.resolver import IdentityResolver
from pushguard.flow import Flow, analyze
from pushguard.publish import ingest
from pushguard.simulate.scenario import simulate
from pushguard.store import MemoryStore
from pushguard.store.redis import DEFAULT_TTL_S, RedisStore
from pushguard.store.streams import GROUP, PROGRESS, StreamBus
from tests.redis_support import REDIS_URL, client, prefix

pytestmark = pytest.mark.redis
__all__ = ["client", "prefix"]  # fixtures

ROOT = Path(__file__).resolve().parents[1]


class Expected(msgspec.Struct):
    logs: Path
    findings: set[tuple[str, int]]
    states: dict[str, bytes]


def _expected(logs: Path) -> Expected:
    """One analyze of the logs. The organisation's table is left out of these comparisons (no learning
    on either side): workers share it at their commits, so an office network that becomes known to the
    organisation during the run is known to one worker a commit after the other, where one process knows
    it at once. ``test_workers_share_what_the_organisation_learns`` checks the table itself."""
    store = MemoryStore()
    # the stream workers do not link accounts from the records' fields (enrich.resolver): the analyze
    # they equal is the one that does not either
    result = analyze([logs], store=store, org_learns=False, resolver=IdentityResolver(vendor_fields=False))
    return Expected(
        logs, {(f.id, f.revision) for f in result.findings}, store.load(sorted(store.state_keys()))
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    logs = tmp_path_factory.mktemp("tenant-small")
    simulate(3, 60, 3, logs)
    expected = _expected(logs)
    assert len(expected.findings) > 10, "the tenant must give findings for these tests to mean something"
    return expected


def _worker(
    client: redis.Redis,
    prefix: str,
    name: str,
    lease_ms: int = 5000,
    batch: int = 500,
    org_learns: bool = False,
) -> StreamWorker:
    options = WorkerOptions(
        name=name,
        flow=Flow(),
        enrichers=build_enrichers(),
        lease_ms=lease_ms,
        block_ms=5,
        batch=batch,
        org_learns=org_learns,
    )
    worker = StreamWorker(client, prefix, options)
    worker.bus.open(None)
    return worker


def _drain(workers: list[StreamWorker], limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        busy = [worker.step() for worker in workers]
        if not any(busy) and workers[0].finished():
            for worker in workers:
                worker.stop()
            return
    raise AssertionError("the workers did not finish")


def _assert_same_as_analyze(client: redis.Redis, prefix: str, expected: Expected) -> None:
    store = RedisStore(REDIS_URL, prefix, client=client)
    found = {(f.id, f.revision) for f in store.findings()}
    assert found - expected.findings == set(), "findings analyze does not give"
    assert expected.findings - found == set(), "findings lost"
    states = store.load(sorted(store.state_keys()))
    assert states.keys() == expected.states.keys()
    different = [key for key in states if states[key] != expected.states[key]]
    assert different == [], f"state differs from analyze for {different[:5]}"
    bus = StreamBus(client, prefix)
    bus.open(None)
    assert all(bus.pending_count(stream) == 0 for stream in bus.streams())
    assert client.xlen(bus.stage2) == 0
    assert bus.frontier()[1], "records left unprocessed"


def _break(logs: Path) -> Path:
    """A copy of the logs with a line that is not JSON and an Okta record without its time."""
    broken = logs.parent / (logs.name + "-broken")
    shutil.copytree(logs, broken)
    okta = broken / "okta" / "system-log.jsonl"
    first = json.loads(okta.read_text().splitlines()[0])
    del first["published"]
    with okta.open("a") as handle:
        handle.write("{not json\n")
        handle.write(json.dumps(first) + "\n")
    return broken


def test_ingest_partitions_by_identity_in_time_order_and_dead_letters_bad_records(
    client: redis.Redis, prefix: str, small: Expected
) -> None:
    logs = _break(small.logs)
    bus = StreamBus(client, prefix)
    assert bus.open(4) == 4
    stats = ingest([logs], bus)
    assert stats.dead == 2
    assert stats.published + stats.dead + sum(stats.run.unmapped.values()) == stats.run.records
    dead = bus.dead_letters()
    lines = len((logs / "okta" / "system-log.jsonl").read_text().splitlines())
    assert [d.where.rsplit(":", 1)[1] for d in dead] == [str(lines - 1), str(lines)]
    assert "published: missing" in dead[1].reason and dead[1].record is not None
    assert "okta/system-log.jsonl" in dead[0].where
    seen: dict[str, str] = {}
    total = 0
    for stream in bus.streams():
        entries: Any = client.xrange(stream)
        sequences = [int(fields[b"q"]) for _, fields in entries]
        assert sequences == sorted(sequences)
        total += len(entries)
        for _, fields in entries:
            record = json.loads(fields[b"r"])
            who = str((record.get("actor") or {}).get("alternateId") or record.get("userPrincipalName") or "")
            if who and "@" in who and record.get("eventType", "").startswith("system.push"):
                assert seen.setdefault(who.lower(), stream) == stream, f"{who} on two partitions"
    assert total == stats.published
    with pytest.raises(Exception, match="have 4 partitions, not 8"):
        StreamBus(client, prefix).open(8)


def test_two_workers_give_the_findings_and_state_of_one_analyze(
    client: redis.Redis, prefix: str, small: Expected
) -> None:
    bus = StreamBus(client, prefix)
    bus.open(6)
    published = ingest([small.logs], bus).published
    first, second = _worker(client, prefix, "w1"), _worker(client, prefix, "w2")
    _drain([first, second])
    assert first.stats.records > 0 and second.stats.records > 0, "both workers must take part"
    assert first.stats.records + second.stats.records == published
    assert sum(client.xlen(stream) for stream in bus.streams()) == 0  # done work leaves the streams
    assert first.stats.advances + second.stats.advances == 1
    _assert_same_as_analyze(client, prefix, small)
    store = RedisStore(REDIS_URL, prefix, client=client)
    ttls = {store.ttl(key) for key in store.state_keys()}
    assert all(DEFAULT_TTL_S - 600 < ttl <= DEFAULT_TTL_S for ttl in ttls)  # every state expires unless used


def test_workers_share_what_the_organisation_learns(
    client: redis.Redis, prefix: str, small: Expected
) -> None:
    """Each worker learns from its own identities; their tables merge in the store into the one a single
    analyze learns (the same networks, each established by the same people at the same moment)."""
    bus = StreamBus(client, prefix)
    bus.open(6)
    ingest([small.logs], bus)
    first, second = (
        _worker(client, prefix, "w1", org_learns=True),
        _worker(client, prefix, "w2", org_learns=True),
    )
    _drain([first, second])
    store = RedisStore(REDIS_URL, prefix, client=client)
    shared = msgspec.msgpack.decode(store.load([ORG_STATE_KEY])[ORG_STATE_KEY], type=OrgTable)
    alone = MemoryStore()
    analyze([small.logs], store=alone, commit_every=10**9, resolver=IdentityResolver(vendor_fields=False))
    engine_table = msgspec.msgpack.decode(alone.load([ORG_STATE_KEY])[ORG_STATE_KEY], type=OrgTable)
    assert shared.entries == engine_table.entries
    assert any(entry.established for entry in shared.entries.values()), "the tenant must teach something"


def test_pending_records_of_a_dead_worker_are_reclaimed_and_processed_once(
    client: redis.Redis, prefix: str, small: Expected
) -> None:
    bus = StreamBus(client, prefix)
    bus.open(3)
    ingest([small.logs], bus)
    doomed = _worker(client, prefix, "doomed", lease_ms=300, batch=40)
    doomed.step()  # takes every partition, commits a batch
    delivered = bus.read("doomed", sorted(doomed.held), 40, None)  # ...reads the next, and dies
    assert delivered
    pending = sum(bus.pending_count(stream) for stream in bus.streams())
    assert pending == len(delivered)
    survivor = _worker(client, prefix, "survivor", lease_ms=300)
    _drain([survivor])
    assert survivor.stats.reclaimed == pending
    assert survivor.stats.replayed == 0  # none of them had been committed: each is processed once
    _assert_same_as_analyze(client, prefix, small)


def test_the_same_records_twice_give_no_second_finding(
    client: redis.Redis, prefix: str, small: Expected
) -> None:
    bus = StreamBus(client, prefix)
    bus.open(4)
    ingest([small.logs], bus)
    ingest([small.logs], bus)  # a collector that re-sent everything
    worker = _worker(client, prefix, "w1")
    _drain([worker])
    found = RedisStore(REDIS_URL, prefix, client=client).findings()
    assert {(f.id, f.revision) for f in found} == small.findings
    assert len({f.id for f in found}) == len(found)


def test_a_record_the_worker_cannot_use_is_dead_lettered_and_the_rest_goes_on(
    client: redis.Redis, prefix: str, small: Expected
) -> None:
    bus = StreamBus(client, prefix)
    bus.open(2)
    stream = bus.streams()[0]
    bad: Any = client.xadd(stream, {"r": b"[1, 2", "q": 1})
    client.hset(f"{prefix}:ingested", stream, 1)
    ingest([small.logs], bus)
    worker = _worker(client, prefix, "w1")
    _drain([worker])
    assert worker.stats.dead == 1
    (letter,) = bus.dead_letters()
    assert letter.where == f"{stream}#{bad.decode()}" and "not a JSON object" in letter.reason
    assert letter.record == "[1, 2"
    _assert_same_as_analyze(client, prefix, small)


# -- real processes --------------------------------------------------------------------------------


def _pushguard(*args: str) -> list[str]:
    return [sys.executable, "-m", "pushguard", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "REDIS_URL": REDIS_URL, "PYTHONPATH": str(ROOT / "src")}


def test_a_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
    client: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    logs = tmp_path / "tenant"
    simulate(5, 150, 4, logs)
    expected = _expected(logs)
    done = subprocess.run(
        _pushguard("ingest", str(logs), "--prefix", prefix, "--partitions", "4"),
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "put on 4 partitions" in done.stderr
    common = (
        *("--prefix", prefix, "--drain", "--lease-ms", "1000", "--batch", "25", "--stats-json"),
        "--no-org-learning",  # as in _expected: the table itself is checked on its own
    )
    victim = subprocess.Popen(_pushguard("worker", "--name", "victim", *common), env=_env())
    survivor = subprocess.Popen(
        _pushguard("worker", "--name", "survivor", *common), env=_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        streams = [f"{prefix}:in:{i}" for i in range(4)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill it while it holds records it has not committed
            committed = client.hlen(f"{prefix}:pos")
            holding = sum(
                len(client.xpending_range(s, GROUP, "-", "+", 1000, consumername="victim")) for s in streams
            )
            if committed and holding:
                break
            time.sleep(0.002)
        else:
            raise AssertionError("the victim never held uncommitted records")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        out, _ = survivor.communicate(timeout=120)
    finally:
        for process in (victim, survivor):
            if process.poll() is None:
                process.kill()
                process.wait()
    assert survivor.returncode == 0
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["reclaimed"] > 0, "the victim's pending records must be taken over"
    _assert_same_as_analyze(client, prefix, expected)
    positions: Any = client.hgetall(f"{prefix}:pos")
    assert len([key for key in positions if key.startswith(PROGRESS.encode())]) == 4


def test_the_commands_name_what_is_wrong(prefix: str, tmp_path: Path) -> None:
    app = typer.Typer()
    worker.register(app)
    runner = CliRunner()
    unreachable = runner.invoke(app, ["worker", "--redis-url", "redis://127.0.0.1:1/0", "--drain"])
    assert unreachable.exit_code == 2
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in unreachable.output
    missing = runner.invoke(
        app, ["ingest", str(tmp_path / "nope"), "--redis-url", REDIS_URL, "--prefix", prefix]
    )
    assert missing.exit_code == 2
    assert "nope: no such file or directory" in missing.output
