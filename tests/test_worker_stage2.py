"""The stream workers' second stage (issue 22): its lease's fencing token, checked once per commit instead
of each deleted entry; its holder's own events taken from memory instead of read back from the stream.
The yardstick stays one ``analyze``, and the stream stays the durable copy."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis

from pushguard.cli.second_stage import Deferred
from pushguard.cli.stream_worker import StreamWorker
from pushguard.store import Commit
from pushguard.store.redis import RedisStore, StateConflictError
from pushguard.store.streams import StreamBus
from tests.redis_support import REDIS_URL, client, prefix
from tests.test_worker import Expected, _assert_same_as_analyze, _drain, _worker
from tests.test_worker_batches import _ingested, tenant

pytestmark = pytest.mark.redis
__all__ = ["client", "prefix", "tenant"]  # fixtures

_decoder = msgspec.msgpack.Decoder(Deferred)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def test_a_fenced_commit_is_refused_once_another_holder_took_a_newer_token(
    client: redis.Redis, prefix: str
) -> None:
    bus = StreamBus(client, prefix)
    stream = f"{prefix}:stage2"
    ids = [_text(client.xadd(stream, {"p": b"x"})) for _ in range(5)]
    token = bus.acquire_fenced("stage2", "old", 10_000)
    assert token > 0
    assert bus.acquire_fenced("stage2", "new", 10_000) == 0, "the lease is held: no token"
    old = RedisStore(REDIS_URL, prefix, client=client)
    old.fence = (bus.fence_key("stage2"), token)
    old.pending.ops.append(("drop", stream, ids[0]))
    old.commit(Commit(states={"k": b"one"}))  # still the current token: applied, no entry checked
    assert client.xlen(stream) == 4
    client.delete(bus.lease_key("stage2"))  # the old holder's lease lapses; another takes it
    newer = bus.acquire_fenced("stage2", "new", 10_000)
    assert newer > token
    old.pending.ops.append(("drop", stream, ids[1]))
    old.pending.ops.append(("add", f"{prefix}:out", b"y"))
    with pytest.raises(StateConflictError) as caught:
        old.commit(Commit(findings=[], states={"k2": b"two"}))
    assert caught.value.conflicts == [("fence", bus.fence_key("stage2"), str(newer))]
    assert client.xlen(stream) == 4 and client.xlen(f"{prefix}:out") == 0
    assert RedisStore(REDIS_URL, prefix, client=client).load(["k2"]) == {}
    new = RedisStore(REDIS_URL, prefix, client=client)
    new.fence = (bus.fence_key("stage2"), newer)
    new.pending.ops.extend(("drop", stream, entry) for entry in ids[1:])
    new.pending.ops.append(("drop", stream, "1-1"))  # gone already: unchecked, no conflict
    new.commit(Commit())
    assert client.xlen(stream) == 0


def test_a_commit_tells_the_ids_of_the_entries_it_added(client: redis.Redis, prefix: str) -> None:
    store = RedisStore(REDIS_URL, prefix, client=client)
    for value in (b"a", b"b", b"c"):
        store.pending.ops.append(("add", f"{prefix}:x", value))
    store.pending.ops.append(("add", f"{prefix}:y", b"d"))
    store.commit(Commit())
    entries: Any = client.xrange(f"{prefix}:x")
    assert store.added[f"{prefix}:x"] == [_text(entry) for entry, _ in entries]
    assert [fields[b"p"] for _, fields in entries] == [b"a", b"b", b"c"]
    assert len(store.added[f"{prefix}:y"]) == 1


def _holder(
    client: redis.Redis, prefix: str, name: str, lease_ms: int = 5000, batch: int = 150
) -> StreamWorker:
    worker = _worker(client, prefix, name, lease_ms=lease_ms, batch=batch)
    worker._rebalance(1)
    worker._take_stage2()
    assert worker._stage2_held
    return worker


def _stream_copy(client: redis.Redis, bus: StreamBus) -> dict[str, Deferred]:
    entries: Any = client.xrange(bus.stage2)
    return {_text(entry): _decoder.decode(fields[b"p"]) for entry, fields in entries}


def test_the_holders_own_events_from_memory_equal_the_streams_copy(
    client: redis.Redis, prefix: str, tenant: Expected
) -> None:
    """Several batches committed by the second stage's holder before its second stage runs: what it keeps
    in memory is, entry by entry, what a reader of the stream decodes, though the identities' profiles
    went on changing in place after each event was queued."""
    bus = _ingested(client, prefix, tenant)
    worker = _holder(client, prefix, "holder")
    for _ in range(4):
        assert worker._stage1()
    kept = {entry_id: item for _, _, entry_id, item in worker._stage2_heap}
    assert worker.stats.stage2_cached == len(kept) > 50
    assert kept == _stream_copy(client, bus)
    _drain([worker])
    assert worker.stats.stage2_events == worker.stats.stage2_cached  # none read back
    _assert_same_as_analyze(client, prefix, tenant)


def test_the_holder_reads_the_others_entries_around_its_own(
    client: redis.Redis, prefix: str, tenant: Expected
) -> None:
    """Two workers' commits interleave on the stream: the holder reads only the other's, each once, and
    takes its own from memory."""
    _ingested(client, prefix, tenant)
    holder = _holder(client, prefix, "holder", batch=60)
    other = _worker(client, prefix, "other", batch=60)
    for _ in range(3):
        holder.bus.heartbeat("holder", 5000)
        other.step()
        holder._rebalance(2)
        holder._stage1()
    assert holder._stage2_known and other.stats.records > 0
    _drain([holder, other])
    assert 0 < holder.stats.stage2_cached < holder.stats.stage2_events
    assert other.stats.stage2_events == 0
    _assert_same_as_analyze(client, prefix, tenant)


def test_a_holder_dying_between_its_commit_and_taking_its_events_from_memory_loses_nothing(
    client: redis.Redis, prefix: str, tenant: Expected
) -> None:
    """The holder commits batches (their second-stage events in the stream and in its memory) and dies
    before its second stage takes them: the next holder reads them from the stream, each once."""
    bus = _ingested(client, prefix, tenant)
    doomed = _holder(client, prefix, "doomed", lease_ms=300)
    for _ in range(3):
        doomed._stage1()
    assert doomed._stage2_heap, "events waiting in memory when it dies"
    waiting = client.xlen(bus.stage2)
    assert waiting >= len(doomed._stage2_heap)
    survivor = _worker(client, prefix, "survivor", lease_ms=300)
    _drain([survivor])
    assert survivor.stats.stage2_events >= waiting
    _assert_same_as_analyze(client, prefix, tenant)


def test_a_holder_whose_lease_lapsed_commits_nothing_of_its_second_stage(
    client: redis.Redis, prefix: str, tenant: Expected
) -> None:
    """A long pause: the holder's second-stage lease lapses, another worker takes it (a newer token) and
    does the second stage. The old holder, not knowing yet, runs its second stage: refused as a whole
    (the fence), and every event is still taken exactly once."""
    bus = _ingested(client, prefix, tenant)
    stale = _holder(client, prefix, "stale", lease_ms=5000)
    for _ in range(3):
        stale._stage1()
    client.delete(bus.lease_key("stage2"))  # lapsed
    fresh = _worker(client, prefix, "fresh")
    fresh.bus.heartbeat("fresh", 5000)
    fresh._take_stage2()
    assert fresh._stage2()  # takes the stage and the events the stale holder committed
    assert fresh._stage2_held and fresh.stats.stage2_events > 0
    assert stale._stage2_held and stale._stage2_heap  # it has not noticed
    assert stale._stage2()
    assert stale.stats.conflicts == 1 and stale.stats.stage2_events == 0
    stale.options.lease_ms = 300
    _drain([stale, fresh])
    _assert_same_as_analyze(client, prefix, tenant)
