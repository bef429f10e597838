"""Records/s of `pushguard analyze` next to plain JSON parsing of the same Okta log, in one run; and of
reading + parsing alone (no enrichment, no detection), each record decoded into a dict then mapped (the
plain path) or decoded straight into the typed OktaLogEvent Struct then mapped (the typed path).

    python benchmarks/analyze_okta.py [--records N] [--users N]

The figure that matters is the ratio: both sides read the same file on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from pushguard.enrich import AliasMap
from pushguard.flow import analyze
from pushguard.pipeline import RunStats, parse_items
from pushguard.simulate import okta_records as okta
from pushguard.sources.readers import Decoded, RawItem, read_file, read_records


def generate(path: Path, records: int, users: int, seed: int = 1, every_user: bool = False) -> int:
    """Okta-shaped traffic: pushes sent and approved, sign-ins, some denials and a few bursts.
    ``every_user``: the first ``users`` batches go to each user once, so all of them appear."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    step = timedelta(seconds=max(1.0, 30 * 86400 / records))
    encoder = msgspec.json.Encoder()
    written = batches = 0
    moment = start
    with path.open("wb") as handle:
        while written < records:
            number = batches if every_user and batches < users else rng.randrange(users)
            batches += 1
            login = f"user{number:06d}@example.com"
            ip = f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
            place = rng.choice(("paris", "lyon", "newyork"))
            roll = rng.random()
            batch = [okta.push_sent(moment, login, ip, place)]
            if roll < 0.80:
                batch.append(okta.push_answer(moment + timedelta(seconds=6), login, ip, place, approved=True))
            elif roll < 0.85:
                batch.append(okta.deny_push(moment + timedelta(seconds=9), login, ip, place))
            elif roll < 0.95:
                batch = [okta.session_start(moment, login, ip, place)]
            for record in batch:
                handle.write(encoder.encode(record))
                handle.write(b"\n")
                written += 1
            moment += step
    return written


def raw_parse(path: Path) -> tuple[float, int]:
    decoder = msgspec.json.Decoder()
    count = 0
    began = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            decoder.decode(line)
            count += 1
    return time.perf_counter() - began, count


def stdlib_parse(path: Path) -> float:
    began = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - began


def read_and_parse(path: Path, reader: Callable[[Path], Iterator[RawItem | Decoded]]) -> float:
    """Seconds to read and parse every record into Events, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _event in parse_items(reader(path), RunStats(), None, AliasMap()):
            pass
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "okta.jsonl"
        count = generate(path, args.records, args.users)
        size_mb = path.stat().st_size / 1e6
        raw_s, _ = raw_parse(path)
        std_s = stdlib_parse(path)
        plain_s = read_and_parse(path, read_file)
        typed_s = read_and_parse(path, read_records)
        began = time.perf_counter()
        result = analyze([path])
        analyze_s = time.perf_counter() - began
        tracemalloc.start()
        analyze([path])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"records: {count:,} ({size_mb:.0f} MB JSON Lines), identities: {args.users:,}")
    print(f"raw JSON parse (msgspec):   {count / raw_s:12,.0f} records/s")
    print(f"raw JSON parse (json):      {count / std_s:12,.0f} records/s")
    print(f"read + parse, plain dicts:  {count / plain_s:12,.0f} records/s ({plain_s / count * 1e6:5.1f} µs)")
    print(f"read + parse, typed Struct: {count / typed_s:12,.0f} records/s ({typed_s / count * 1e6:5.1f} µs)")
    print(f"ratio typed / plain read + parse:  {plain_s / typed_s:.3f}")
    print(f"pushguard analyze:          {count / analyze_s:12,.0f} records/s")
    print(f"ratio analyze / raw msgspec parse: {raw_s / analyze_s:.3f}")
    print(f"ratio analyze / raw json parse:    {std_s / analyze_s:.3f}")
    print(f"findings: {len(result.findings)}, events: {result.stats.events:,}")
    print(f"peak traced memory during analyze: {peak / 1e6:.0f} MB ({peak / args.users:,.0f} B per identity)")


if __name__ == "__main__":
    main()
