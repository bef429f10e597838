"""``analyze --jobs N``: the pipeline of ``flow.Flow.run`` split across processes by identity, with the
same findings as one process.

    1. parse (N processes): files, and byte ranges of large JSON Lines files, are parsed and enriched;
       each event goes to the partition of its identity (a stable hash), sorted by
       (time, provider, event id, file, record) and spilled to disk as msgpack runs. Each task also
       learns the organisation table (``detect.org``) from its events; the tables merge into the one a
       single process would have learnt, and every partition's engine reads it (established-before-the-
       event lookups make the order of learning irrelevant).
    2. detect (N processes): each partition merges its runs in event-time order and runs the per-identity
       detectors (``pipeline.Engine``). Where a second-stage detector (keyed by IP, ASN) would look at the
       event, the event and a snapshot of the identity's profile at that moment are spilled instead.
    3. second stage (N processes): the spilled events go to slices by the second-stage key (the IP, the
       ASN: a stable hash), so every key's events meet in one process; each slice merges them in the same
       order and runs the second-stage detectors with those snapshots on its own keys only.

The order inside an identity and the profile each second-stage detector sees are the one-process ones, so
the findings are too (tested). State lives in memory for the run: ``--jobs`` does not take ``--state``."""

from __future__ import annotations

import heapq
import multiprocessing
import os
import struct
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from pushguard.detect.base import SUCCESS_KINDS
from pushguard.detect.org import OrgKnowledge, OrgTable
from pushguard.detect.profile import id_hash
from pushguard.enrich import Enricher
from pushguard.flow import Flow
from pushguard.model import Event, Finding, IdentityProfile
from pushguard.pipeline import (
    MAX_ERRORS_KEPT,
    Engine,
    RunResult,
    RunStats,
    event_order,
    not_an_identity,
    ordered_file_events,
)
from pushguard.sources import progress
from pushguard.sources.readers import expand_paths, jsonl_ranges, read_records, read_records_range
from pushguard.store.base import keep_highest

ORG_FILE = "org.msgpack"  # the organisation table learnt from every parse task
SPLIT_MIN_BYTES = 16 << 20  # JSON Lines files larger than this are parsed in several byte ranges
_FRAME = struct.Struct("<I")

# (time, provider, event id, file index, record sequence): the one-process order (pipeline.merged_events)
Order = tuple[float, str, str, int, int]


class _Parsed(msgspec.Struct, array_like=True):
    order: tuple[float, str, str, int, int]
    event: Event


class _Deferred(msgspec.Struct, array_like=True):
    order: tuple[float, str, str, int, int]
    event: Event
    profile: IdentityProfile


@dataclass(frozen=True)
class _ParseTask:
    index: int
    file_index: int
    path: Path
    byte_range: tuple[int, int] | None  # None: the whole file
    parts: int
    spill_dir: Path
    flow: Flow


def partition_of(identity: str, parts: int) -> int:
    """A stable partition for an identity or a second-stage key (the same in every process and run)."""
    return zlib.crc32(identity.encode("utf-8", "surrogatepass")) % parts


# -- spill files: length-prefixed msgpack frames --------------------------------------------------


def _write_frames(path: Path, frames: Sequence[bytes]) -> None:
    with path.open("wb") as handle:
        for frame in frames:
            handle.write(_FRAME.pack(len(frame)))
            handle.write(frame)


def _read_frames(handle: BinaryIO) -> Iterator[bytes]:
    while header := handle.read(_FRAME.size):
        (size,) = _FRAME.unpack(header)
        yield handle.read(size)


def _decoded_run(path: Path, decoder: msgspec.msgpack.Decoder[Any]) -> Iterator[Any]:
    with path.open("rb") as handle:
        for frame in _read_frames(handle):
            yield decoder.decode(frame)


# -- phase 1: parse --------------------------------------------------------------------------------


_worker_chains: dict[tuple[str | None, str | None], list[Enricher]] = {}


def _worker_enrichers(flow: Flow) -> list[Enricher]:
    """One enrichment chain per worker process, kept for all the tasks it runs: the per-address lookups
    (a third of a millisecond each in the bundled database) are cached once, not once per task. The
    process's end closes the databases."""
    key = (flow.config.geoip_city, flow.config.geoip_asn)
    if key not in _worker_chains:
        _worker_chains[key] = flow.enrichers()
    return _worker_chains[key]


def _parse(task: _ParseTask) -> tuple[RunStats, float, OrgTable]:
    """The task's counts, the latest event time in it (the run's watermark is the latest of all) and
    what its events teach of the organisation (the tables of all tasks merge into the one-process one)."""
    stats = RunStats()
    org = OrgTable()
    enrichers = _worker_enrichers(task.flow)
    provider = task.flow.config.provider
    if task.byte_range is None:
        stats.files += 1
        items = read_records(task.path, provider)
    else:
        stats.files += 1 if task.byte_range[0] == 0 else 0
        items = read_records_range(task.path, *task.byte_range, provider)
    parsed = task.flow.parse(items, stats, enrichers)
    if task.byte_range is None:
        parsed = ordered_file_events(parsed, stats)  # counts late records as one process would
    runs: list[list[_Parsed]] = [[] for _ in range(task.parts)]
    latest = 0.0
    for sequence, event in enumerate(parsed):
        latest = max(latest, event.ts)
        if event.kind in SUCCESS_KINDS and not not_an_identity(event):
            org.learn(event, id_hash(event.identity))
        order = (*event_order(event), task.file_index, sequence)
        runs[partition_of(event.identity, task.parts)].append(_Parsed(order, event))
    encoder = msgspec.msgpack.Encoder()
    for part, run in enumerate(runs):
        run.sort(key=lambda item: item.order)
        _write_frames(task.spill_dir / f"p{part}-t{task.index}.run", [encoder.encode(item) for item in run])
    return stats, latest, org


# -- phase 2: per-identity detection ---------------------------------------------------------------


class SpillSecondStage:
    """The second stage spilled, with the profile as it is now, instead of run here: to the slice of
    every second-stage key the event has (the IP-keyed detectors share one). ``current``: the order of
    the event being processed (None: nothing is spilled, e.g. while the engine finishes)."""

    def __init__(self, slices: int) -> None:
        self.deferred: list[list[bytes]] = [[] for _ in range(slices)]
        self.current: Order | None = None
        self._encoder = msgspec.msgpack.Encoder()

    def __call__(self, engine: Engine, event: Event, profile: IdentityProfile) -> list[Finding]:
        if self.current is None:
            return []
        parts, view = engine.keyed_view(event, profile)
        if view is not None:
            frame = self._encoder.encode(_Deferred(self.current, event, view))
            for index in {partition_of(part, len(self.deferred)) for part in parts}:
                self.deferred[index].append(frame)
        return []


def _detect(
    part: int,
    spill_dir: Path,
    tasks: int,
    jobs: int,
    flow: Flow,
    watermark: float,
) -> tuple[RunStats, list[Finding]]:
    decoder = msgspec.msgpack.Decoder(_Parsed)
    runs = [_decoded_run(spill_dir / f"p{part}-t{t}.run", decoder) for t in range(tasks)]
    table = msgspec.msgpack.decode((spill_dir / ORG_FILE).read_bytes(), type=OrgTable)
    org = OrgKnowledge(table, flow.trust)
    spill = SpillSecondStage(jobs)
    engine = flow.engine(org=org, org_learns=False, second_stage=spill)
    for item in heapq.merge(*runs, key=lambda parsed: parsed.order):
        spill.current = item.order
        engine.process(item.event)
    spill.current = None
    engine.watermark = max(engine.watermark, watermark)  # silence speaks when the whole run ends
    engine.finish()
    for index, frames in enumerate(spill.deferred):
        _write_frames(spill_dir / f"second-p{part}-s{index}.run", frames)
    return engine.stats, list(engine.findings.values())


# -- phase 3: second-stage detection, one slice of the keys each ---------------------------------


def _second_stage(index: int, spill_dir: Path, jobs: int, flow: Flow, watermark: float) -> list[Finding]:
    """Slice ``index`` of ``jobs``: the partitions' spilled events for its keys, in the one-process order."""
    engine = flow.engine()
    engine.keeps_key = lambda key: partition_of(key, jobs) == index
    decoder = msgspec.msgpack.Decoder(_Deferred)
    runs = [_decoded_run(spill_dir / f"second-p{part}-s{index}.run", decoder) for part in range(jobs)]
    for item in heapq.merge(*runs, key=lambda deferred: deferred.order):
        engine.second_stage(item.event, item.profile)
    engine.watermark = max(engine.watermark, watermark)
    engine.finish()
    return list(engine.findings.values())


# -- the whole run ---------------------------------------------------------------------------------


def merge_stats(into: RunStats, other: RunStats) -> None:
    for spec in fields(RunStats):
        mine, theirs = getattr(into, spec.name), getattr(other, spec.name)
        if isinstance(mine, Counter):
            mine.update(theirs)
        elif isinstance(mine, list):
            mine.extend(theirs[: max(0, MAX_ERRORS_KEPT - len(mine))])
        else:
            setattr(into, spec.name, mine + theirs)


def _count_bytes(read: Synchronized[int]) -> None:
    """In each worker: add the bytes its readers read to the counter the parent shares."""

    def add(count: int) -> None:
        with read.get_lock():
            read.value += count

    progress.listen(add)


@contextmanager
def _relay(read: Synchronized[int], on_bytes: progress.Listener, every_s: float = 0.2) -> Iterator[None]:
    """Pass the workers' byte count on to ``on_bytes`` from a thread, until the block ends."""
    done = threading.Event()

    def relay() -> None:
        told = 0
        while True:
            stop = done.wait(every_s)
            now = read.value
            if now > told:
                on_bytes(now - told)
                told = now
            if stop:
                return

    thread = threading.Thread(target=relay, name="pushguard-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def analyze_parallel(
    inputs: Sequence[str | Path],
    jobs: int,
    *,
    flow: Flow | None = None,
    split_min_bytes: int = SPLIT_MIN_BYTES,
    on_bytes: progress.Listener | None = None,
) -> RunResult:
    """Findings and counts of ``Flow.run`` over the same inputs, computed by ``jobs`` processes.
    ``on_bytes``: told, from a thread of this process, of the input bytes the workers have read."""
    flow = flow or Flow()
    skipped: list[str] = []
    paths = expand_paths(inputs, skipped)
    jobs = max(1, jobs)
    with ExitStack() as scope:
        tmp = scope.enter_context(tempfile.TemporaryDirectory(prefix="pushguard-jobs-"))
        if on_bytes is None:
            pool = scope.enter_context(ProcessPoolExecutor(jobs))
        else:
            read = multiprocessing.Value("q", 0)
            pool = scope.enter_context(ProcessPoolExecutor(jobs, initializer=_count_bytes, initargs=(read,)))
            scope.enter_context(_relay(read, on_bytes))
        spill_dir = Path(tmp)
        tasks: list[_ParseTask] = []
        for file_index, path in enumerate(paths):
            split = jsonl_ranges(path, jobs * 2, split_min_bytes)
            ranges: list[tuple[int, int] | None] = [None] if split is None else list(split)
            for byte_range in ranges:
                tasks.append(
                    _ParseTask(
                        len(tasks),
                        file_index,
                        path,
                        byte_range,
                        jobs,
                        spill_dir,
                        flow,
                    )
                )
        stats = RunStats(skipped_files=skipped)
        watermark = 0.0
        org = OrgTable()
        for parsed_stats, latest, learnt in pool.map(_parse, tasks):
            merge_stats(stats, parsed_stats)
            watermark = max(watermark, latest)
            org.merge(learnt)
        # every identity's engine sees what the whole organisation knew at each event, as in one process
        (spill_dir / ORG_FILE).write_bytes(msgspec.msgpack.encode(org))
        findings: dict[str, Finding] = {}
        futures = [
            pool.submit(_detect, part, spill_dir, len(tasks), jobs, flow, watermark) for part in range(jobs)
        ]
        for future in futures:
            detected_stats, detected = future.result()
            detected_stats.records = detected_stats.files = 0  # counted by the parse phase
            merge_stats(stats, detected_stats)
            keep_highest(findings, detected)
        slices = [pool.submit(_second_stage, i, spill_dir, jobs, flow, watermark) for i in range(jobs)]
        for sliced in slices:
            keep_highest(findings, sliced.result())
    ordered = sorted(findings.values(), key=lambda f: (f.detected_at, f.id))
    return RunResult(stats, ordered)


def default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))
