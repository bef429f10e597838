"""Geo enrichment throughput: 100k events over 5k distinct public addresses, through the per-address
LRU cache and with the cache disabled (every event resolved), measured in one run.

    .venv/bin/python benchmarks/enrich_geo.py [--events N] [--distinct N] [--city-db X] [--asn-db Y]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime
from pathlib import Path

from pushguard.enrich.geo import GeoEnricher
from pushguard.model import Event, EventKind, Provider


def _addresses(count: int, rng: random.Random) -> list[str]:
    out: set[str] = set()
    while len(out) < count:
        first = rng.choice([1, 2, 3, 5, 8, 13, 23, 31, 41, 52, 62, 77, 81, 91, 104, 151, 185, 201, 213])
        out.add(f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}")
    return sorted(out)


def _events(total: int, addresses: list[str], rng: random.Random) -> list[Event]:
    when = datetime(2026, 3, 2, tzinfo=UTC)
    return [
        Event(
            provider=Provider.OKTA,
            event_id=f"e{i}",
            time=when,
            kind=EventKind.PUSH_SENT,
            identity="bench@corp.example",
            ip=rng.choice(addresses),
        )
        for i in range(total)
    ]


def _run(enricher: GeoEnricher, events: list[Event]) -> tuple[float, int]:
    found = 0
    start = time.perf_counter()
    for event in events:
        if enricher(event).geo is not None:
            found += 1
    return time.perf_counter() - start, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=5_000)
    parser.add_argument("--city-db", type=Path)
    parser.add_argument("--asn-db", type=Path)
    args = parser.parse_args()
    rng = random.Random(7)
    addresses = _addresses(args.distinct, rng)
    events = _events(args.events, addresses, rng)

    # Warm the bundled database's decoded blocks so both runs pay the same one-off cost.
    with GeoEnricher(args.city_db, args.asn_db, cache_size=0) as warm:
        warm_s, _ = _run(warm, [events[i] for i in range(0, len(events), max(1, len(events) // 5_000))])
        sources = warm.sources
    with GeoEnricher(args.city_db, args.asn_db, cache_size=args.distinct * 2) as cached:
        cached_s, cached_found = _run(cached, events)
        info = cached.lookup.cache_info()
    with GeoEnricher(args.city_db, args.asn_db, cache_size=0) as uncached:
        uncached_s, uncached_found = _run(uncached, events)
    assert cached_found == uncached_found

    print(f"sources: {', '.join(sources) or 'none'}")
    print(f"{args.events:,} events, {args.distinct:,} distinct addresses, {cached_found:,} enriched")
    print(f"warm-up (5k lookups):  {warm_s:.2f} s")
    print(f"cached:    {args.events / cached_s:>12,.0f} events/s  ({cached_s:.2f} s; hits {info.hits:,})")
    print(f"uncached:  {args.events / uncached_s:>12,.0f} events/s  ({uncached_s:.2f} s)")
    print(f"cache speed-up: {uncached_s / cached_s:.1f}x")


if __name__ == "__main__":
    main()
