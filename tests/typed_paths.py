"""What the typed-path tests share: running items through parse_items, comparing a typed decoder's
outcome with the plain parse of the same line, and mutating records into odd shapes."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pushguard.enrich import AliasMap
from pushguard.model import Event, Provider, RawRef
from pushguard.pipeline import RunStats, parse_items
from pushguard.sources import LineSource, RecordError, Source, Unmapped
from pushguard.sources.readers import Decoded, RawItem, decode_json
from tests.conftest import FIXTURES, SHARED_SAMPLES

REF = RawRef(source="test", position=1)


def vendor_files(vendor: str, prefix: str = "") -> list[Path]:
    """The JSON Lines fixtures of a vendor, and ../shared/samples' when present."""
    files = sorted((FIXTURES / vendor).glob(f"{prefix}*.jsonl"))
    if (SHARED_SAMPLES / vendor).exists():
        files += sorted((SHARED_SAMPLES / vendor).glob(f"{prefix}*.jsonl"))
    return files


def run(items: Iterable[RawItem | Decoded], provider: Provider | None = None) -> tuple[Any, ...]:
    """(events, records, errors, error samples, unmapped reasons) of parse_items over ``items``."""
    stats = RunStats()
    events = list(parse_items(items, stats, provider, AliasMap()))
    return events, stats.records, stats.errors, stats.error_samples, stats.unmapped


def _outcome(parse: Any) -> list[Event] | Unmapped | RecordError:
    try:
        result: list[Event] | Unmapped = parse()
    except RecordError as exc:
        return exc
    return result


def _same(first: object, second: object) -> bool:
    if isinstance(first, Unmapped) and isinstance(second, Unmapped):
        return first.reason == second.reason
    if isinstance(first, RecordError) and isinstance(second, RecordError):
        return str(first) == str(second)
    return first == second


def typed_equals_plain(source: Source, decoder: LineSource, line: bytes) -> bool | None:
    """None when the typed decoder refuses the line; else whether it parses as the plain record does."""
    decoded = decoder.decode_line(line)
    if decoded is None:
        return None
    record = decode_json(line)
    typed = _outcome(lambda: decoder.parse_decoded(decoded, REF))
    return _same(typed, _outcome(lambda: source.parse(record, REF)))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def mutated(record: dict[str, Any], rng: random.Random, odd_values: list[Any]) -> dict[str, Any]:
    """``record`` with one to three values somewhere in it replaced by odd ones, or dropped."""
    record = copy.deepcopy(record)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(record)[1:]
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = record
        for step in path[:-1]:
            parent = parent[step]
        if rng.random() < 0.8 or isinstance(parent, list):
            parent[path[-1]] = copy.deepcopy(rng.choice(odd_values))
        else:
            del parent[path[-1]]
    return record
