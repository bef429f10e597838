"""Decide latency through the HTTP service on loopback, at a fixed request rate, bounded in count and time.

    python benchmarks/api_load.py [--rate 200] [--seconds 10] [--identities 1000]

Starts ``pushguard serve`` (uvicorn, one process) on a free loopback port with a fresh state file and key,
then sends ``POST /v1/decide`` at ``--rate`` requests per second from one client (an open-loop schedule:
a slow answer does not slow the schedule down, so queueing shows in the latency). Prints p50 / p99 / max
latency, the achieved rate and the errors. Nothing is asserted: the figures are for the closing note."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from pushguard.api import KeyStore, Scope


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--identities", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "service.yaml"
        config.write_text(
            f"state: {Path(tmp) / 'state.sqlite'}\nkeys_file: {Path(tmp) / 'keys.json'}\nlog_level: WARNING\n"
        )
        _, token = KeyStore(Path(tmp) / "keys.json").create("load", [Scope.DECIDE])
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "pushguard", "serve", "--config", str(config), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        try:
            wait_ready(url)
            latencies: list[float] = []
            errors = 0
            total = int(args.rate * args.seconds)
            interval = 1.0 / args.rate
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=5.0) as client:
                began = time.perf_counter()
                for n in range(total):
                    due = began + n * interval
                    pause = due - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    body = {
                        "operation": "push",
                        "identity": f"user{n % args.identities}@example.com",
                        "time": "2026-03-02T09:00:00Z",
                        "ip": f"198.51.100.{n % 250}",
                        "factor": "okta_verify_push",
                    }
                    sent = time.perf_counter()
                    try:
                        response = client.post("/v1/decide", json=body)
                        ok = response.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    # latency from the scheduled time: includes any queueing behind earlier requests
                    latencies.append(time.perf_counter() - min(sent, due))
                    errors += not ok
                elapsed = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(timeout=10)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"requests: {total:,} at {args.rate:.0f}/s target, achieved {total / elapsed:,.0f}/s")
    print(f"decide over HTTP: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {latencies[-1] * 1000:.2f} ms")
    print(f"errors: {errors}")


if __name__ == "__main__":
    main()
