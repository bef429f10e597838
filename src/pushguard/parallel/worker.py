"""One process of ``analyze --jobs`` (``parallel.run`` drives it through a pipe and tells the whole run).

Between the steps the process waits for the driver's word, and answers each step with what the driver
needs to plan the next one (names and counts, the organisation table it learnt and its second-stage
keys). Events that change process travel as msgpack files in the run's directory, one per (sender,
receiver); what stays in the process is never encoded."""

from __future__ import annotations

import gc
import heapq
import operator
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import msgspec

from pushguard.detect.base import SUCCESS_KINDS, KeyedDetector
from pushguard.detect.org import OrgKnowledge, OrgTable
from pushguard.detect.profile import id_hash
from pushguard.enrich.resolver import names_touched
from pushguard.flow import Flow
from pushguard.model import Event, EventKind, Finding, IdentityProfile
from pushguard.parallel.second_stage import Deferred, KeyPlan, Order, SecondStage, keyed_by_kind, keys_of
from pushguard.pipeline import Engine, RunStats, event_order, not_an_identity, ordered_file_events
from pushguard.runtime import gc_paused
from pushguard.sources import progress
from pushguard.sources.readers import read_records, read_records_range

Parsed = tuple[Order, Event]
Resolved = tuple[Order, Event, tuple[str, ...]]  # with the second-stage keys it has (before any lent place)
TICK = 1024  # events between two progress reports
# Events between two freezes of what the engine holds (profiles, states, second-stage work kept): the
# cyclic collector then scans only what is new (it took a quarter of the detection's time without)
FREEZE_EVERY = 2 * TICK
_first = operator.itemgetter(0)


@dataclass(frozen=True)
class ParseTask:
    file_index: int
    path: Path
    byte_range: tuple[int, int] | None  # None: the whole file


@dataclass(frozen=True)
class Shared:
    """Counters every process shares with the driver: the next parse task to take (tasks are taken as
    processes get free, so a slow file does not hold the others back), bytes read, events detected."""

    next_task: Synchronized[int]
    read: Synchronized[int]
    detected: Synchronized[int]


@dataclass
class Cost:
    """What one process spent: CPU seconds per step (waits for the others cost none) and counts of what
    it sent (events, bytes), for ``benchmarks/`` to show where a run's time goes."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    gc_s: dict[str, float] = field(default_factory=dict)  # of the CPU per step, in the cyclic collector
    _mark: float = field(default_factory=time.process_time)
    _gc_began: float = 0.0
    _gc_step: float = 0.0

    def collecting(self, phase: str, _info: dict[str, int]) -> None:
        """A ``gc.callbacks`` entry: the collector's time."""
        if phase == "start":
            self._gc_began = time.process_time()
        else:
            self._gc_step += time.process_time() - self._gc_began

    def step(self, name: str) -> None:
        now = time.process_time()
        self.cpu_s[name] = self.cpu_s.get(name, 0.0) + now - self._mark
        self.gc_s[name] = self.gc_s.get(name, 0.0) + self._gc_step
        self._mark, self._gc_step = now, 0.0

    def count(self, name: str, value: int) -> None:
        self.counts[name] += value


def _add(counter: Synchronized[int], count: int) -> None:
    with counter.get_lock():
        counter.value += count


class Worker:
    def __init__(
        self,
        index: int,
        jobs: int,
        conn: Connection,
        tasks: list[ParseTask],
        flow: Flow,
        spill_dir: Path,
        shared: Shared,
    ) -> None:
        self.index, self.jobs, self.conn = index, jobs, conn
        self.tasks, self.flow, self.spill_dir, self.shared = tasks, flow, spill_dir, shared
        self._encoder = msgspec.msgpack.Encoder()
        self.cost = Cost()

    def run(self) -> None:
        # The cyclic collector would rescan the events held for the run (and what the driver's process
        # had) at every full collection: frozen, it leaves them alone (they are freed by reference count).
        gc.freeze()
        gc.callbacks.append(self.cost.collecting)
        progress.listen(lambda count: _add(self.shared.read, count))
        runs, stats, latest, names, counts = self._parse()
        self.cost.step("parse")
        self.conn.send(("parsed", stats, latest, names, counts))
        route: dict[str, int] = self._expect("route")
        watching = keyed_by_kind(self.flow.engine())
        events = self._route(runs, route)
        self.cost.step("route")
        resolved, table, usage = self._resolve(events, watching)
        del runs, events
        gc.freeze()
        self.cost.step("resolve")
        self.conn.send(("resolved", table, usage))
        table, watermark, owners, inline = self._expect("detect")
        local = {key for key in usage if key not in owners} if inline else set()
        plan = KeyPlan(self.index, self.jobs, owners, local, set(usage))
        second = SecondStage(plan, watching, sent=[[] for _ in range(self.jobs)])
        engine = self.flow.engine(
            org=OrgKnowledge(table, self.flow.trust), org_learns=False, second_stage=second
        )
        engine.keeps_key = local.__contains__
        self._first_stage(engine, second, resolved, watermark)
        self.cost.count("events detected", len(resolved))
        del resolved
        self.cost.step("detect")
        self.cost.count("deferred, kept", len(second.kept))
        self.cost.count("deferred, sent", sum(len(items) for items in second.sent))
        self._write("second", [self._encoder.encode(items) for items in second.sent])
        second.sent = []
        self.conn.send(("keyed", engine.stats, second.unexpected))
        findings = list(engine.findings.values())
        del engine
        self._expect("go")
        decoder = msgspec.msgpack.Decoder(list[tuple[Order, Event, IdentityProfile, list[str]]])
        with gc_paused():
            runs_in = [second.kept, *(decoder.decode(blob) for blob in self._read("second"))]
        second.kept = []
        self.cost.step("exchange")
        findings.extend(self._second_stage(runs_in, watermark))
        self.cost.step("second stage")
        self.conn.send(("done", findings, self.cost))

    def _expect(self, kind: str) -> Any:
        message = self.conn.recv()
        if message[0] != kind:
            raise RuntimeError(f"--jobs process {self.index}: expected {kind!r}, got {message[0]!r}")
        return message[1] if len(message) == 2 else message[1:]

    # -- parse: the tasks this process takes, kept here ---------------------------------------------

    def _parse(
        self,
    ) -> tuple[list[tuple[list[Parsed], list[str]]], RunStats, float, dict[str, set[str]], Counter[str]]:
        """Each task's events in event-time order with their routing names; the counts; the latest event
        time; the names the resolver may join each routing name to; the events per routing name."""
        stats = RunStats()
        names: dict[str, set[str]] = {}
        counts: Counter[str] = Counter()
        runs: list[tuple[list[Parsed], list[str]]] = []
        latest = 0.0
        aliases, vendor_fields = self.flow.aliases, self.flow.config.link
        with ExitStack() as closing:
            enrichers = self.flow.enrichers()
            for enricher in enrichers:
                if isinstance(enricher, AbstractContextManager):
                    closing.enter_context(enricher)
            while (number := self._take()) is not None:
                task = self.tasks[number]
                run: list[tuple[Order, Event, str]] = []
                for sequence, event in enumerate(self._events(task, stats, enrichers)):
                    ts = event.ts
                    if ts > latest:
                        latest = ts
                    name, linked = names_touched(event, aliases, vendor_fields)
                    counts[name] += 1
                    if linked:
                        known = names.get(name)
                        if known is None:
                            names[name] = set(linked)
                        else:
                            known.update(linked)
                    run.append(((*event_order(event), task.file_index, sequence), event, name))
                run.sort(key=_first)
                runs.append(([(order, event) for order, event, _ in run], [name for _, _, name in run]))
                gc.freeze()  # held to the end of the run: no need to scan them again
        return runs, stats, latest, names, counts

    def _take(self) -> int | None:
        with self.shared.next_task.get_lock():
            number = self.shared.next_task.value
            if number >= len(self.tasks):
                return None
            self.shared.next_task.value = number + 1
        return number

    def _events(self, task: ParseTask, stats: RunStats, enrichers: list[Any]) -> Iterator[Event]:
        provider = self.flow.config.provider
        if task.byte_range is None:
            stats.files += 1
            items = read_records(task.path, provider)
            # counts late records as one process would
            return ordered_file_events(self.flow.parse(items, stats, enrichers), stats)
        stats.files += 1 if task.byte_range[0] == 0 else 0
        items = read_records_range(task.path, *task.byte_range, provider)
        return self.flow.parse(items, stats, enrichers)

    # -- route: every event to the process of its group ----------------------------------------------

    def _route(self, runs: list[tuple[list[Parsed], list[str]]], route: dict[str, int]) -> Iterator[Parsed]:
        """This process's events, merged in the one-process order: those parsed here and those sent."""
        kept: list[list[Parsed]] = []
        sent: list[list[list[Parsed]]] = [[] for _ in range(self.jobs)]
        for run, routing in runs:
            split: list[list[Parsed]] = [[] for _ in range(self.jobs)]
            for item, name in zip(run, routing, strict=True):
                split[route[name]].append(item)
            kept.append(split[self.index])
            for other in range(self.jobs):
                if other != self.index and split[other]:
                    sent[other].append(split[other])
        self.cost.count("events sent", sum(len(run) for runs in sent for run in runs))
        self._write("events", [self._encoder.encode(parts) for parts in sent])
        self.conn.send(("sent",))
        self._expect("go")
        decoder = msgspec.msgpack.Decoder(list[list[tuple[Order, Event]]])
        with gc_paused():
            for blob in self._read("events"):
                kept.extend(decoder.decode(blob))
        return heapq.merge(*kept, key=_first)

    def _write(self, step: str, outgoing: list[bytes]) -> None:
        for other, blob in enumerate(outgoing):
            if other != self.index:
                self.cost.count(f"bytes sent, {step}", len(blob))
                (self.spill_dir / f"{step}-{self.index}-{other}").write_bytes(blob)

    def _read(self, step: str) -> Iterator[bytes]:
        """What the other processes wrote here (after the driver said every one has)."""
        for other in range(self.jobs):
            if other != self.index:
                path = self.spill_dir / f"{step}-{other}-{self.index}"
                blob = path.read_bytes()
                path.unlink()
                yield blob

    # -- resolve: accounts linked to their person, in event-time order ----------------------------

    def _resolve(
        self, events: Iterable[Parsed], watching: dict[EventKind, list[KeyedDetector[Any]]]
    ) -> tuple[list[Resolved], OrgTable, Counter[str]]:
        """The events linked to their person (this process holds every account its people have), what
        they teach of the organisation (the tables of all processes merge into the one-process one,
        which every engine then reads: established-before-the-event lookups make the order of learning
        irrelevant) and the second-stage keys they foresee, with their events."""
        resolver = self.flow.resolver()
        table = OrgTable()
        usage: Counter[str] = Counter()
        resolved: list[Resolved] = []
        for order, event in events:
            event = resolver(event)
            if event.kind in SUCCESS_KINDS and not not_an_identity(event):
                table.learn(event, id_hash(event.identity))
            keys = keys_of(watching, event)
            if keys:
                usage.update(keys)
            resolved.append((order, event, keys))
        return resolved, table, usage

    # -- first stage: the per-identity detectors, and the keys only this process has ---------------

    def _first_stage(
        self, engine: Engine, second: SecondStage, events: list[Resolved], watermark: float
    ) -> None:
        detected = self.shared.detected
        for count, (order, event, keys) in enumerate(events, start=1):
            second.current, second.given, second.keys = order, event, keys
            engine.process(event)
            if count % TICK == 0:
                _add(detected, TICK)
                if count % FREEZE_EVERY == 0:
                    gc.freeze()
        _add(detected, len(events) % TICK)
        second.current = second.given = None
        engine.watermark = max(engine.watermark, watermark)  # silence speaks when the whole run ends
        engine.finish()

    # -- second stage: the keys several processes have, each in one --------------------------------

    def _second_stage(self, runs: list[list[Deferred]], watermark: float) -> list[Finding]:
        """The events kept here and sent here for the keys this process runs, in the one-process order;
        each runs the keyed detectors of the keys it was sent for only."""
        engine = self.flow.engine()
        allowed: list[str] = []
        engine.keeps_key = lambda key: key in allowed
        gc.freeze()
        for count, (_, event, view, parts) in enumerate(heapq.merge(*runs, key=_first), start=1):
            allowed[:] = parts
            engine.second_stage(event, view)
            if count % FREEZE_EVERY == 0:
                gc.freeze()
        engine.watermark = max(engine.watermark, watermark)
        engine.finish()
        return list(engine.findings.values())


def work(
    index: int,
    jobs: int,
    conn: Connection,
    tasks: list[ParseTask],
    flow: Flow,
    spill_dir: Path,
    shared: Shared,
) -> None:
    """A process's life: its steps, or the exception that stopped them sent to the driver."""
    try:
        Worker(index, jobs, conn, tasks, flow, spill_dir, shared).run()
    except BaseException as exc:  # the driver re-raises it (a bad input is an InputError there too)
        try:
            conn.send(("error", exc, traceback.format_exc()))
        except Exception:  # an exception that does not pickle: its text
            conn.send(("error", RuntimeError(str(exc)), traceback.format_exc()))
    finally:
        conn.close()
