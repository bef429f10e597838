"""The driver of ``analyze --jobs N``: N processes (``parallel.worker``), each owning a share of the
identities end to end, stepped through the run in lock-step.

    1. parse: processes take the files, and byte ranges of large JSON Lines files, as they get free,
       and keep the events they parse. Each tells the driver its events per account and the names the
       identity resolver could join accounts by (``links``).
    2. route: the driver groups the accounts that may be one person and spreads the groups over the
       processes by their event counts; each event not parsed where its group lives is sent there
       (half of them on two processes), the rest stay in memory.
    3. resolve: each process merges its events in the one-process order, links accounts to their person
       as one process would (its groups are closed under linking), and learns the organisation table;
       the tables merge into the one a single process would have learnt.
    4. detect: the per-identity detectors (``pipeline.Engine``) run where the events are. An event some
       second-stage detector (keyed by IP, ASN) wants is kept with a view of the profile at that moment.
    5. second stage: a key only one process saw is run there, from memory; a key several saw is given
       to one of them (spread by events), and only those events travel.

The order inside an identity and the profile each second-stage detector sees are the one-process ones,
so the findings are too (tested). State lives in memory for the run: ``--jobs`` does not take
``--state``, and the parsed events of the run are held in memory (about 2 KB each) until detected."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

from pushguard.detect.org import OrgTable
from pushguard.flow import Flow
from pushguard.model import Finding
from pushguard.parallel.links import plan_keys, plan_partitions
from pushguard.parallel.worker import Cost, ParseTask, Shared, work
from pushguard.pipeline import MAX_ERRORS_KEPT, RunResult, RunStats
from pushguard.sources import progress
from pushguard.sources.readers import expand_paths, jsonl_ranges
from pushguard.store.base import keep_highest

SPLIT_MIN_BYTES = 16 << 20  # JSON Lines files larger than this are parsed in several byte ranges
RANGES_PER_JOB = 3  # byte ranges per process of a large file: small enough for the processes to even out

# Told from a thread of the caller's process: a stage ("detecting"), its work done and its total
StageListener = Callable[[str, int, int], None]
DETECTING = "detecting"
T = TypeVar("T")


def merge_stats(into: RunStats, other: RunStats) -> None:
    for spec in fields(RunStats):
        mine, theirs = getattr(into, spec.name), getattr(other, spec.name)
        if isinstance(mine, Counter):
            mine.update(theirs)
        elif isinstance(mine, list):
            mine.extend(theirs[: max(0, MAX_ERRORS_KEPT - len(mine))])
        else:
            setattr(into, spec.name, mine + theirs)


@dataclass
class JobsProfile:
    """Where a ``--jobs`` run's time went: wall seconds from the start to each step's end (the slowest
    process sets it), and each process's CPU per step and what it sent (``worker.Cost``)."""

    wall_s: dict[str, float] = field(default_factory=dict)
    processes: list[Cost] = field(default_factory=list)
    fell_back: bool = False  # a second-stage key turned up where the plan did not foresee it: run again
    _start: float = field(default_factory=time.perf_counter)

    def lap(self, step: str, value: T) -> T:
        self.wall_s[step] = time.perf_counter() - self._start
        return value


class JobsProcessError(RuntimeError):
    """A ``--jobs`` process died without saying why (killed, out of memory)."""


@dataclass
class _Team:
    processes: list[BaseProcess]
    conns: list[Connection]

    def gather(self, kind: str) -> list[Any]:
        """Every process's next message, which must be ``kind``; a process's exception is raised here."""
        replies: dict[int, Any] = {}
        while len(replies) < len(self.conns):
            waiting = {conn: n for n, conn in enumerate(self.conns) if n not in replies}
            sentinels = {self.processes[n].sentinel: n for n in waiting.values()}
            for ready in wait([*waiting, *sentinels]):
                if isinstance(ready, Connection):
                    n = waiting[ready]
                    replies[n] = self._message(n, kind)
                elif isinstance(ready, int) and not self.conns[sentinels[ready]].poll():
                    n = sentinels[ready]
                    code = self.processes[n].exitcode
                    raise JobsProcessError(f"--jobs process {n} ended without a word (exit code {code})")
        return [replies[n] for n in range(len(self.conns))]

    def _message(self, n: int, kind: str) -> Any:
        try:
            message = self.conns[n].recv()
        except EOFError:
            raise JobsProcessError(f"--jobs process {n} ended without a word") from None
        if message[0] == "error":
            exc, text = message[1], message[2]
            if isinstance(exc, BaseException):
                exc.add_note(f"in --jobs process {n}:\n{text}")
                raise exc
        if message[0] != kind:
            raise JobsProcessError(f"--jobs process {n}: expected {kind!r}, got {message[0]!r}")
        return message[1:]

    def tell(self, *message: Any) -> None:
        for conn in self.conns:
            conn.send(message)

    def stop(self, failed: bool) -> bool:
        """The processes end and are waited for: at once when the run failed (an exception is on its
        way), after their last word otherwise."""
        for process in self.processes:
            if failed and process.exitcode is None:
                process.terminate()
            process.join()
        for conn in self.conns:
            conn.close()
        self.processes, self.conns = [], []
        return False  # an exception goes on

    def barrier(self) -> None:
        """Every process has written what it sends to the others: they may read."""
        self.gather("sent")
        self.tell("go")


@contextmanager
def _relay(
    shared: Shared,
    totals: dict[str, int],
    on_bytes: progress.Listener | None,
    on_stage: StageListener | None,
    every_s: float = 0.2,
) -> Iterator[None]:
    """Pass the processes' counts on to the listeners from a thread, until the block ends."""
    done = threading.Event()

    def relay() -> None:
        told, detected = 0, -1
        while True:
            stop = done.wait(every_s)
            now = shared.read.value
            if on_bytes is not None and now > told:
                on_bytes(now - told)
                told = now
            total = totals.get(DETECTING)
            if on_stage is not None and total is not None and shared.detected.value != detected:
                detected = shared.detected.value
                on_stage(DETECTING, detected, total)
            if stop:
                return

    thread = threading.Thread(target=relay, name="pushguard-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def parse_tasks(paths: Sequence[Path], jobs: int, split_min_bytes: int) -> list[ParseTask]:
    """The files and byte ranges to parse in the order the processes take them: the files read whole
    first, then the byte ranges, largest first, so that the last ones taken are small and the processes
    finish together."""
    tasks: list[tuple[bool, int, ParseTask]] = []
    for file_index, path in enumerate(paths):
        split = jsonl_ranges(path, jobs * RANGES_PER_JOB, split_min_bytes)
        if split is None:
            tasks.append((False, path.stat().st_size, ParseTask(file_index, path, None)))
        else:
            tasks.extend(
                (True, end - start, ParseTask(file_index, path, (start, end))) for start, end in split
            )
    return [task for _, _, task in sorted(tasks, key=lambda item: (item[0], -item[1]))]


def analyze_parallel(
    inputs: Sequence[str | Path],
    jobs: int,
    *,
    flow: Flow | None = None,
    split_min_bytes: int = SPLIT_MIN_BYTES,
    on_bytes: progress.Listener | None = None,
    on_stage: StageListener | None = None,
    inline: bool = True,
    profile: JobsProfile | None = None,
) -> RunResult:
    """Findings and counts of ``Flow.run`` over the same inputs, computed by ``jobs`` processes.
    ``on_bytes``: told the input bytes the processes have read; ``on_stage``: told the events detected
    of the total, once the reading is done (both from a thread of this process). ``inline=False``: every
    second-stage key waits for the second stage (what a run falls back to when a key the plan gave one
    process turns up in another). ``profile``: filled with where the time went."""
    profile = profile if profile is not None else JobsProfile()
    flow = flow or Flow()
    skipped: list[str] = []
    paths = expand_paths(inputs, skipped)
    jobs = max(1, jobs)
    tasks = parse_tasks(paths, jobs, split_min_bytes)
    context = multiprocessing.get_context()
    shared = Shared(context.Value("q", 0), context.Value("q", 0), context.Value("q", 0))
    totals: dict[str, int] = {}
    stats = RunStats(skipped_files=skipped)
    findings: dict[str, Finding] = {}
    with ExitStack() as scope:
        spill_dir = Path(scope.enter_context(tempfile.TemporaryDirectory(prefix="pushguard-jobs-")))
        team = _Team([], [])
        scope.push(lambda kind, _value, _trace: team.stop(failed=kind is not None))
        for index in range(jobs):
            mine, theirs = context.Pipe()
            process = context.Process(
                target=work,
                args=(index, jobs, theirs, tasks, flow, spill_dir, shared),
                name=f"pushguard-jobs-{index}",
                daemon=True,
            )
            process.start()
            theirs.close()
            team.processes.append(process)
            team.conns.append(mine)
        scope.enter_context(_relay(shared, totals, on_bytes, on_stage))

        parsed = profile.lap("parsed", team.gather("parsed"))
        watermark = 0.0
        for parse_stats, latest, _, _ in parsed:
            merge_stats(stats, parse_stats)
            watermark = max(watermark, latest)
        counts = [reply[3] for reply in parsed]
        route = plan_partitions([reply[2] for reply in parsed], counts, jobs, flow.people[0])
        totals[DETECTING] = sum(sum(table.values()) for table in counts)
        del parsed
        team.tell("route", route)
        team.barrier()

        org = OrgTable()
        usage: list[Counter[str]] = []
        for table, used in profile.lap("resolved", team.gather("resolved")):
            org.merge(table)
            usage.append(used)
        owners = plan_keys(usage, jobs, every_key=not inline)
        team.tell("detect", org, watermark, owners, inline)

        local = {key for used in usage for key in used if key not in owners}
        for detected_stats, unexpected in profile.lap("keyed", team.gather("keyed")):
            merge_stats(stats, detected_stats)
            if unexpected & local:  # a key one process ran as its own had events elsewhere too
                team.stop(failed=True)
                scope.close()
                profile.fell_back = True
                again = analyze_parallel(
                    inputs,
                    jobs,
                    flow=flow,
                    split_min_bytes=split_min_bytes,
                    on_stage=on_stage,
                    inline=False,
                    profile=profile,
                )
                return again
        team.tell("go")
        for found, cost in profile.lap("done", team.gather("done")):
            keep_highest(findings, found)
            profile.processes.append(cost)
    ordered = sorted(findings.values(), key=lambda f: (f.detected_at, f.id))
    return RunResult(stats, ordered)


def default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))
