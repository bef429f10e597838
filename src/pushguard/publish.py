"""Raw records on the partition streams: parsing one record (ingest and worker alike) and ``ingest``.

Ingest reads files like ``analyze`` does (each file in event-time order, files merged by (time, provider,
event id)) and puts each record, as its raw JSON, on the partition of its identity in that order, so a
worker sees an identity's records in the order ``analyze`` would. The record is parsed here only to find
its identity and time; the worker parses it again (and enriches it) when it processes it."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from pushguard.enrich import AliasMap
from pushguard.model import Event, InputError, Provider, RawRef
from pushguard.pipeline import RunStats, event_order, keyed_file_events, parse_record
from pushguard.sources import BY_PROVIDER
from pushguard.sources.readers import expand_paths, read_file
from pushguard.store.streams import Outgoing, StreamBus

PUBLISH_BATCH = 1000  # records per ingest transaction
_json = msgspec.json.Encoder()


@dataclass
class IngestStats:
    run: RunStats = field(default_factory=RunStats)
    published: int = 0
    duplicates: int = 0  # records ingested before (a collector's overlap, a file given twice)
    dead: int = 0


def _file_records(
    path: Path,
    stats: IngestStats,
    bus: StreamBus,
    provider: Provider | None,
    aliases: AliasMap,
) -> Iterator[tuple[tuple[float, str, str], Outgoing]]:
    """One file's usable records in event-time order (by their first event); broken ones dead-lettered."""
    waiting: dict[tuple[str, int], bytes] = {}  # record JSON until its first event leaves the reorder buffer

    def events() -> Iterator[Event]:
        for item in read_file(path):
            stats.run.records += 1
            if item.record is None:
                reason = item.error or "unreadable record"
                stats.run.error(item.where, reason)
                bus.dead_letter(item.where, reason, None)
                stats.dead += 1
                continue
            ref = RawRef(source=item.source, position=item.position)
            parsed = parse_record(item.record, ref, provider, aliases)
            if parsed.error is not None:
                stats.run.error(item.where, parsed.error)
                bus.dead_letter(item.where, parsed.error, _json.encode(item.record))
                stats.dead += 1
            elif parsed.unmapped is not None:
                stats.run.unmapped[parsed.unmapped] += 1
            elif parsed.events:
                waiting[(item.source, item.position)] = _json.encode(item.record)
                yield from parsed.events

    for order, event in keyed_file_events(events(), stats.run):
        raw = event.raw
        record = None if raw is None else waiting.pop((raw.source, raw.position), None)
        if record is None:
            continue  # a later event of a record already sent: the worker gets all of them from it
        key = f"{event.provider.value}|{event.event_id}"
        yield order, Outgoing(event.identity, key, record, event.ts, event.provider.value)


def ingest(
    inputs: Sequence[str | Path],
    bus: StreamBus,
    *,
    provider: Provider | None = None,
    aliases: AliasMap | None = None,
    batch: int = PUBLISH_BATCH,
) -> IngestStats:
    """Put every usable record of the inputs on its partition stream, in event-time order."""
    stats = IngestStats()
    alias_map = aliases or AliasMap()
    if provider is not None and provider not in BY_PROVIDER:
        raise InputError(f"no parser reads records of provider {provider.value!r}")
    files = []
    for path in expand_paths(inputs):
        stats.run.files += 1
        files.append(_file_records(path, stats, bus, provider, alias_map))
    pending: list[Outgoing] = []
    for _, outgoing in heapq.merge(*files, key=lambda item: item[0]):
        pending.append(outgoing)
        if len(pending) >= batch:
            _publish(bus, pending, stats)
            pending = []
    _publish(bus, pending, stats)
    return stats


def publish_records(
    records: Sequence[tuple[str, int, dict[str, Any]]],
    bus: StreamBus,
    *,
    provider: Provider | None = None,
    aliases: AliasMap | None = None,
) -> IngestStats:
    """Records that arrive page by page (a collector: file, line, record) onto their partitions, the
    page in event-time order. Sending a page again (a collector resuming) publishes nothing twice."""
    stats = IngestStats()
    alias_map = aliases or AliasMap()
    batch: list[tuple[tuple[float, str, str], Outgoing]] = []
    for source, line, record in records:
        stats.run.records += 1
        where = f"{source}:{line}"
        parsed = parse_record(record, RawRef(source=source, position=line), provider, alias_map)
        if parsed.error is not None:
            stats.run.error(where, parsed.error)
            bus.dead_letter(where, parsed.error, _json.encode(record))
            stats.dead += 1
        elif parsed.unmapped is not None:
            stats.run.unmapped[parsed.unmapped] += 1
        elif parsed.events:
            first = min(parsed.events, key=event_order)
            key = f"{first.provider.value}|{first.event_id}"
            batch.append(
                (
                    event_order(first),
                    Outgoing(first.identity, key, _json.encode(record), first.ts, first.provider.value),
                )
            )
    batch.sort(key=lambda item: item[0])
    _publish(bus, [outgoing for _, outgoing in batch], stats)
    return stats


def _publish(bus: StreamBus, batch: list[Outgoing], stats: IngestStats) -> None:
    new = bus.publish(batch)
    stats.published += new
    stats.duplicates += len(batch) - new
