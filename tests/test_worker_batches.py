"""The stream workers' batching (issue 22): a whole batch read ahead and committed in one script, states
kept decoded between batches, a batch cut at a third of the lease, the second stage's holder taking a
smaller share, records read with their vendor's typed decoder. The yardstick stays one ``analyze``."""

from __future__ import annotations

import itertools
import time
from typing import Any, cast

import msgspec
import pytest
import redis

from pushguard.cli.stream_worker import StreamWorker
from pushguard.flow import Flow, parse_line, parse_record
from pushguard.model import RawRef
from pushguard.publish import ingest
from pushguard.simulate.scenario import simulate
from pushguard.store.redis import RedisStore
from pushguard.store.streams import StreamBus
from tests.redis_support import client, prefix
from tests.test_worker import Expected, _assert_same_as_analyze, _drain, _expected, _worker

pytestmark = pytest.mark.redis
__all__ = ["client", "prefix"]  # fixtures


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    logs = tmp_path_factory.mktemp("tenant-batches")
    simulate(4, 60, 3, logs)
    expected = _expected(logs)
    assert len(expected.findings) > 10, "the tenant must give findings for these tests to mean something"
    return expected


def _ingested(client: redis.Redis, prefix: str, tenant: Expected, partitions: int = 4) -> StreamBus:
    bus = StreamBus(client, prefix)
    bus.open(partitions)
    ingest([tenant.logs], bus)
    return bus


def test_a_worker_dying_between_its_reads_and_its_commit_loses_and_duplicates_nothing(
    client: redis.Redis, prefix: str, tenant: Expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's states are read (one round trip), its records processed, and the worker dies before
    the commit script runs: nothing of the batch is in Redis, its records are still pending for the dead
    worker, and the next owner processes each of them once."""
    _ingested(client, prefix, tenant)
    doomed = _worker(client, prefix, "doomed", lease_ms=300)
    doomed.step()  # a first batch committed: states in Redis for the next one to read
    store: Any = doomed._store
    loaded: list[int] = []
    real_prefetch = store.prefetch

    def prefetch(keys: Any) -> None:
        wanted = list(keys)
        loaded.append(len(wanted))
        real_prefetch(wanted)

    def die(_batch: Any) -> None:
        raise SystemExit("killed between load and commit")

    monkeypatch.setattr(store, "prefetch", prefetch)
    monkeypatch.setattr(store, "commit", die)
    monkeypatch.setattr(doomed.options, "batch", 10_000)
    with pytest.raises(SystemExit):
        doomed.step()  # the first batch went through before the patches: this one dies at its commit
    assert loaded, "the batch read its states before it died"
    bus = StreamBus(client, prefix)
    bus.open(None)
    pending = sum(bus.pending_count(stream) for stream in bus.streams())
    assert pending > 0
    survivor = _worker(client, prefix, "survivor", lease_ms=300)
    _drain([survivor])
    assert survivor.stats.reclaimed >= pending
    assert survivor.stats.replayed == 0  # none of the dead batch had been committed
    _assert_same_as_analyze(client, prefix, tenant)


def test_states_kept_between_batches_are_not_used_after_another_worker_changed_them(
    client: redis.Redis, prefix: str, tenant: Expected
) -> None:
    """A worker keeps the states of its partitions decoded between batches and reads ahead only the
    others. When another worker took its partitions meanwhile and committed newer states, the first
    one's next commit is refused (versions), it drops what it kept, and nothing is lost or doubled."""
    bus = _ingested(client, prefix, tenant, partitions=2)
    first = _worker(client, prefix, "first", lease_ms=200, batch=60)
    first.step()
    kept = [key for key in RedisStore("", prefix, client=client).state_keys() if first._engine.cached(key)]
    assert kept, "the first batch's states stay decoded"
    # its leases lapse (a long pause); another worker takes the partitions and moves on
    for stream in bus.streams():
        client.delete(bus.lease_key(stream))
    bus.leave("first")
    second = _worker(client, prefix, "second", lease_ms=5000, batch=60)
    for _ in range(3):
        second.step()
    assert second.held == set(bus.streams())
    # the first worker has not noticed yet: it reads on with its kept states, its commit is refused
    first._stage1()
    assert first.stats.conflicts == 1
    assert not any(first._engine.cached(key) for key in kept), "what it kept was dropped"
    second.options.lease_ms = 200
    _drain([first, second])
    _assert_same_as_analyze(client, prefix, tenant)


def test_a_batch_longer_than_a_third_of_the_lease_commits_what_it_did_and_keeps_the_rest(
    client: redis.Redis, prefix: str, tenant: Expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ingested(client, prefix, tenant)
    worker = _worker(client, prefix, "slow", lease_ms=3000, batch=100_000)
    clock = itertools.count(0.0, 0.6)  # each look at the clock 0.6 s later: a slow machine
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))  # the module the worker reads
    worker.step()
    read = worker.stats.records + len(worker._backlog)
    assert 0 < worker.stats.records < read, "committed part of the batch, kept the rest"
    monkeypatch.undo()
    _drain([worker])
    _assert_same_as_analyze(client, prefix, tenant)


@pytest.mark.parametrize("partitions", [1, 2, 3, 8, 16])
@pytest.mark.parametrize("live", [1, 2, 3, 5])
def test_the_partitions_shared_out_cover_them_all_and_the_second_stage_holder_takes_fewer(
    partitions: int, live: int
) -> None:
    holder = StreamWorker._share(partitions, live, True)
    other = StreamWorker._share(partitions, live, False)
    assert holder + (live - 1) * other >= partitions
    assert holder >= 1
    if live == 1:
        assert holder == other == partitions
    elif partitions >= 2 * live:
        assert holder < other


def test_typed_reading_of_an_entry_gives_what_the_plain_reading_does(tenant: Expected) -> None:
    """The worker reads a record with the typed decoder of the vendor ingest tagged it with: the same
    events as reading it into a dict, for every record of the tenant."""
    flow = Flow()
    typed = 0
    for path in sorted(tenant.logs.rglob("*.jsonl")):
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            record = msgspec.json.decode(line)
            ref = RawRef(source=str(path), position=number)
            plain = parse_record(record, ref, None, flow.aliases)
            vendor = plain.events[0].provider.value if plain.events else ""
            fast = parse_line(msgspec.json.encode(record), vendor, ref, None, flow.aliases)
            if fast is not None:
                typed += 1
                assert (fast.events, fast.unmapped, fast.error) == (plain.events, plain.unmapped, plain.error)
    assert typed > 100, "the tenant's Okta and Entra records go the typed way"


def _entries(
    client: redis.Redis, stream: str, count: int | None = None
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = cast(Any, client.xrange(stream, count=count))
    return entries


def test_entries_of_an_older_ingest_without_a_vendor_are_read_the_plain_way(
    client: redis.Redis, prefix: str, tenant: Expected
) -> None:
    bus = _ingested(client, prefix, tenant)
    for stream in bus.streams():  # rewrite every entry as an ingest before the v field wrote it
        entries: Any = client.xrange(stream)
        client.delete(stream)
        for _, fields in entries:
            client.xadd(stream, {b"r": fields[b"r"], b"q": fields[b"q"]})
    bus.open(None)
    assert all(b"v" not in f for s in bus.streams() for _, f in _entries(client, s, count=5))
    worker = _worker(client, prefix, "old")
    _drain([worker])
    _assert_same_as_analyze(client, prefix, tenant)


def test_ingest_tags_entries_with_their_vendor(client: redis.Redis, prefix: str, tenant: Expected) -> None:
    bus = _ingested(client, prefix, tenant)
    vendors = {f[b"v"] for s in bus.streams() for _, f in _entries(client, s)}
    assert vendors <= {b"okta", b"entra", b"duo"} and {b"okta", b"entra"} <= vendors
