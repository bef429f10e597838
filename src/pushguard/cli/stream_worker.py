"""``pushguard worker``: the pipeline's Engine over the partition streams, with state in Redis.

Three duties, each done by whoever holds its lease (``store.streams``), checked on every turn of the loop:

1. partitions: records of the leased partition streams → per-identity detectors. Events the IP/ASN-keyed
   detectors would look at leave for the ``stage2`` stream with the profile as it is at that moment
   (as ``analyze --jobs`` does), in the same commit as the state, the findings, the replay-guard
   position, the partition's progress mark and the acknowledgement of the records.
2. stage2 (one worker): those events through the keyed detectors in global ingest order: an event is
   taken only once every partition has finished every record ingested before it (the progress marks),
   and deleted from the stream in the commit of its effect. The lease comes with a fencing token that
   every commit of the second stage checks: a holder whose lease lapsed commits nothing. Its holder
   takes the events its own first stage queued from memory (the commit tells their entry ids), and reads
   only the others' from the stream; the stream stays the durable copy.
3. advance (when everything ingested is processed): silence speaks for every state at the highest event
   time ingested, as at the end of ``analyze``.

So the findings equal those of one ``analyze`` over the same input, whatever the number of workers and
whenever one dies (tested with SIGKILL)."""

from __future__ import annotations

import heapq
import math
import sys
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
import redis

from pushguard.api.closed_loop import ClosedLoop
from pushguard.cli.second_stage import Deferred, QueueSecondStage, deferred_decoder
from pushguard.flow import KEYED_PREFIX, MAX_ERRORS_KEPT, Engine, Enricher, Flow, parse_line, parse_record
from pushguard.model import Event, RawRef
from pushguard.store.redis import DEFAULT_TTL_S, RedisStore, StateConflictError
from pushguard.store.streams import (
    GROUP,
    PROGRESS,
    Entry,
    StreamBus,
    dead_letter_payload,
    progress_mark,
    sortable_id,
)

_record_decoder = msgspec.json.Decoder(dict[str, Any])
_NEVER = sys.maxsize  # the worker commits itself, once per batch
E = TypeVar("E", bound=Engine)


@dataclass
class _Parsed:
    entry: Entry
    events: list[Event] = field(default_factory=list)
    error: str | None = None
    unmapped: str | None = None


@dataclass
class WorkerOptions:
    name: str
    flow: Flow = field(default_factory=Flow)  # detectors, alias map, provider, the organisation's networks
    # Records per read and commit, shared out over the partitions held. A commit writes every state the
    # batch touched (encoded, compressed): its cost is per identity, so a batch of a few thousand records
    # pays it once for several records of each; larger ones gained nothing for one worker and slowed
    # two (partitions change hands only between batches). A batch commits within a third of the lease
    # whatever its size (the rest waits for the next turn).
    batch: int = 5_000
    block_ms: int = 200  # how long a read waits for new records
    lease_ms: int = 10_000  # a dead worker's partitions move after this long
    state_ttl_s: int = DEFAULT_TTL_S  # a state unused this long expires (0: never)
    drain: bool = False  # exit once everything ingested is processed and advanced
    enrichers: Sequence[Enricher] = ()  # the flow's chain, opened (and closed) by the caller
    org_learns: bool = True  # extend the organisation's table (shared through the store at commits)
    # The closed loop (api.closed_loop): findings planned into the outbox with their commit; the worker
    # holding the "enforce" lease applies it after each turn.
    closed_loop: ClosedLoop | None = None


@dataclass
class WorkerStats:
    records: int = 0
    events: int = 0
    findings: int = 0  # findings (revisions) committed by this worker
    dead: int = 0
    unmapped: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    reclaimed: int = 0  # pending entries taken over from a dead (or earlier) owner
    conflicts: int = 0
    stage2_events: int = 0
    stage2_cached: int = 0  # second-stage events this worker queued and took from memory, not the stream
    advances: int = 0
    enforced: int = 0  # closed-loop intents closed (applied, planned in a dry run, failed)
    error_samples: list[str] = field(default_factory=list)


class StreamWorker:
    def __init__(self, client: redis.Redis, prefix: str, options: WorkerOptions) -> None:
        self.client = client
        self.prefix = prefix
        self.options = options
        self.bus = StreamBus(client, prefix)
        self.stats = WorkerStats()
        self.held: set[str] = set()
        self._recover: set[str] = set()
        self._backlog: list[_Parsed] = []  # read (pending for this worker) but left for the next commit
        self._store = self._new_store()
        self._engine = self._new_engine()
        self._stage2_held = False
        self._stage2_store = RedisStore("", prefix, ttl_s=options.state_ttl_s, client=client)
        self._stage2_engine = self._hooked(options.flow.engine(self._stage2_store, commit_every=_NEVER))
        # (sequence, event index, entry id, event): decoded once, when read
        self._stage2_heap: list[tuple[int, int, str, Deferred]] = []
        self._stage2_cursor = "-"
        # (first, last) entry ids of this worker's own commits to the stage2 stream whose events went to
        # the heap from memory, oldest first: the reads skip them (one script's entries are contiguous)
        self._stage2_known: deque[tuple[str, str]] = deque()

    def _new_store(self) -> RedisStore:
        store = RedisStore("", self.prefix, ttl_s=self.options.state_ttl_s, client=self.client)
        store.pending.group, store.pending.consumer = GROUP, self.options.name
        return store

    def _new_engine(self) -> Engine:
        # What the organisation learns is merged into the stored table at each commit (and the merged
        # table read back): workers share it, a commit late (a one-process run sees it at once).
        self._queue = QueueSecondStage(self._store, self.bus.stage2)
        return self._hooked(
            self.options.flow.engine(
                self._store, commit_every=_NEVER, org_learns=self.options.org_learns, second_stage=self._queue
            )
        )

    def _hooked(self, engine: E) -> E:
        """The engine with the closed loop's outbox hook, when there is one."""
        loop = self.options.closed_loop
        if loop is not None:
            engine.outbox = loop.outbox_for
        return engine

    def _enforce(self) -> bool:
        """Apply the outbox when this worker holds the enforce lease (one worker at a time)."""
        loop = self.options.closed_loop
        if loop is None or not self.bus.acquire("enforce", self.options.name, self.options.lease_ms):
            return False
        try:
            closed = loop.run()
        finally:
            self.bus.release("enforce", self.options.name)
        self.stats.enforced += len(closed)
        return bool(closed)

    # -- the loop ----------------------------------------------------------------------------------

    def run(self, partitions: int | None = None, should_stop: Callable[[], bool] = lambda: False) -> None:
        self.bus.open(partitions)
        try:
            while not should_stop():
                busy = self.step()
                if not busy and self.options.drain and self.finished():
                    return
        finally:
            self.stop()

    def step(self) -> bool:
        """One turn: ownership, a batch of records, a stage2 batch, the advance when idle. Busy or not."""
        live = self.bus.heartbeat(self.options.name, self.options.lease_ms)
        self._rebalance(live)
        self._take_stage2()  # before the batch: the holder's own events of it go to the heap from memory
        busy = self._stage1()
        busy = self._stage2() or busy
        if not busy:
            busy = self._advance()
        return self._enforce() or busy

    def finished(self) -> bool:
        """Everything ingested is processed by both stages and silence has spoken at the watermark."""
        _, idle = self.bus.frontier()
        return idle and self.client.xlen(self.bus.stage2) == 0 and self.bus.advanced() >= self.bus.watermark()

    def stop(self) -> None:
        for partition in sorted(self.held):
            self.bus.release(partition, self.options.name)
        if self._stage2_held:
            self.bus.release("stage2", self.options.name)
        self.held.clear()
        self._stage2_held = False
        self.bus.leave(self.options.name)

    # -- ownership ---------------------------------------------------------------------------------

    def _rebalance(self, live: int) -> None:
        options = self.options
        target = self._share(self.bus.partitions, max(live, 1), self._stage2_held)
        # every lease held, the second stage's too, renewed in one round trip
        leases = sorted(self.held) + (["stage2"] if self._stage2_held else [])
        lost = self.bus.renew_all(leases, options.name, options.lease_ms)
        if "stage2" in lost:
            lost.discard("stage2")
            self._stage2_held = False
        changed = bool(lost)
        self.held -= lost
        while len(self.held) > target:  # a worker joined: hand partitions over (all work is committed)
            extra = max(self.held)
            self.bus.release(extra, options.name)
            self.held.discard(extra)
            changed = True
        if len(self.held) < target:
            streams = self.bus.streams()
            start = zlib.crc32(options.name.encode()) % len(streams)
            for stream in streams[start:] + streams[:start]:
                if len(self.held) >= target:
                    break
                if stream not in self.held and self.bus.acquire(stream, options.name, options.lease_ms):
                    self.held.add(stream)
                    changed = True
        if changed:
            self._restart()

    @staticmethod
    def _share(partitions: int, live: int, second_stage: bool) -> int:
        """How many partitions this worker should hold. The second stage (every event the IP/ASN-keyed
        detectors look at, in one worker) is about half the work of the first stage over all partitions
        per worker when two share them: its holder takes two thirds of an equal share, the others the
        rest between them."""
        if live == 1:
            return partitions
        mine = max(1, round(partitions / live * 2 / 3))
        if second_stage:
            return mine
        return math.ceil((partitions - mine) / (live - 1))

    def _restart(self) -> None:
        """Forget every cached state and re-read every pending entry of the partitions held: after a
        change of ownership or a conflict, the store is the truth and the replay guard skips what it has."""
        self._store.reset()
        self._engine = self._new_engine()
        self._recover = set(self.held)
        self._backlog = []  # still pending for this worker: reclaimed with the rest

    # -- stage 1 -----------------------------------------------------------------------------------

    def _stage1(self) -> bool:
        if not self.held:
            time.sleep(self.options.block_ms / 1000)  # nothing to read: do not spin
            return False
        began = time.monotonic()
        parsed = self._backlog
        self._backlog = []
        for stream in sorted(self._recover):
            claimed = self.bus.reclaim(self.options.name, stream)
            self.stats.reclaimed += len(claimed)
            parsed.extend(self._parse(entry) for entry in claimed)
        self._recover.clear()
        if not parsed:
            block = 0 if self._stage2_heap else self.options.block_ms
            count = -(-self.options.batch // len(self.held))
            entries = self.bus.read(self.options.name, sorted(self.held), count, block or None)
            parsed = [self._parse(entry) for entry in entries]
        if not parsed:
            return False
        if self.options.closed_loop is not None:
            self.options.closed_loop.received()  # read now: the time-to-control's "received" end
        engine, store = self._engine, self._store
        self._queue.keep = self._stage2_held
        # one round trip for the states of the batch; the ones still decoded from earlier batches (the
        # partitions held since) are used as they are: the commit checks their versions
        store.prefetch(
            event.identity
            for item in parsed
            for event in item.events
            if event.identity and not engine.cached(event.identity)
        )
        replayed = engine.stats.replayed
        tally = WorkerStats()  # counted once the batch is committed (a conflict reprocesses it)
        budget = self.options.lease_ms / 3000  # seconds: the commit comes well within the lease
        for done, item in enumerate(parsed):
            if done % 256 == 255 and time.monotonic() - began > budget:
                self._backlog = parsed[done:]
                break
            self._apply(item, engine, store, tally)
        taken = len(parsed) - len(self._backlog)
        kept, self._queue.kept = self._queue.kept, []
        try:
            engine.flush()
        except StateConflictError:
            self.stats.conflicts += 1
            self._restart()
            return True
        if kept:
            self._keep_stage2(kept, store.added.get(self.bus.stage2, []))
        stats = self.stats
        stats.records += taken
        stats.events += tally.events
        stats.findings += tally.findings
        stats.dead += tally.dead
        stats.unmapped.update(tally.unmapped)
        stats.replayed += engine.stats.replayed - replayed
        stats.error_samples.extend(tally.error_samples[: MAX_ERRORS_KEPT - len(stats.error_samples)])
        return True

    def _parse(self, entry: Entry) -> _Parsed:
        raw = entry.fields.get("r")
        if raw is None:
            return _Parsed(entry, error="entry without a record (field r)")
        ref = RawRef(source=entry.stream, position=entry.seq)
        options = self.options
        flow = options.flow
        vendor = entry.fields.get("v")
        if vendor is not None or flow.config.provider is not None:
            # the typed decoder analyze reads such a file with: several times faster than a dict
            typed = parse_line(
                raw, (vendor or b"").decode(), ref, flow.config.provider, flow.aliases, options.enrichers
            )
            if typed is not None:
                return _Parsed(entry, typed.events, typed.error, typed.unmapped)
        try:
            record = _record_decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError) as exc:
            return _Parsed(entry, error=f"not a JSON object: {exc}")
        parsed = parse_record(record, ref, flow.config.provider, flow.aliases, options.enrichers)
        return _Parsed(entry, parsed.events, parsed.error, parsed.unmapped)

    def _apply(self, item: _Parsed, engine: Engine, store: RedisStore, tally: WorkerStats) -> None:
        """Process one record (or dead-letter it); its progress mark and ack join the next commit."""
        entry = item.entry
        if item.unmapped is not None:
            tally.unmapped[item.unmapped] += 1
        position = sortable_id(entry.id)
        for index, event in enumerate(item.events):
            self._queue.current = (entry.seq, index)
            tally.findings += len(engine.process(event, entry.stream, f"{position}|{index:04d}"))
            tally.events += 1
        if item.error is not None:
            where = f"{entry.stream}#{entry.id}"
            tally.dead += 1
            if len(tally.error_samples) < MAX_ERRORS_KEPT:
                tally.error_samples.append(f"{where}: {item.error}")
            payload = dead_letter_payload(where, item.error, entry.fields.get("r"))
            store.pending.ops.append(("add", self.bus.dead, payload))
        store.pending.marks[PROGRESS + entry.stream] = progress_mark(entry.seq)
        store.pending.ops.append(("ack", entry.stream, entry.id))

    # -- stage 2 -----------------------------------------------------------------------------------

    def _keep_stage2(self, kept: list[Deferred], ids: list[str]) -> None:
        """This worker's own second-stage events, just committed to the stream, to the heap as they are in
        memory. The stream stays the durable copy: whoever takes the second stage next reads them there."""
        if not self._stage2_held:
            return
        for entry_id, item in zip(ids, kept, strict=True):
            heapq.heappush(self._stage2_heap, (item.seq, item.sub, entry_id, item))
        self._stage2_known.append((ids[0], ids[-1]))
        self.stats.stage2_cached += len(kept)

    def _take_stage2(self) -> None:
        """Take the second stage when nobody holds it (when this worker does, it is renewed already)."""
        if self._stage2_held:
            return
        token = self.bus.acquire_fenced("stage2", self.options.name, self.options.lease_ms)
        if token:
            self._stage2_held = True
            self._restart_stage2()
            # each commit checks the token once: a holder whose lease lapsed (another took a newer
            # token) commits nothing, so the entries it drops need no check of their own
            self._stage2_store.fence = (self.bus.fence_key("stage2"), token)

    def _stage2(self) -> bool:
        if not self._stage2_held:
            return False
        bound, _ = self.bus.frontier()  # before reading: every event at or under it is on the stream
        page, known, read = 10_000, self._stage2_known, 0
        while True:  # the stream up to the end, but for this worker's own entries, already in the heap
            fresh = self.bus.stage2_entries(self._stage2_cursor, page, known[0][0] if known else None)
            for entry in fresh:
                item = deferred_decoder.decode(entry.fields["p"])
                heapq.heappush(self._stage2_heap, (item.seq, item.sub, entry.id, item))
                self._stage2_cursor = entry.id
            read += len(fresh)
            if len(fresh) == page:
                return True  # more to read before the heap holds everything at or under the bound
            if not known:
                break
            self._stage2_cursor = known.popleft()[1]
        engine, store = self._stage2_engine, self._stage2_store
        ready: list[tuple[str, Deferred]] = []
        while self._stage2_heap and self._stage2_heap[0][0] <= bound:
            _, _, entry_id, item = heapq.heappop(self._stage2_heap)
            ready.append((entry_id, item))
        if not ready:
            return bool(read)
        store.prefetch(
            key
            for _, item in ready
            for detector in engine.keyed_detectors
            if (part := detector.partition(item.event)) is not None
            and not engine.cached(key := f"{KEYED_PREFIX}{detector.meta.id}|{part}")
        )
        produced = 0
        for entry_id, item in ready:
            produced += len(engine.second_stage(item.event, item.profile))
            store.pending.ops.append(("drop", self.bus.stage2, entry_id))
        taken = len(ready)
        try:
            engine.flush()
        except StateConflictError:
            self.stats.conflicts += 1
            self._restart_stage2()
            return True
        self.stats.stage2_events += taken
        self.stats.findings += produced
        return True

    def _restart_stage2(self) -> None:
        self._stage2_store.reset()
        self._stage2_engine = self._hooked(self.options.flow.engine(self._stage2_store, commit_every=_NEVER))
        self._stage2_heap = []
        self._stage2_cursor = "-"
        self._stage2_known.clear()

    # -- silence -----------------------------------------------------------------------------------

    def _advance(self) -> bool:
        mark = self.bus.watermark()
        if mark <= self.bus.advanced():
            return False
        _, idle = self.bus.frontier()
        if not idle or self.client.xlen(self.bus.stage2) > 0:
            return False
        if not self.bus.acquire("advance", self.options.name, self.options.lease_ms):
            return False
        store = RedisStore("", self.prefix, ttl_s=self.options.state_ttl_s, client=self.client)
        engine = self._hooked(self.options.flow.engine(store, commit_every=_NEVER))
        engine.watermark = mark
        try:
            produced = engine.finish()
        except StateConflictError:
            self.stats.conflicts += 1  # new records meanwhile: the next idle moment tries again
            return True
        finally:
            self.bus.release("advance", self.options.name)
        self.bus.set_advanced(mark)
        self.stats.advances += 1
        self.stats.findings += len(produced)
        # states advanced here are newer than the partition engines' cached copies
        self._restart()
        self._restart_stage2()
        return True
