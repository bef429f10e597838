"""Open-loop decide latency of ``pushguard serve`` on loopback, at fixed rates, with one or several
worker processes; bounded in requests, connections and time.

    python benchmarks/decide_latency.py [--rates 200,500,1000] [--seconds 10]
        [--setups sqlite:1,redis:1,redis:2] [--identities 1000]

Each setup is STORE:WORKERS: ``sqlite:1`` is one process over a SQLite state; ``redis:N`` is N processes
sharing a Redis state (``--redis-url``, default the test database 15, under a prefix of its own that is
deleted afterwards). The state is seeded with a week of answered pushes of ``--identities`` identities
(``analyze --state``, or ``ingest`` + ``worker --drain``), then ``POST /v1/decide`` is sent at each rate
for ``--seconds``. Open loop: request n is due at start + n/rate whatever the answers before it, and its
latency is measured from that due time, so a server that falls behind shows it as queueing. The client
is asyncio over raw keep-alive connections (up to ``--connections``) with the requests built beforehand,
so its own cost per request stays small next to the server's. Only 127.0.0.1. Prints p50 / p99 / max,
the achieved rate and the errors per setup and rate; asserts nothing (the figures are for the notes)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis

from pushguard.api import KeyStore, Scope
from pushguard.simulate import okta_records as okta

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MAX_CONNECTIONS = 256
GRACE_S = 30.0  # a run ends at most this long after its last request was due


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def home_ip(n: int) -> str:
    return f"88.160.{n // 250}.{n % 250 + 1}"


def write_history(path: Path, identities: int, days: int) -> int:
    """A week of answered pushes, one a day per identity, as Okta JSON Lines."""
    count = 0
    with path.open("w") as out:
        for day in range(days, 0, -1):
            moment = T0 - timedelta(days=day)
            for n in range(identities):
                user, ip = f"user{n}@example.com", home_ip(n)
                out.write(json.dumps(okta.push_sent(moment, user, ip, "paris", seed=f"s{day}-{n}")) + "\n")
                answer = okta.push_answer(
                    moment + timedelta(seconds=5), user, ip, "paris", True, seed=f"a{day}-{n}"
                )
                out.write(json.dumps(answer) + "\n")
                count += 2
    return count


def decide_request(n: int, identities: int, token: str) -> bytes:
    body = json.dumps(
        {
            "operation": "push",
            "identity": f"user{n % identities}@example.com",
            "time": "2026-03-02T09:00:00Z",
            "ip": f"198.51.100.{n % 250}",
            "factor": "okta_verify_push",
        }
    ).encode()
    head = (
        "POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        """Send one request, read its whole answer; the status."""
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def load(
    port: int, requests: list[bytes], rate: float, seconds: float, connections: int
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    opened: list[Connection] = []
    for _ in range(connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = Connection(reader, writer)
        opened.append(conn)
        idle.put_nowait(conn)
    latencies: list[float] = []
    errors = 0

    async def one(request: bytes, due: float) -> None:
        nonlocal errors
        conn = await idle.get()  # waiting for a free connection is queueing too: it counts
        try:
            ok = await conn.exchange(request) == 200
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            conn = Connection(reader, writer)
            opened.append(conn)
        latencies.append(loop.time() - due)
        errors += not ok
        idle.put_nowait(conn)

    total = int(rate * seconds)
    began = loop.time() + 0.05
    tasks = []
    for n in range(total):
        due = began + n / rate
        pause = due - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one(requests[n % len(requests)], due)))
    _, late = await asyncio.wait(tasks, timeout=GRACE_S)
    for task in late:
        task.cancel()
    elapsed = loop.time() - began
    for conn in opened:
        conn.writer.close()
    ordered = sorted(latencies)
    return {
        "sent": total,
        "answered": len(ordered),
        "errors": errors + len(late),
        "achieved": len(ordered) / elapsed if elapsed > 0 else 0.0,
        "p50_ms": statistics.median(ordered) * 1000 if ordered else float("nan"),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        if ordered
        else float("nan"),
        "max_ms": ordered[-1] * 1000 if ordered else float("nan"),
    }


def run_setup(
    store: str, workers: int, args: argparse.Namespace, history: Path
) -> list[tuple[float, dict[str, float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "PUSHGUARD_KEYS_FILE": str(root / "keys.json"), "PUSHGUARD_LOG_LEVEL": "WARNING"}
        _, token = KeyStore(root / "keys.json").create("load", [Scope.DECIDE])
        prefix = f"pgbench-{uuid.uuid4().hex[:8]}"
        tool = [sys.executable, "-m", "pushguard"]
        if store == "sqlite":
            env["PUSHGUARD_STATE"] = str(root / "state.sqlite")
            subprocess.run(
                [*tool, "analyze", str(history), "--state", env["PUSHGUARD_STATE"], "-q"], check=True
            )
        else:
            env.update(
                PUSHGUARD_REDIS_URL=args.redis_url,
                PUSHGUARD_REDIS_PREFIX=prefix,
                PUSHGUARD_STATE=str(root / "s"),
            )
            quiet = {"stdout": subprocess.DEVNULL, "check": True}
            subprocess.run(
                [*tool, "ingest", str(history), "--redis-url", args.redis_url, "--prefix", prefix], **quiet
            )  # type: ignore[call-overload]
            subprocess.run(
                [*tool, "worker", "--drain", "--redis-url", args.redis_url, "--prefix", prefix], **quiet
            )  # type: ignore[call-overload]
        port = free_port()
        server = subprocess.Popen(
            [*tool, "serve", "--port", str(port), *(["--workers", str(workers)] if workers > 1 else [])],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, workers)
            requests = [decide_request(n, args.identities, token) for n in range(args.identities)]
            asyncio.run(load(port, requests, 200.0, 2.0, 32))  # warm-up: connections, caches, CEL
            results = []
            for rate in args.rates:
                connections = min(MAX_CONNECTIONS, max(16, int(rate / 8)))
                results.append((rate, asyncio.run(load(port, requests, rate, args.seconds, connections))))
            return results
        finally:
            server.terminate()
            server.wait(timeout=30)
            if store == "redis":
                client = redis.Redis.from_url(args.redis_url)
                keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
                if keys:
                    client.delete(*keys)
                client.close()


def wait_ready(port: int, workers: int) -> None:
    deadline = time.monotonic() + 60
    answered = 0
    while time.monotonic() < deadline and answered < 3 * workers:
        try:
            with httpx.Client(timeout=1.0) as fresh:  # new connections reach each worker in turn
                answered += fresh.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
        except httpx.HTTPError:
            time.sleep(0.2)
    if answered < 3 * workers:
        raise SystemExit("the server did not start")
    time.sleep(2.0)  # the last workers finish importing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rates", default="200,500,1000", help="decide requests per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--setups", default="sqlite:1,redis:1,redis:2", help="STORE:WORKERS, comma-separated")
    parser.add_argument("--identities", type=int, default=1000)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.jsonl"
        records = write_history(history, args.identities, 7)
        print(f"history: {records:,} Okta records of {args.identities:,} identities; {os.cpu_count()} CPUs")
        print("setup          rate/s  achieved/s   p50 ms   p99 ms   max ms  errors")
        for setup in args.setups.split(","):
            store, _, workers = setup.partition(":")
            for rate, figures in run_setup(store, int(workers or 1), args, history):
                print(
                    f"{setup:<14} {rate:>6.0f} {figures['achieved']:>11.0f} {figures['p50_ms']:>8.2f} "
                    f"{figures['p99_ms']:>8.2f} {figures['max_ms']:>8.1f} {figures['errors']:>7.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
