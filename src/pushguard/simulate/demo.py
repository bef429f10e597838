"""A small Okta tenant with push bombing and its benign look-alikes, written as System Log records.

Deterministic per seed. Benign life: each working day a user signs in and approves one push per app
(several apps at 9:00), some miss a push or two while the phone is out of reach and then approve.
Attacks: a bombing that ends in an approval from a hosting provider abroad, and one the user rides out
by denying. Used by ``pushguard demo``, the CLI tests and the benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from pushguard.simulate import okta_records as okta

HOME = ("paris", "lyon", "newyork")
ATTACKER_PLACES = ("lagos", "amsterdam-vps")


def _user_ip(rng_seed: int, index: int) -> str:
    return f"198.51.{(rng_seed + index) % 200}.{10 + index % 200}"


def benign_day(
    rng: random.Random, login: str, ip: str, place: str, day: datetime
) -> Iterator[dict[str, Any]]:
    start = day + timedelta(hours=8, minutes=rng.randint(30, 90), seconds=rng.randint(0, 59))
    yield okta.session_start(start, login, ip, place)
    moment = start
    for _ in range(rng.randint(1, 5)):  # one prompt per app opened in the morning
        moment += timedelta(seconds=rng.randint(20, 240))
        if rng.random() < 0.05:  # the phone is out of reach: unanswered pushes, then a retry that works
            for _ in range(rng.randint(1, 2)):
                yield okta.push_sent(moment, login, ip, place)
                moment += timedelta(seconds=rng.randint(60, 150))
        yield okta.push_sent(moment, login, ip, place)
        moment += timedelta(seconds=rng.randint(3, 25))
        if rng.random() < 0.02:  # fat finger: deny, then ask again and approve
            yield okta.push_answer(moment, login, ip, place, approved=False)
            moment += timedelta(seconds=rng.randint(10, 40))
            yield okta.push_sent(moment, login, ip, place)
            moment += timedelta(seconds=rng.randint(3, 15))
        yield okta.push_answer(moment, login, ip, place, approved=True)


def bombing(
    rng: random.Random, login: str, start: datetime, prompts: int, approve_at: int | None, place: str
) -> Iterator[dict[str, Any]]:
    ip = f"203.0.113.{rng.randint(2, 250)}"
    moment = start
    for number in range(1, prompts + 1):
        yield okta.push_sent(moment, login, ip, place)
        moment += timedelta(seconds=rng.randint(5, 25))
        if approve_at is not None and number == approve_at:
            yield okta.push_answer(moment, login, ip, place, approved=True, number=False)
            return
        if rng.random() < 0.4:
            yield okta.deny_push(moment, login, _victim_phone_ip(login), "paris")
        moment += timedelta(seconds=rng.randint(20, 60))


def _victim_phone_ip(login: str) -> str:
    return f"192.0.2.{sum(login.encode()) % 250 + 2}"


def demo_records(seed: int = 7, users: int = 25, days: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    first_day = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
    logins = [f"user{i:03d}@example.com" for i in range(users)]
    records: list[dict[str, Any]] = []
    for index, login in enumerate(logins):
        place = HOME[index % len(HOME)]
        ip = _user_ip(seed, index)
        for day in range(days):
            records.extend(benign_day(rng, login, ip, place, first_day + timedelta(days=day)))
    last = first_day + timedelta(days=days - 1)
    records.extend(
        bombing(rng, logins[1], last + timedelta(hours=22, minutes=13), 14, 11, ATTACKER_PLACES[0])
    )
    records.extend(
        bombing(rng, logins[2], last + timedelta(hours=2, minutes=41), 7, None, ATTACKER_PLACES[1])
    )
    records.sort(key=lambda r: (r["published"], r["uuid"]))
    return records


def write_demo_logs(directory: Path, seed: int = 7, users: int = 25, days: int = 5) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "okta-system-log.jsonl"
    encoder = msgspec.json.Encoder()
    with path.open("wb") as handle:
        for record in demo_records(seed, users, days):
            handle.write(encoder.encode(record))
            handle.write(b"\n")
    return path
