"""One process of ``analyze --jobs`` (``parallel.run`` drives it through a pipe; the module docstring of
``pushguard.parallel`` tells the whole run).

Between the steps the process waits for the driver's word: it answers each step with what the driver
needs to plan the next one (names and counts, the organisation table it learnt, its second-stage keys).
Events and second-stage work that change process travel as msgpack files in the run's directory, one per
(sender, receiver); what stays in the process is never encoded."""

from __future__ import annotations

import heapq
import operator
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import msgspec

from pushguard.detect.base import SUCCESS_KINDS
from pushguard.detect.org import OrgKnowledge, OrgTable
from pushguard.detect.profile import id_hash
from pushguard.flow import Flow
from pushguard.model import Event, Finding, IdentityProfile
from pushguard.parallel.links import link_names
from pushguard.pipeline import Engine, RunStats, event_order, not_an_identity, ordered_file_events
from pushguard.sources import progress
from pushguard.sources.readers import read_records, read_records_range

# (time, provider, event id, file index, record sequence): the one-process order (pipeline.merged_events)
Order = tuple[float, str, str, int, int]
Parsed = tuple[Order, Event]
Deferred = tuple[Order, Event, IdentityProfile]  # an event for the second stage, with its profile's view
TICK = 1024  # events between two progress reports
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


class _Keyed:
    """The second stage, kept for later instead of run now (its keys' events come from every process):
    each event some keyed detector wants, with the part of the profile they read as it is now."""

    def __init__(self) -> None:
        self.items: list[tuple[Order, Event, IdentityProfile, list[str]]] = []
        self.current: Order | None = None  # None: nothing is kept (the engine is finishing)

    def __call__(self, engine: Engine, event: Event, profile: IdentityProfile) -> list[Finding]:
        if self.current is not None:
            parts, view = engine.keyed_view(event, profile)
            if view is not None:
                self.items.append((self.current, event, view, parts))
        return []


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
        self._events_encoder = msgspec.msgpack.Encoder()

    def run(self) -> None:
        progress.listen(lambda count: _add(self.shared.read, count))
        import os, time
        T = [time.process_time(), time.perf_counter()]
        def t(tag):
            if os.environ.get("PG_T"):
                c, w = time.process_time(), time.perf_counter()
                print(f"    w{self.index} {tag}: cpu {c - T[0]:.2f} wall {w - T[1]:.2f}", flush=True)
                T[0], T[1] = c, w
        runs, stats, latest, names, counts = self._parse()
        t("parse")
        self.conn.send(("parsed", stats, latest, names, counts))
        route: dict[str, int] = self._expect("route")
        mine = self._route(runs, route)
        del runs
        resolved, table = self._resolve(mine)
        t("route+resolve")
        self.conn.send(("resolved", table))
        table, watermark = self._expect("detect")
        stats, findings, keyed, usage = self._first_stage(resolved, table, watermark)
        del resolved
        t("first")
        self.conn.send(("keyed", stats, usage))
        owners: dict[str, int] = self._expect("second")
        t("wait")
        findings.extend(self._second_stage(keyed, owners, usage, watermark))
        t("second")
        self.conn.send(("done", findings))

    def _expect(self, kind: str) -> Any:
        message = self.conn.recv()
        if message[0] != kind:
            raise RuntimeError(f"--jobs process {self.index}: expected {kind!r}, got {message[0]!r}")
        return message[1] if len(message) == 2 else message[1:]

    # -- parse: the tasks this process takes, kept here ---------------------------------------------

    def _parse(
        self,
    ) -> tuple[list[tuple[list[Parsed], list[str]]], RunStats, float, dict[str, set[str]], Counter[str]]:
        """Each task's events in event-time order, with each event's routing name; the counts; the latest
        event time; the names the resolver may join (``links``) and the events per routing name."""
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
                events = self._events(task, stats, enrichers)
                run: list[tuple[Order, Event, str]] = []
                for sequence, event in enumerate(events):
                    ts = event.ts
                    if ts > latest:
                        latest = ts
                    name, linked = link_names(event, aliases, vendor_fields)
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
        received = self._exchange("events", [self._events_encoder.encode(parts) for parts in sent])
        decoder = msgspec.msgpack.Decoder(list[list[tuple[Order, Event]]])
        for blob in received:
            kept.extend(decoder.decode(blob))
        return heapq.merge(*kept, key=_first)

    def _exchange(self, step: str, outgoing: list[bytes]) -> Iterator[bytes]:
        """Write what goes to each other process, wait until every process has, read what came here."""
        for other, blob in enumerate(outgoing):
            if other != self.index:
                (self.spill_dir / f"{step}-{self.index}-{other}").write_bytes(blob)
        self.conn.send(("sent",))
        self._expect("go")
        for other in range(self.jobs):
            if other != self.index:
                path = self.spill_dir / f"{step}-{other}-{self.index}"
                blob = path.read_bytes()
                path.unlink()
                yield blob

    # -- resolve: accounts linked to their person, in event-time order ----------------------------

    def _resolve(self, events: Iterable[Parsed]) -> tuple[list[Parsed], OrgTable]:
        """The events linked to their person (this process holds every account its people have) and
        what they teach of the organisation: the tables of all processes merge into the one-process
        one, which every engine then reads (established-before-the-event lookups make the order of
        learning irrelevant)."""
        resolver = self.flow.resolver()
        table = OrgTable()
        resolved: list[Parsed] = []
        for order, event in events:
            event = resolver(event)
            if event.kind in SUCCESS_KINDS and not not_an_identity(event):
                table.learn(event, id_hash(event.identity))
            resolved.append((order, event))
        return resolved, table

    # -- first stage: the per-identity detectors --------------------------------------------------

    def _first_stage(
        self, events: list[Parsed], table: OrgTable, watermark: float
    ) -> tuple[RunStats, list[Finding], _Keyed, Counter[str]]:
        keyed = _Keyed()
        engine = self.flow.engine(org=OrgKnowledge(table, self.flow.trust), org_learns=False, second_stage=keyed)
        detected = self.shared.detected
        for count, (order, event) in enumerate(events, start=1):
            keyed.current = order
            engine.process(event)
            if count % TICK == 0:
                _add(detected, TICK)
        _add(detected, len(events) % TICK)
        keyed.current = None
        engine.watermark = max(engine.watermark, watermark)  # silence speaks when the whole run ends
        engine.finish()
        usage: Counter[str] = Counter()
        for _, _, _, parts in keyed.items:
            usage.update(parts)
        return engine.stats, list(engine.findings.values()), keyed, usage

    # -- second stage: the IP/ASN-keyed detectors, each key in one process ------------------------

    def _second_stage(
        self, keyed: _Keyed, owners: dict[str, int], usage: Counter[str], watermark: float
    ) -> list[Finding]:
        """``owners``: the keys several processes saw, each given to one; every other key this process
        saw is its own. An event goes wherever one of its keys is run."""
        index = self.index
        kept: list[Deferred] = []
        sent: list[list[Deferred]] = [[] for _ in range(self.jobs)]
        for order, event, view, parts in keyed.items:
            here = False
            for part in parts:
                owner = owners.get(part, index)
                if owner == index:
                    here = True
                elif not sent[owner] or sent[owner][-1][0] is not order:
                    sent[owner].append((order, event, view))
            if here:
                kept.append((order, event, view))
        keyed.items = []
        received = self._exchange("keyed", [self._events_encoder.encode(items) for items in sent])
        decoder = msgspec.msgpack.Decoder(list[tuple[Order, Event, IdentityProfile]])
        runs: list[list[Deferred]] = [kept]
        runs.extend(decoder.decode(blob) for blob in received)
        engine = self.flow.engine()
        engine.keeps_key = lambda key: owners.get(key, index) == index and (key in usage or key in owners)
        for order, event, view in heapq.merge(*runs, key=_first):
            engine.second_stage(event, view)
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
        import os
        if os.environ.get("PG_PROF"):
            import cProfile
            cProfile.runctx("Worker(index, jobs, conn, tasks, flow, spill_dir, shared).run()", globals(), locals(), f"/tmp/jobs-h/w{index}.prof")
        else:
            Worker(index, jobs, conn, tasks, flow, spill_dir, shared).run()
    except BaseException as exc:  # the driver re-raises it (a bad input is an InputError there too)
        try:
            conn.send(("error", exc, traceback.format_exc()))
        except Exception:  # an exception that does not pickle: its text
            conn.send(("error", RuntimeError(str(exc)), traceback.format_exc()))
    finally:
        conn.close()
