"""Analysis speed next to its limits, in one run: raw JSON parsing, all detectors, a DuckDB SQL baseline.

    python benchmarks/analyze.py [--users 2000] [--days 14] [--seed 7] [--dir SIMULATED_DIR] [--jobs 2]
                                 [--identities 100000]

1. Simulates a multi-vendor tenant (Okta System Log, Entra sign-ins + audits, Duo auth logs) unless
   ``--dir`` names one already simulated.
2. records/s of raw JSON parsing of every file (msgspec into plain objects: the limit), of
   ``pushguard analyze`` with every registered detector and enrichment on one core, and with ``--jobs``.
3. On the Okta file alone: analyze vs the push-bombing rule as a DuckDB window query
   (``benchmarks/duckdb_baseline.py``), DuckDB on one thread and on all cores.
4. Bytes of stored state per identity (the SQLite state rows: profile + every detector's state), on the
   simulated tenant and on ``--identities`` synthetic Okta identities with a few events each.

Only the ratios matter; every figure comes from this run on this machine.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from pushguard.detect.registry import DETECTOR_TYPES
from pushguard.flow import analyze
from pushguard.model import Finding
from pushguard.parallel import analyze_parallel
from pushguard.simulate.scenario import simulate
from pushguard.sources.readers import expand_paths
from pushguard.store.redis import pack_state
from pushguard.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from benchmarks.analyze_okta import generate as generate_okta
from benchmarks.duckdb_baseline import bombing_users


def raw_parse(paths: list[Path]) -> tuple[float, int]:
    decoder = msgspec.json.Decoder()
    count = 0
    began = time.perf_counter()
    for path in paths:
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    decoder.decode(line)
                    count += 1
    return time.perf_counter() - began, count


def timed_analyze(paths: list[Path], jobs: int = 1) -> tuple[float, int, list[Finding]]:
    """(seconds, events, findings)."""
    began = time.perf_counter()
    result = analyze_parallel(paths, jobs) if jobs > 1 else analyze(paths)
    return time.perf_counter() - began, result.stats.events, result.findings


class StateSizes(msgspec.Struct):
    identities: int
    mean: float  # msgpack bytes, as the SQLite store keeps them
    p99: int
    peak: int
    packed_mean: float  # as the Redis store keeps them (zlib level 1 from a few hundred bytes)
    packed_p99: int


def state_bytes(paths: list[Path], state_file: Path) -> StateSizes:
    """Sizes of the per-identity state rows (profile + every detector's state) after analyze."""
    store = SqliteStore(state_file)
    try:
        analyze(paths, store=store)
    finally:
        store.close()
    with sqlite3.connect(state_file) as db:
        blobs = [row[0] for row in db.execute("SELECT value FROM state WHERE key NOT LIKE 'k:%'")]
    if not blobs:
        return StateSizes(0, 0.0, 0, 0, 0.0, 0)
    sizes = sorted(len(blob) for blob in blobs)
    packed = sorted(len(pack_state(blob)) for blob in blobs)
    at_p99 = int(len(sizes) * 0.99) - 1
    mean, packed_mean = statistics.fmean(sizes), statistics.fmean(packed)
    return StateSizes(len(sizes), mean, sizes[at_p99], sizes[-1], packed_mean, packed[at_p99])


def print_state_sizes(label: str, sizes: StateSizes) -> None:
    print(
        f"state per identity, {label}: {sizes.identities:,} identities, msgpack mean {sizes.mean:,.0f} B "
        f"(p99 {sizes.p99:,} B, max {sizes.peak:,} B); as Redis stores it mean {sizes.packed_mean:,.0f} B "
        f"(p99 {sizes.packed_p99:,} B)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="an already simulated directory to reuse")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--identities", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = args.dir
        if root is None:
            root = tmp / "tenant"
            began = time.perf_counter()
            simulate(args.seed, args.users, args.days, root)
            print(f"simulated {args.users:,} users x {args.days} days in {time.perf_counter() - began:.1f} s")
        paths = expand_paths([root])
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"detectors: {len(DETECTOR_TYPES)} ({', '.join(c.meta.id for c in DETECTOR_TYPES)})")

        raw_s, records = raw_parse(paths)
        one_s, events, findings = timed_analyze(paths)
        print(f"\nall vendors: {records:,} records, {size_mb:.0f} MB, {events:,} events")
        print(f"  findings                        {len(findings):12,}")
        print(f"  raw JSON parse (msgspec)        {records / raw_s:12,.0f} records/s")
        print(f"  analyze, all detectors, 1 core  {records / one_s:12,.0f} records/s")
        print(f"  ratio analyze / raw parse       {raw_s / one_s:12.3f}")
        if args.jobs > 1:
            many_s, _, many_findings = timed_analyze(paths, args.jobs)
            print(f"  analyze --jobs {args.jobs}                {records / many_s:12,.0f} records/s")
            print(f"  speed-up --jobs {args.jobs} / 1 core       {one_s / many_s:12.2f}x")
            print(f"  findings equal to 1 core        {many_findings == findings!s:>12}")

        okta = [p for p in paths if "okta" in p.parts[-2:][0] or p.name.startswith("system-log")]
        if okta:
            okta_raw_s, okta_records = raw_parse(okta)
            okta_s, _, _ = timed_analyze(okta)
            duck_s, rows = bombing_users(okta[0], threads=1)
            duck_all_s, _ = bombing_users(okta[0], threads=os.cpu_count() or 1)
            print(f"\nokta file: {okta_records:,} records")
            print(f"  raw JSON parse (msgspec)        {okta_records / okta_raw_s:12,.0f} records/s")
            print(f"  analyze, all detectors, 1 core  {okta_records / okta_s:12,.0f} records/s")
            print(f"  duckdb bombing rule, 1 thread   {okta_records / duck_s:12,.0f} records/s")
            print(f"  duckdb users over the limit     {len(rows):12,}")
            print(f"  duckdb bombing rule, all cores  {okta_records / duck_all_s:12,.0f} records/s")
            print(f"  ratio analyze / duckdb 1 thread {duck_s / okta_s:12.3f}")

        print()
        print_state_sizes("simulated tenant", state_bytes(paths, tmp / "tenant.sqlite"))
        synthetic = tmp / "okta-identities.jsonl"
        generate_okta(synthetic, records=args.identities * 3, users=args.identities, every_user=True)
        sizes = state_bytes([synthetic], tmp / "identities.sqlite")
        print_state_sizes("Okta identities with 3 records each on average", sizes)


if __name__ == "__main__":
    main()
