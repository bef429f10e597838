"""Closed loop: time from the IdP event to the step-up in place, over many replayed push bombings.

    python benchmarks/closed_loop.py [--victims N] [--delivery-s S] [--vendor-ms MS] [--seed N]

Each victim has a week of their own pushes, then a bombing: 6 to 10 prompts 20-60 s apart from an
attacker address, the victim approving one of them (the 3rd to the last). Every record goes through the
service's ingestion (``Service.ingest``, as the Okta hook worker calls it) with the closed loop on, at
its event time plus ``--delivery-s`` (the Okta event hook's delay), on a simulated clock that also moves
by the real processing time and by ``--vendor-ms`` per vendor call (a mock Okta answers the group change).

Printed: time to control (first alarm's event → the control in place) p50/p90/p99, the part of it spent
in pushguard (received → in place), how many step-ups landed before the approved prompt, and before
which prompt the control landed. Times are seconds of the simulated clock; no real waiting."""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from pushguard.api import Service, ServiceConfig
from pushguard.model import Control
from pushguard.respond.credentials import build_responder
from pushguard.respond.outbox import OutboxEntry
from pushguard.respond.vendor import Responder
from pushguard.simulate import okta_records as okta

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STEP_UP = "00g-bench-stepup"
HOME, ATTACKER = "88.160.137.23", "203.0.113.66"
Record = dict[str, Any]


class SimClock:
    """Simulated time: set per delivery, then advanced by real processing time and vendor calls."""

    def __init__(self) -> None:
        self.base = START
        self.since = time.perf_counter()

    def set(self, moment: datetime) -> None:
        self.base, self.since = moment, time.perf_counter()

    def advance(self, seconds: float) -> None:
        self.base += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self.base + timedelta(seconds=time.perf_counter() - self.since)


def mock_okta(clock: SimClock, vendor_s: float, members: set[str], rng: random.Random) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        clock.advance(vendor_s * rng.uniform(0.5, 1.5))
        path = request.url.path
        if request.method == "GET" and path.startswith("/api/v1/users/"):
            login = path.rsplit("/", 1)[1]
            return httpx.Response(200, json={"id": f"00u-{login}", "status": "ACTIVE"})
        if path.startswith(f"/api/v1/groups/{STEP_UP}/users/") and request.method in ("PUT", "DELETE"):
            user = path.rsplit("/", 1)[1]
            (members.add if request.method == "PUT" else members.discard)(user)
            return httpx.Response(204)
        return httpx.Response(404, json={"errorSummary": "not found"})

    return httpx.Client(transport=httpx.MockTransport(handle))


def timeline(victim: str, start: datetime, rng: random.Random) -> tuple[list[tuple[datetime, Record]], int]:
    """(event time, record) of the victim's week and bombing; the approved prompt's number."""
    records: list[tuple[datetime, Record]] = []
    week_end = min(start, START + timedelta(days=7))  # every victim's week ends before the first bombing
    for day in range(1, 8):
        moment = week_end - timedelta(days=day, minutes=rng.uniform(0, 120))
        records.append((moment, okta.push_sent(moment, victim, HOME, "paris", seed=f"{victim}h{day}")))
        answer = moment + timedelta(seconds=6)
        records.append(
            (answer, okta.push_answer(answer, victim, HOME, "paris", True, seed=f"{victim}ok{day}"))
        )
    prompts = rng.randint(6, 10)
    approved = rng.randint(3, prompts)
    moment = start
    for n in range(1, prompts + 1):
        records.append((moment, okta.push_sent(moment, victim, ATTACKER, "lagos", seed=f"{victim}b{n}")))
        if n == approved:
            answer = moment + timedelta(seconds=rng.uniform(4, 12))
            records.append((answer, okta.push_answer(answer, victim, HOME, "paris", True, seed=f"{victim}y")))
            break  # the attacker is in: the bombing stops
        moment += timedelta(seconds=rng.uniform(20, 60))
    return records, approved


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victims", type=int, default=200)
    parser.add_argument("--delivery-s", type=float, default=10.0, help="log delivery delay, mean")
    parser.add_argument("--jitter-s", type=float, default=5.0, help="delay uniform in mean ± this")
    parser.add_argument("--vendor-ms", type=float, default=150.0, help="simulated time per vendor call")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    clock = SimClock()
    members: set[str] = set()
    client = mock_okta(clock, args.vendor_ms / 1000, members, rng)
    env = {"PUSHGUARD_OKTA_ORG_URL": "https://bench.okta.example", "PUSHGUARD_OKTA_API_TOKEN": "bench"}

    def responders(vendor: str) -> Responder:
        return build_responder(vendor, env, client=client, max_attempts=1)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "enforcement.yaml").write_text(
            f"okta:\n  groups:\n    step_up: {STEP_UP}\ndry_run: false\n"
        )
        config = ServiceConfig(
            state=":memory:",
            keys_file=str(folder / "keys.json"),
            advance_every_s=0,
            reorder_window_s=0,
            enforcement=str(folder / "enforcement.yaml"),
            enforcement_execute=True,
            enforcement_state=str(folder / "enforcement.json"),
            audit_log=str(folder / "audit.jsonl"),
        )
        service = Service(config, clock=clock, responders=responders)
        assert service.closed_loop is not None
        closed: list[OutboxEntry] = []
        service.closed_loop.observers.append(closed.append)
        landed_with: list[int | None] = []  # per victim: the prompt whose delivery put the control in
        approved_at: dict[str, datetime] = {}  # victim → the prompt they approve
        missed: list[str] = []  # victims never stepped up
        wall = time.perf_counter()
        # every victim's week first (the service skips events older than those it applied), then the
        # bombings one after the other, three hours apart
        plans = []
        for index in range(args.victims):
            victim = f"user{index:04d}@corp.example"
            start = START + timedelta(days=7, hours=3 * index)
            plans.append((victim, start, *timeline(victim, start, rng)))
        history = sorted(
            ((at, r) for _, start, records, _ in plans for at, r in records if at < start), key=lambda p: p[0]
        )
        clock.set(START + timedelta(days=7))
        service.ingest([r for _, r in history], None, "bench")
        for victim, start, records, approved in plans:
            prompt = 0
            landed: int | None = None
            user = f"00u-{victim}"
            for at, record in ((at, r) for at, r in records if at >= start):
                is_prompt = record["eventType"] == "system.push.send_factor_verify_push"
                prompt += is_prompt
                if is_prompt and prompt == approved:
                    approved_at[victim] = at
                delay = args.delivery_s + rng.uniform(-args.jitter_s, args.jitter_s)
                clock.set(at + timedelta(seconds=max(delay, 0.0)))
                service.ingest([record], None, "okta-hook")
                if landed is None and user in members:
                    landed = prompt
            landed_with.append(landed)
            if landed is None:
                missed.append(f"{victim} (approved prompt {approved} of {prompt})")
        wall = time.perf_counter() - wall
        service.close()
    performed = [e for e in closed if e.outcome == "performed" and e.intent.control is Control.ADD_TO_GROUP]
    lifted = sum(
        1 for e in closed if e.outcome == "performed" and e.intent.control is Control.REMOVE_FROM_GROUP
    )
    to_control = [e.time_to_control_s for e in performed if e.time_to_control_s is not None]
    inside = [e.since_received_s for e in performed if e.since_received_s is not None]
    print(
        f"{args.victims} bombings, delivery delay {args.delivery_s:g} ± {args.jitter_s:g} s, "
        f"vendor call {args.vendor_ms:g} ms ± 50%"
    )
    print(f"step-ups applied: {len(performed)}, lifted at expiry: {lifted}; wall time {wall:.1f} s")
    if to_control:
        print(
            "time to control (event → in place): "
            f"p50 {percentile(to_control, 0.5):.2f} s, p90 {percentile(to_control, 0.9):.2f} s, "
            f"p99 {percentile(to_control, 0.99):.2f} s, max {max(to_control):.2f} s"
        )
        print(
            "  of which in pushguard (received → in place): "
            f"p50 {percentile(inside, 0.5) * 1000:.0f} ms, p99 {percentile(inside, 0.99) * 1000:.0f} ms"
        )
    landed_at = {e.intent.identity: datetime.fromisoformat(e.applied_at or "") for e in performed}
    contained = sum(1 for v, at in approved_at.items() if v in landed_at and landed_at[v] < at)
    print(f"victim in the step-up group before the prompt they approve: {contained}/{args.victims}")
    counts: dict[str, int] = {}
    for landed in landed_with:
        key = "never" if landed is None else f"with prompt {landed}"
        counts[key] = counts.get(key, 0) + 1
    if missed:
        print(f"never stepped up ({len(missed)}): " + ", ".join(missed[:5]))
    print("control landed on the delivery of: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
