"""Concurrent changes to the API key file (issue 19, item 9): processes creating and revoking keys at once
lose nothing, and a revocation is never undone."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from pushguard.api import KeyStore, Scope

WORKERS = 8
ROUNDS = 4


def revoke_then_create(path: str, key_id: str, name: str, start: multiprocessing.synchronize.Event) -> None:
    keys = KeyStore(path)  # each process reads the file before the others change it
    start.wait()
    keys.revoke(key_id)
    keys.create(name, [Scope.DECIDE])


def test_concurrent_creates_and_revocations_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # fork: each worker starts in milliseconds
    for round_no in range(ROUNDS):
        path = tmp_path / f"keys-{round_no}.json"
        keys = KeyStore(path)
        old = [keys.create(f"old-{n}", [Scope.READ])[0].id for n in range(WORKERS)]
        start = context.Event()
        workers = [
            context.Process(target=revoke_then_create, args=(str(path), old[n], f"new-{n}", start))
            for n in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        start.set()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        final = {key.name: key for key in KeyStore(path).list()}
        assert sorted(final) == sorted(
            [f"old-{n}" for n in range(WORKERS)] + [f"new-{n}" for n in range(WORKERS)]
        )
        assert all(final[f"old-{n}"].revoked for n in range(WORKERS)), "a revocation was undone"
        assert not any(final[f"new-{n}"].revoked for n in range(WORKERS))
