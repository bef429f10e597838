"""Decide latency through the HTTP service on loopback, at a fixed request rate, bounded in count and time.

    python benchmarks/api_load.py [--rate 300] [--seconds 10] [--identities 1000] [--ingest-batches 0]

Starts ``pushguard serve`` (uvicorn, one process) on a free loopback port with a fresh state file and
keys, seeds the state with the identities' history, warms up, then sends ``POST /v1/decide`` at ``--rate``
requests per second from one client (an open-loop schedule: a slow answer does not delay the next send
time, so queueing shows in the latency, measured from the scheduled send). With ``--ingest-batches N``
a second client posts N batches of Okta records to ``/v1/events`` meanwhile, so the figures show what
ingestion costs the decide path. Prints p50 / p99 / max, the achieved rate and the errors; asserts
nothing (the figures are for the closing note). The run ends after --seconds plus at most 30 s."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec

from pushguard.api import KeyStore, Scope
from pushguard.simulate import okta_records as okta

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def history(identities: int, batch: int, days: int) -> list[list[dict[str, Any]]]:
    """Okta records of answered pushes, one per identity and day, in batches of ``batch``."""
    records = []
    for day in range(days, 0, -1):
        moment = T0 - timedelta(days=day)
        for n in range(identities):
            user, ip = f"user{n}@example.com", home_ip(n)
            records.append(okta.push_sent(moment, user, ip, "paris", seed=f"s{day}-{n}"))
            records.append(
                okta.push_answer(moment + timedelta(seconds=5), user, ip, "paris", True, seed=f"a{day}-{n}")
            )
    return [records[i : i + batch] for i in range(0, len(records), batch)]


def home_ip(n: int) -> str:
    """Each identity's own home address (one address for all would be a spray, and slow to judge)."""
    return f"88.160.{n // 250}.{n % 250 + 1}"


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * share) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="decide requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the measured run")
    parser.add_argument("--identities", type=int, default=1000)
    parser.add_argument("--ingest-batches", type=int, default=0, help="event batches posted meanwhile")
    parser.add_argument("--batch", type=int, default=500, help="records per ingested batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "service.yaml"
        config.write_text(
            f"state: {Path(tmp) / 'state.sqlite'}\nkeys_file: {Path(tmp) / 'keys.json'}\n"
            "log_level: WARNING\nmax_body_bytes: 20000000\n"
        )
        _, token = KeyStore(Path(tmp) / "keys.json").create("load", [Scope.DECIDE, Scope.INGEST])
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "pushguard", "serve", "--config", str(config), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        headers = {"Authorization": f"Bearer {token}"}
        try:
            wait_ready(url)
            with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
                began = time.perf_counter()
                seeded = 0
                for batch in history(args.identities, 2000, 7):
                    client.post("/v1/events", json={"records": batch, "provider": "okta"}).raise_for_status()
                    seeded += len(batch)
                print(f"seeded {seeded:,} records in {time.perf_counter() - began:.1f} s")
                for n in range(200):  # warm-up: connections, CEL programs, SQLite pages
                    client.post("/v1/decide", json=decide_body(n, args.identities))
            ingest = Ingest(url, headers, args.ingest_batches, args.batch, args.identities)
            ingest.start()
            latencies, errors, total, elapsed = run(url, headers, args)
            ingest.join(timeout=30)
        finally:
            server.terminate()
            server.wait(timeout=10)
    latencies.sort()
    print(f"decide requests: {total:,} at {args.rate:.0f}/s target, achieved {total / elapsed:,.0f}/s")
    print(
        f"decide over HTTP: p50 {statistics.median(latencies) * 1000:.2f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms"
    )
    print(f"decide errors: {errors}")
    if args.ingest_batches:
        print(
            f"ingested meanwhile: {ingest.records:,} records in {ingest.batches} batches "
            f"({ingest.records / max(ingest.seconds, 1e-9):,.0f} records/s), errors {ingest.errors}"
        )


def decide_body(n: int, identities: int) -> dict[str, Any]:
    return {
        "operation": "push",
        "identity": f"user{n % identities}@example.com",
        "time": "2026-03-02T09:00:00Z",
        "ip": f"198.51.100.{n % 250}",
        "factor": "okta_verify_push",
    }


def run(url: str, headers: dict[str, str], args: argparse.Namespace) -> tuple[list[float], int, int, float]:
    latencies: list[float] = []
    errors = 0
    total = int(args.rate * args.seconds)
    interval = 1.0 / args.rate
    deadline = time.perf_counter() + args.seconds + 30  # bounded even when the server falls behind
    with httpx.Client(base_url=url, headers=headers, timeout=5.0) as client:
        began = time.perf_counter()
        sent_count = 0
        for n in range(total):
            due = began + n * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if time.perf_counter() > deadline:
                break
            try:
                ok = client.post("/v1/decide", json=decide_body(n, args.identities)).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - due)  # from the scheduled time: queueing included
            errors += not ok
            sent_count += 1
        elapsed = time.perf_counter() - began
    return latencies, errors, sent_count, elapsed


class Ingest(threading.Thread):
    """Posts batches of new Okta records (a day after the seeded history) while decide runs."""

    def __init__(self, url: str, headers: dict[str, str], batches: int, size: int, identities: int) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.count, self.size, self.identities = (
            url,
            headers,
            batches,
            size,
            identities,
        )
        self.records = self.batches = self.errors = 0
        self.seconds = 0.0

        self.bodies = [self.body(b) for b in range(batches)]  # built before the run: the client's own
        # CPU (and GIL) must not delay the decide client it shares the process with

    def body(self, b: int) -> bytes:
        batch = []
        for i in range(self.size):
            n = b * self.size + i
            who = n % self.identities
            moment = T0 + timedelta(seconds=n)
            batch.append(
                okta.push_sent(moment, f"user{who}@example.com", home_ip(who), "paris", seed=f"i{n}")
            )
        return msgspec.json.encode({"records": batch, "provider": "okta"})

    def run(self) -> None:
        if not self.count:
            return
        began = time.perf_counter()
        headers = {**self.headers, "content-type": "application/json"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60.0) as client:
            for body in self.bodies:
                try:
                    ok = client.post("/v1/events", content=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.errors += not ok
                self.records += self.size
                self.batches += 1
        self.seconds = time.perf_counter() - began


if __name__ == "__main__":
    main()
