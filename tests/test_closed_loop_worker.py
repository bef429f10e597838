"""The stream workers run the closed loop too: a bombing put on the partition streams, two workers share
them, the finding's intents go to the Redis outbox with the commit, and one step-up reaches the fake Okta
(one worker at a time holds the enforce lease)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import redis

from pushguard.api.closed_loop import ClosedLoop
from pushguard.cli.stream_worker import StreamWorker, WorkerOptions
from pushguard.decide.closed_loop import plan_for_finding
from pushguard.decide.enforce import enforcement_config
from pushguard.enrich import build_enrichers
from pushguard.flow import Flow
from pushguard.model import Provider
from pushguard.publish import publish_records
from pushguard.respond.credentials import build_responder
from pushguard.respond.outbox import decode_entry
from pushguard.simulate import okta_records as okta
from pushguard.store import Commit
from pushguard.store.redis import RedisStore
from pushguard.store.streams import StreamBus
from tests.api_env import ATTACKER, VICTIM, week_at_home
from tests.enforce_fakes import FakeIdp
from tests.events import T0
from tests.redis_support import REDIS_URL, client, prefix  # noqa: F401 (fixtures)
from tests.test_closed_loop import finding

STEP_UP = "00g-stepup-phr"


@pytest.fixture
def okta_fake() -> Iterator[FakeIdp]:
    fake = FakeIdp("okta")
    yield fake
    fake.close()


def _worker(connection: redis.Redis, keys: str, name: str, loop: ClosedLoop) -> StreamWorker:
    options = WorkerOptions(
        name=name,
        flow=Flow(),
        enrichers=build_enrichers(),
        block_ms=5,
        lease_ms=5000,
        closed_loop=loop,
    )
    worker = StreamWorker(connection, keys, options)
    worker.bus.open(None)
    return worker


def test_workers_apply_the_step_up_once_through_the_redis_outbox(
    client: redis.Redis,  # noqa: F811 (fixture)
    prefix: str,  # noqa: F811 (fixture)
    okta_fake: FakeIdp,
    tmp_path: Path,
) -> None:
    records = week_at_home()
    for n in range(6):
        moment = T0 + timedelta(seconds=40 * n)
        records.append(okta.push_sent(moment, VICTIM, ATTACKER, "lagos", seed=f"w{n}"))
    bus = StreamBus(client, prefix)
    bus.open(2)
    publish_records([("test", i, r) for i, r in enumerate(records, 1)], bus, provider=Provider.OKTA)
    config = enforcement_config({"okta": {"groups": {"step_up": STEP_UP}}, "dry_run": False})
    now = T0 + timedelta(minutes=5)

    def loop(name: str) -> ClosedLoop:
        return ClosedLoop(
            config,
            RedisStore(REDIS_URL, prefix, client=client),
            state_path=tmp_path / f"{name}.json",
            audit_path=tmp_path / f"{name}-audit.jsonl",
            clock=lambda: now,
            responders=lambda vendor: build_responder(vendor, okta_fake.env(), max_attempts=1),
        )

    loops = [loop("w1"), loop("w2")]
    workers = [_worker(client, prefix, f"w{i}", lp) for i, lp in enumerate(loops, 1)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = [worker.step() for worker in workers]
        if not any(busy) and workers[0].finished():
            break
    for worker in workers:
        worker.stop()
    puts = [c for c in okta_fake.calls() if c.startswith("PUT ")]
    assert puts == [f"PUT /api/v1/groups/{STEP_UP}/users/{okta_fake.user_id}"]
    store = RedisStore(REDIS_URL, prefix, client=client)
    assert store.outbox_open() == []
    finding = next(f for f in store.findings() if f.detector == "push_bombing")
    (planned,) = plan_for_finding(finding, config).intents
    intent_key = planned.key
    entry = decode_entry(store.outbox_entry(intent_key) or b"")
    assert entry.outcome == "performed" and entry.intent.finding == finding.id
    first_alarm = datetime.fromisoformat(entry.intent.event_at or "")
    assert entry.time_to_control_s == (now - first_alarm).total_seconds()
    assert sum(w.stats.enforced for w in workers) == 1
    for lp in loops:
        lp.close()
    assert msgspec.json.decode(store.outbox_entry(intent_key) or b"{}")["state"] == "done"


def test_expiry_lifts_a_control_another_worker_applied(
    client: redis.Redis,  # noqa: F811 (fixture)
    prefix: str,  # noqa: F811 (fixture)
    okta_fake: FakeIdp,
    tmp_path: Path,
) -> None:
    # Two workers keep their own state files; the enforcement state they share lives in the store, so
    # the one holding the lease when a step-up expires removes what the other put in place.
    config = enforcement_config({"okta": {"groups": {"step_up": STEP_UP}}, "dry_run": False})
    clock = {"now": T0 + timedelta(minutes=5)}

    def loop(name: str) -> ClosedLoop:
        return ClosedLoop(
            config,
            RedisStore(REDIS_URL, prefix, client=client),
            state_path=tmp_path / f"{name}.json",
            audit_path=tmp_path / f"{name}-audit.jsonl",
            clock=lambda: clock["now"],
            responders=lambda vendor: build_responder(vendor, okta_fake.env(), max_attempts=1),
            shared_state=True,
        )

    first, second = loop("w1"), loop("w2")
    first.store.commit(Commit(outbox=first.outbox_for(finding(detected_at=T0.isoformat()))))
    (applied,) = first.run()
    assert applied.outcome == "performed" and okta_fake.user_id in okta_fake.members[STEP_UP]
    clock["now"] = T0 + timedelta(days=2)  # past the step-up's time to live (a day by default)
    second.run()  # queues the removal (its key is the applied intent's) and applies it
    assert okta_fake.user_id not in okta_fake.members[STEP_UP]
    assert [c for c in okta_fake.calls() if c.startswith("DELETE ")] == [
        f"DELETE /api/v1/groups/{STEP_UP}/users/{okta_fake.user_id}"
    ]
    assert first.run() == [] and second.run() == []  # lifted once, by one of them
    first.close()
    second.close()
