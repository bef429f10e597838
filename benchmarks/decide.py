"""In-process latency of one decision with the default policy, next to the cost of one CEL evaluation.

    python benchmarks/decide.py [--requests N] [--identities N]

Each request is decided over a profile from a pool (quiet users, travellers, bombed users, NHIs): the
signals are computed, every rule runs, the Decision is built. The figure to read is the ratio of a
decision to one CEL evaluation, both measured in the same run on the same machine."""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import cel
import msgspec

from pushguard.decide import compute_signals, evaluate, load_policy
from pushguard.decide.testing import build_profile
from pushguard.model import DecisionRequest, IdentityProfile

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pool(identities: int, rng: random.Random) -> list[tuple[str, IdentityProfile]]:
    kinds: list[dict[str, Any]] = [
        {"history": True, "countries": ["FR"], "asns": ["3215"], "devices": ["d1"], "ips": ["198.51.100.7"]},
        {"history": True, "countries": ["FR"], "prompts": {"count": 3, "over": "1h"}},
        {"history": True, "prompts": {"count": 12, "over": "8m"}, "denials": {"count": 8, "over": "8m"}},
        {"history": True, "open_findings": {"push_bombing": {"severity": "high", "ago": "20m"}}},
        {"history": True, "resets": ["30m"], "denials": ["1h", "2h"]},
        {},
    ]
    found = []
    for n in range(identities):
        login = f"user{n:05d}@example.com"
        found.append((login, build_profile(login, NOW, rng.choice(kinds))))
    return found


def requests(count: int, identities: list[tuple[str, IdentityProfile]], rng: random.Random) -> list[Any]:
    made = []
    for _ in range(count):
        login, profile = rng.choice(identities)
        body = {
            "operation": "enroll" if rng.random() < 0.05 else "push",
            "identity": login,
            "time": NOW + timedelta(seconds=rng.randrange(60)),
            "ip": rng.choice(("198.51.100.7", "203.0.113.9")),
            "device_id": rng.choice(("d1", "d2")),
            "device_managed": rng.random() < 0.7,
            "app": rng.choice(("mail", "vpn", "aws-admin")),
            "app_sensitivity": rng.choice(("normal", "normal", "high", "privileged")),
            "factor": "okta_verify_push",
            "user_kind": "nhi" if rng.random() < 0.02 else "human",
            "geo": {"country": rng.choice(("FR", "FR", "BR")), "asn": rng.choice((3215, 16509))},
        }
        made.append((msgspec.convert(body, DecisionRequest), profile))
    return made


def percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--identities", type=int, default=2_000)
    args = parser.parse_args()
    rng = random.Random(7)
    policy = load_policy()
    work = requests(args.requests, pool(args.identities, rng), rng)

    for req, prof in work[:2000]:  # warm up
        evaluate(req, prof, policy)
    clock = time.perf_counter_ns
    decide_ns: list[int] = []
    outcomes: dict[str, int] = {}
    for req, prof in work:
        start = clock()
        decision = evaluate(req, prof, policy)
        decide_ns.append(clock() - start)
        outcomes[decision.decision.value] = outcomes.get(decision.decision.value, 0) + 1

    signals_ns: list[int] = []
    for req, prof in work[:10_000]:
        start = clock()
        compute_signals(req, prof)
        signals_ns.append(clock() - start)

    # one CEL evaluation: the default policy's burst rule over a prepared context
    rule = next(r for r in policy.rules if r.name == "burst-outside-own-context")
    used = {k: v for k, v in compute_signals(*work[0]).items() if k in policy.variables}
    context = cel.Context(variables=used)
    runs = 200_000
    start = clock()
    for _ in range(runs):
        rule.program.execute(context)
    cel_ns = (clock() - start) / runs
    start = clock()
    for _ in range(20_000):
        cel.Context(variables=used)
    context_ns = (clock() - start) / 20_000

    p50, p99 = percentile(decide_ns, 0.50), percentile(decide_ns, 0.99)
    print(
        f"default policy: {len(policy.rules)} rules, {len(policy.variables)} variables read; "
        f"{len(work):,} requests over {args.identities:,} identities"
    )
    print(
        f"decide (evaluate):  p50 {p50:8.1f} µs   p99 {p99:8.1f} µs   "
        f"mean {statistics.fmean(decide_ns) / 1000:.1f} µs"
    )
    print(
        f"  signals only:     p50 {percentile(signals_ns, 0.5):8.1f} µs   "
        f"p99 {percentile(signals_ns, 0.99):8.1f} µs"
    )
    print(f"  cel.Context:      {context_ns / 1000:8.2f} µs (building the variables once per decision)")
    print(f"one CEL evaluation: {cel_ns / 1000:8.2f} µs (compiled program, prepared context)")
    print(f"ratio: a decision costs {p50 * 1000 / cel_ns:.0f} CEL evaluations (p50)")
    print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))


if __name__ == "__main__":
    main()
