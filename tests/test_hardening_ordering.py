"""Ingestion over HTTP in event-time order (issue 19, item 7): deliveries out of order, swapped or
replayed give the findings of one in-order pass; a late event never makes a detector count backwards."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.detect.impossible_travel import ImpossibleTravel
from pushguard.model import EventKind, Finding, Geo
from pushguard.pipeline import Engine
from pushguard.simulate import okta_records as okta
from tests.api_env import HOOK_SECRET, VICTIM, Env, bombing_records, running, week_at_home
from tests.events import T0, daily_approvals, ev

AUTH = {"Authorization": HOOK_SECRET}
WINDOW_S = 3600.0
NEW_YORK = Geo(lat=40.71, lon=-74.0, country="US", city="New York", accuracy_km=50.0, asn=7922)


def delivery(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eventType": "com.okta.event_hook", "data": {"events": records}}


def traffic() -> list[dict[str, Any]]:
    """A week at home, a bombing from Lagos with an approval, a session from New York the next hour: several
    detectors, of which impossible travel is the one that reads the order of places."""
    records = bombing_records()
    after = T0 + timedelta(seconds=400)
    records.append(okta.push_sent(after, VICTIM, "203.0.113.66", "lagos", seed="last"))
    records.append(okta.push_answer(after + timedelta(seconds=5), VICTIM, "203.0.113.66", "lagos", True))
    records.append(okta.session_start(T0 + timedelta(minutes=50), VICTIM, "198.51.100.200", "newyork"))
    records.append(okta.session_start(T0 + timedelta(minutes=55), VICTIM, "88.160.137.23", "paris"))
    return sorted(records, key=lambda r: str(r["published"]))


def closing_event() -> dict[str, Any]:
    """An event well after everything: the window passes every earlier one."""
    return okta.session_start(T0 + timedelta(days=2), "clock@corp.example", "192.0.2.1", "paris")


@contextmanager
def service(tmp_path: Path, name: str) -> Iterator[Env]:
    root = tmp_path / name
    root.mkdir()
    with running(root, reorder_window_s=WINDOW_S) as env:
        yield env


def send(env: Env, records: list[dict[str, Any]]) -> None:
    assert env.client.post("/v1/hooks/okta", json=delivery(records), headers=AUTH).status_code == 204
    env.client.app.state.hooks.drain()  # type: ignore[attr-defined]


def findings(env: Env) -> list[tuple[str, int, str, str, str]]:
    page = env.client.get("/v1/findings", params={"limit": 500}, headers=env.headers("read")).json()
    return sorted(
        (f["id"], f["revision"], f["detector"], f["severity"], f["title"]) for f in page["findings"]
    )


def in_order(tmp_path: Path, records: list[dict[str, Any]]) -> list[tuple[str, int, str, str, str]]:
    with service(tmp_path, "in-order") as env:
        send(env, [*records, closing_event()])
        return findings(env)


def chunks(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [records[start : start + size] for start in range(0, len(records), size)]


def test_shuffled_deliveries_give_the_findings_of_one_in_order_pass(tmp_path: Path) -> None:
    records = traffic()
    expected = in_order(tmp_path, records)
    assert {"push_bombing", "impossible_travel"} <= {f[2] for f in expected}
    deliveries = chunks(records, 3)
    random.Random(7).shuffle(deliveries)
    with service(tmp_path, "shuffled") as env:
        for part in deliveries:
            send(env, part)
        send(env, [closing_event()])
        got = findings(env)
    assert got == expected
    assert not any("in -" in title for *_, title in got)  # never a negative duration


def test_neighbouring_deliveries_swapped_give_the_same_findings(tmp_path: Path) -> None:
    records = traffic()
    expected = in_order(tmp_path, records)
    deliveries = [[record] for record in records]
    for index in range(0, len(deliveries) - 1, 2):
        deliveries[index], deliveries[index + 1] = deliveries[index + 1], deliveries[index]
    with service(tmp_path, "swapped") as env:
        for part in deliveries:
            send(env, part)
        send(env, [closing_event()])
        assert findings(env) == expected


def test_replaying_every_old_delivery_adds_nothing(tmp_path: Path) -> None:
    records = traffic()
    deliveries = chunks(records, 4)
    with service(tmp_path, "replayed") as env:
        for part in deliveries:
            send(env, part)
        send(env, [closing_event()])
        before = findings(env)
        profile = env.client.get(f"/v1/identities/{VICTIM}", headers=env.headers("read")).json()
        for part in deliveries:  # all of them again, old ones included, in another order
            send(env, part[::-1])
        send(env, [closing_event()])
        assert findings(env) == before
        again = env.client.get(f"/v1/identities/{VICTIM}", headers=env.headers("read")).json()
        assert again["events"] == profile["events"] == len(records)


def test_the_events_endpoint_reports_held_late_and_duplicate_events(tmp_path: Path) -> None:
    with service(tmp_path, "events") as env:
        headers = env.headers("ingest")
        home = week_at_home()
        first = env.client.post("/v1/events", json={"records": home}, headers=headers).json()
        assert first["events"] == len(home) and first["held"] == 2  # the last morning waits for the window
        again = env.client.post("/v1/events", json={"records": home}, headers=headers).json()
        assert again["late"] == len(home) - 2 and again["duplicates"] == 2 and again["held"] == 2


def test_held_events_survive_a_restart(tmp_path: Path) -> None:
    records = traffic()
    expected = in_order(tmp_path, records)
    root = tmp_path / "restarted"
    root.mkdir()
    with running(root, reorder_window_s=WINDOW_S) as env:
        send(env, records[: len(records) // 2])
        send(env, records[len(records) // 2 :])
        assert len(env.service.held) > 0  # the spool files are gone: the held events are in the state
    with running(root, reorder_window_s=WINDOW_S) as env:
        send(env, [closing_event()])
        assert findings(env) == expected


def test_a_late_event_is_never_a_negative_journey() -> None:
    """Where a late event still reaches the detector (an Engine used without the ordering), the journey
    is measured forwards: 5,800 km in 12 h is a flight, not 'in -720 min'."""
    engine = Engine(detectors=[ImpossibleTravel()])
    found: list[Finding] = []
    for event in daily_approvals(12, hours=(0.0,)):
        found.extend(engine.process(event))
    found.extend(engine.process(ev(EventKind.SIGNIN_SUCCESS, 12 * 3600.0, ip="203.0.113.9", geo=NEW_YORK)))
    found.extend(engine.process(ev(EventKind.PUSH_APPROVED, 0.0)))  # arrives after, happened before
    assert found == []


@pytest.mark.parametrize("window", [0.0, 5.0])
def test_an_idle_window_releases_what_it_holds(tmp_path: Path, window: float) -> None:
    with running(tmp_path, reorder_window_s=window) as env:
        env.client.post("/v1/events", json={"records": bombing_records()}, headers=env.headers("ingest"))
        held = len(env.service.held)
        assert (held == 0) if window == 0 else (held > 0)
        env.service.held.last_arrival -= window  # as if the window had passed on the wall clock
        env.service.advance()
        assert len(env.service.held) == 0
        assert any(
            f["detector"] == "push_bombing"
            for f in env.client.get("/v1/findings", headers=env.headers("read")).json()["findings"]
        )
