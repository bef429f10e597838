"""Reading for the engine: records → linked, enriched events, each file put in event-time order and the
files merged (``pipeline`` feeds the result to the detectors; ``flow`` composes the two).

Detection runs in event-time order: files are merged by (time, provider, event id); a file written newest
first (Graph, Duo pages) is read whole and reversed, any other is streamed through a bounded reorder
buffer, and a record later than that buffer is still processed and counted as late."""

from __future__ import annotations

import heapq
import itertools
import operator
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushguard.enrich import AliasMap, Enricher
from pushguard.enrich.resolver import STATE_KEY as IDENTITIES_KEY
from pushguard.enrich.resolver import Conflict, IdentityResolver, Link
from pushguard.model import Event, InputError, Provider, RawRef
from pushguard.sources import (
    BY_PROVIDER,
    LINE_SOURCES,
    LineSource,
    ParseResult,
    RecordError,
    Source,
    Unmapped,
    detect_source,
)
from pushguard.sources.readers import Decoded, RawItem, expand_paths, read_records
from pushguard.store import Commit, StateStore

REORDER_BUFFER = 20_000  # records a file may be out of order by before they count as late
DESCENDING_PROBE = 64  # records looked at to tell a newest-first file
MAX_ERRORS_KEPT = 50  # bad records listed by position; all are counted


@dataclass
class RunStats:
    records: int = 0
    events: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    by_provider: Counter[str] = field(default_factory=Counter)
    replayed: int = 0  # at or before the position an earlier run applied: skipped
    duplicates: int = 0  # the same record again (same position in its file, or an id already applied)
    late: int = 0
    not_a_user: int = 0
    files: int = 0
    skipped_files: list[str] = field(default_factory=list)  # "<path>: <why>", files of a directory not read

    def error(self, where: str, reason: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERRORS_KEPT:
            self.error_samples.append(f"{where}: {reason}")


# -- reading and ordering -------------------------------------------------------------------------


UNKNOWN_SHAPE = "unknown record shape (no vendor recognised)"


@dataclass
class Parsed:
    """What one record gave: events, or why none (unmapped: not a record we use; error: broken)."""

    events: list[Event] = field(default_factory=list)
    unmapped: str | None = None
    error: str | None = None


def parse_record(
    record: Any,
    ref: RawRef,
    provider: Provider | None,
    aliases: AliasMap,
    enrichers: Sequence[Enricher] = (),
) -> Parsed:
    """One raw record (ingest, a stream worker): its linked, enriched events or why none; what
    ``parse_items`` does for each record of a file."""
    source = BY_PROVIDER[provider] if provider is not None else detect_source(record)
    if source is None:
        return Parsed(unmapped=UNKNOWN_SHAPE)
    return _as_parsed(_parsed(source, source.parse, record, ref, aliases, enrichers))


_VENDORS = {provider.value: provider for provider in Provider}


def parse_line(
    line: bytes,
    vendor: str,
    ref: RawRef,
    provider: Provider | None,
    aliases: AliasMap,
    enrichers: Sequence[Enricher] = (),
) -> Parsed | None:
    """One record's JSON read by the typed decoder of ``provider`` (else of ``vendor``, a Provider value:
    what ingest read the record as): what ``parse_record`` gives for it, or None when there is no such
    decoder or it refuses the line (read it the plain way then), as ``read_records`` does in a file."""
    named = provider or _VENDORS.get(vendor)
    source = LINE_SOURCES.get(named) if named is not None else None
    if source is None:
        return None
    value = source.decode_line(line)
    if value is None:
        return None
    if isinstance(value, Unmapped):  # told from the few fields that say so, the rest left unread
        return Parsed(unmapped=value.reason)
    return _as_parsed(_parsed(source, source.parse_decoded, value, ref, aliases, enrichers))


def _as_parsed(outcome: list[Event] | Unmapped | str) -> Parsed:
    if isinstance(outcome, Unmapped):
        return Parsed(unmapped=outcome.reason)
    if isinstance(outcome, str):
        return Parsed(error=outcome)
    return Parsed(outcome)


def _parsed(
    source: Source | LineSource,
    parse: Callable[[Any, RawRef], ParseResult],
    record: Any,
    ref: RawRef,
    aliases: AliasMap,
    enrichers: Sequence[Enricher],
) -> list[Event] | Unmapped | str:
    """The record's linked, enriched events, why none, or what is broken in it (a message): no object
    per record on the way (this runs for every record of a file)."""
    try:
        result = parse(record, ref)
    except RecordError as exc:
        return f"{source.provider.value}: {exc}"
    if isinstance(result, Unmapped):
        return result
    events = []
    for event in result:
        event = aliases.apply(event)
        for enrich in enrichers:
            event = enrich(event)
        events.append(event)
    return events


def parse_items(
    items: Iterable[RawItem | Decoded],
    stats: RunStats,
    provider: Provider | None,
    aliases: AliasMap,
    enrichers: Sequence[Enricher] = (),
) -> Iterator[Event]:
    """Raw records → enriched Events; every record that gives none is counted with its reason."""
    if provider is not None and provider not in BY_PROVIDER:
        raise InputError(f"no parser reads records of provider {provider.value!r}")
    forced = BY_PROVIDER[provider] if provider is not None else None
    source: Source | LineSource | None
    parse: Callable[[Any, RawRef], ParseResult]
    record: Any
    for item in items:
        stats.records += 1
        if isinstance(item, Decoded):  # read_records gives these only for the provider asked for
            record = item.value
            if record.__class__ is Unmapped:  # a line of a type no mapping takes (most of an Okta log)
                stats.unmapped[record.reason] += 1
                continue
            source, parse = item.parser, item.parser.parse_decoded
        else:
            record = item.record
            if record is None:
                stats.error(item.where, item.error or "unreadable record")
                continue
            source = forced or detect_source(record)
            if source is None:
                stats.unmapped[UNKNOWN_SHAPE] += 1
                continue
            parse = source.parse
        outcome = _parsed(
            source, parse, record, RawRef(source=item.source, position=item.position), aliases, enrichers
        )
        if isinstance(outcome, list):
            yield from outcome
        elif isinstance(outcome, Unmapped):
            stats.unmapped[outcome.reason] += 1
        else:
            stats.error(item.where, outcome)


Order = tuple[float, str, str]


def event_order(event: Event) -> Order:
    """(time, provider, event id): the order detection runs in."""
    return (event.ts, str(event.provider), event.event_id)


def keyed_file_events(events: Iterator[Event], stats: RunStats) -> Iterator[tuple[Order, Event]]:
    """One file's events in time order, each with its ``event_order`` (see the module docstring)."""
    head = [(event_order(event), event) for event in itertools.islice(events, DESCENDING_PROBE)]
    descending = sum(1 for a, b in itertools.pairwise(head) if b[0] < a[0])
    ascending = sum(1 for a, b in itertools.pairwise(head) if a[0] < b[0])
    if head and descending > ascending:
        everything = head + [(event_order(event), event) for event in events]
        everything.sort(key=operator.itemgetter(0))  # stable: equal keys keep the file's order
        yield from everything
        return
    last: Order | None = None
    for key, event in _reordered(itertools.chain(head, ((event_order(event), event) for event in events))):
        if last is not None and key < last:
            stats.late += 1
        elif last is None or key > last:
            last = key
        yield key, event


def _reordered(keyed: Iterator[tuple[Order, Event]]) -> Iterator[tuple[Order, Event]]:
    """Through a heap of REORDER_BUFFER events: a file slightly out of order comes out in order.

    While the file is in order (most are), the buffer is a queue: its oldest entry is then the heap's
    smallest, equal keys in arrival order, so the output is the heap's without its pushes and pops. The
    first entry out of order turns the queue into the heap for the rest of the file."""
    queue: deque[tuple[Order, Event]] = deque()
    last: Order | None = None
    for key, event in keyed:
        if last is not None and key < last:
            yield from _reordered_by_heap(queue, key, event, keyed)
            return
        last = key
        queue.append((key, event))
        if len(queue) > REORDER_BUFFER:
            yield queue.popleft()
    yield from queue


def _reordered_by_heap(
    queue: deque[tuple[Order, Event]], first: Order, first_event: Event, keyed: Iterator[tuple[Order, Event]]
) -> Iterator[tuple[Order, Event]]:
    # the queue is in order: as a list with increasing counters it is already a heap
    heap: list[tuple[Order, int, Event]] = [(k, n, e) for n, (k, e) in enumerate(queue)]
    counter = itertools.count(len(heap))
    for key, event in itertools.chain(((first, first_event),), keyed):
        if len(heap) < REORDER_BUFFER:
            heapq.heappush(heap, (key, next(counter), event))
            continue
        out_key, _, out = heapq.heappushpop(heap, (key, next(counter), event))
        yield out_key, out
    while heap:
        out_key, _, out = heapq.heappop(heap)
        yield out_key, out


def ordered_file_events(events: Iterator[Event], stats: RunStats) -> Iterator[Event]:
    """One file's events in time order."""
    for _, event in keyed_file_events(events, stats):
        yield event


def _in_partition(keyed: Iterator[tuple[Order, Event]], partition: str) -> Iterator[tuple[Order, Event, str]]:
    for key, event in keyed:
        yield key, event, partition


def merged_events(
    paths: Sequence[Path],
    stats: RunStats,
    provider: Provider | None,
    aliases: AliasMap,
    enrichers: Sequence[Enricher] = (),
    resolver: IdentityResolver | None = None,
) -> Iterator[tuple[Event, str]]:
    """Events of all files, merged by (time, provider, id), each with its partition (the file).
    ``resolver``: accounts linked to their person in that order (a link counts from the record that
    shows it on)."""
    streams = []
    for path in paths:
        stats.files += 1
        parsed = parse_items(read_records(path, provider), stats, provider, aliases, enrichers)
        # a generator function, not an expression: each stream keeps its own file as the partition
        streams.append(_in_partition(keyed_file_events(parsed, stats), str(path.resolve())))
    for _, event, partition in heapq.merge(*streams, key=operator.itemgetter(0)):
        yield (event if resolver is None else resolver(event)), partition


def stored_resolver(
    store: StateStore | None,
    aliases: AliasMap | None = None,
    directory: tuple[Sequence[Link], Sequence[Conflict]] = ((), ()),
    vendor_fields: bool = True,
) -> IdentityResolver:
    """The identity resolver with the links a state file keeps (none without one), the alias map and the
    directory's links and conflicts (``enrich.directory.load_directory``). ``vendor_fields=False``: no
    link from the records' own fields (what the stream workers do)."""
    blob = None if store is None else store.load([IDENTITIES_KEY]).get(IDENTITIES_KEY)
    links, conflicts = directory
    state = IdentityResolver.decode_state(blob)
    return IdentityResolver(aliases, state, links, conflicts, vendor_fields=vendor_fields)


def resolve_identities(
    inputs: Sequence[str | Path], resolver: IdentityResolver, provider: Provider | None = None
) -> RunStats:
    """Read logs only to link accounts (no detection, no enrichment): what ``pushguard identities``
    lists. The links are those a run of ``analyze`` over the same logs makes."""
    stats = RunStats()
    paths = expand_paths(inputs, stats.skipped_files)
    if not paths:
        raise InputError("no log files found in " + ", ".join(str(p) for p in inputs))
    for _ in merged_events(paths, stats, provider, resolver.aliases, (), resolver):
        stats.events += 1
    return stats


def save_resolver(store: StateStore, resolver: IdentityResolver) -> None:
    if resolver.learns:  # links, conflicts and the evidence they came from; nothing when it links nothing
        store.commit(Commit(states={IDENTITIES_KEY: resolver.encode_state()}))
