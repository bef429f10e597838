"""The decision log bounded (issue 19, item 16): text fields cut, the file rotated, written by its own
thread so that decide never waits for the disk, and a full queue drops lines instead of blocking."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pushguard.api import decision_log as decision_log_module
from pushguard.api.decision_log import MAX_FIELD_CHARS, DecisionLog, bounded
from pushguard.decide import decide, load_policy
from pushguard.decide.record import DecisionRecord
from pushguard.model import DecisionRequest, Geo
from tests.api_env import DECIDE

POLICY = load_policy(None)


def request(**changes: Any) -> DecisionRequest:
    """A request with fields beyond what decoding accepts (built directly: the log bounds them anyway)."""
    return msgspec.structs.replace(msgspec.convert(DECIDE, DecisionRequest), **changes)


def test_text_fields_are_cut() -> None:
    long = request(
        user_agent="Mozilla/" + "x" * 100_000,
        app="a" * 5_000,
        device_id="d" * 10,
        geo=Geo(country="FR", city="c" * 20_000),
    )
    cut = bounded(long)
    assert cut.geo is not None and len(cut.geo.city or "") == MAX_FIELD_CHARS and cut.geo.country == "FR"
    assert len(cut.user_agent or "") == MAX_FIELD_CHARS and (cut.user_agent or "").endswith("…")
    assert len(cut.app or "") == MAX_FIELD_CHARS and cut.device_id == "d" * 10
    assert bounded(request()) == request()


def test_lines_are_bounded_and_the_file_rotates(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path, max_bytes=8192, keep=2)
    sent = [request(user_agent="u" * 50_000, device_id=f"dev-{n}") for n in range(60)]
    for item in sent:
        log.record(item, decide(item, POLICY, lambda identity: None))
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["decisions.jsonl", "decisions.jsonl.1", "decisions.jsonl.2"]
    kept: list[DecisionRecord] = []
    for name in ("decisions.jsonl.2", "decisions.jsonl.1", "decisions.jsonl"):
        data = (tmp_path / name).read_bytes()
        assert len(data) <= 8192
        kept.extend(msgspec.json.decode(line, type=DecisionRecord) for line in data.splitlines())
    assert all(len(line) < 4 * MAX_FIELD_CHARS for line in path.read_bytes().splitlines())
    # the newest lines are kept, in order
    assert [r.request.device_id for r in kept] == [f"dev-{n}" for n in range(60 - len(kept), 60)]


def test_decide_does_not_wait_for_a_slow_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    original = DecisionLog._write

    def stuck(self: DecisionLog, line: bytes) -> None:
        gate.wait(10)  # the disk hangs until the test lets it go
        original(self, line)

    monkeypatch.setattr(DecisionLog, "_write", stuck)
    monkeypatch.setattr(decision_log_module, "MAX_QUEUED", 5)
    log = DecisionLog(tmp_path / "decisions.jsonl", max_bytes=1 << 20, keep=1)
    item = request()
    decision = decide(item, POLICY, lambda identity: None)
    began = time.perf_counter()
    for _ in range(50):
        log.record(item, decision)
    assert time.perf_counter() - began < 0.5  # never blocked on the hung write
    assert log.dropped >= 40  # beyond the queue's bound: dropped, counted
    gate.set()
    log.close()
    written = (tmp_path / "decisions.jsonl").read_bytes().splitlines()
    assert len(written) == 50 - log.dropped
