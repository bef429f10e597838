"""The reorder buffer's in-order fast path gives exactly what the heap gave: same order, same ties."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest

from pushguard import reading


def _by_heap(keyed: list[tuple[Any, Any]], size: int) -> Iterator[tuple[Any, Any]]:
    """The reference: every entry through a heap of ``size`` (the engine's code before the fast path)."""
    heap: list[tuple[Any, int, Any]] = []
    counter = itertools.count()
    for key, event in keyed:
        if len(heap) < size:
            heapq.heappush(heap, (key, next(counter), event))
            continue
        out_key, _, out = heapq.heappushpop(heap, (key, next(counter), event))
        yield out_key, out
    while heap:
        out_key, _, out = heapq.heappop(heap)
        yield out_key, out


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_matches_heap(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    size = rng.choice([1, 3, 8])
    monkeypatch.setattr(reading, "REORDER_BUFFER", size)
    count = rng.randint(0, 60)
    keys = sorted((float(rng.randint(0, 20)), "okta", str(rng.randint(0, 3))) for _ in range(count))
    for _ in range(rng.choice([0, 0, 1, 3])):  # a few entries out of place, some far
        if len(keys) > 1:
            keys.insert(rng.randrange(len(keys)), keys.pop(rng.randrange(len(keys))))
    keyed: list[Any] = [
        (key, f"event{n}") for n, key in enumerate(keys)
    ]  # equal keys: arrival order must hold
    assert list(reading._reordered(iter(keyed))) == list(_by_heap(keyed, size))


def test_in_order_input_passes_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "REORDER_BUFFER", 4)
    keyed: list[Any] = [((float(n // 2), "duo", "x"), n) for n in range(20)]
    assert list(reading._reordered(iter(keyed))) == keyed
