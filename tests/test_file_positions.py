"""The replay guard keeps one position per input file: a run over several files records where each of them
ended, and a file added later (a backfill of older logs) is analyzed, not taken for a replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from pushguard.flow import analyze
from pushguard.simulate import okta_records as okta
from pushguard.store.sqlite import SqliteStore

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _write(path: Path, login: str, first: datetime, count: int) -> None:
    records = [
        okta.session_start(first + timedelta(minutes=10 * n), login, "198.51.100.4", "paris")
        for n in range(count)
    ]
    path.write_bytes(b"".join(msgspec.json.encode(record) + b"\n" for record in records))


def test_each_file_has_its_own_position_and_a_backfill_is_analyzed(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _write(logs / "m-okta.jsonl", "alice@example.com", START + timedelta(days=2), 5)
    _write(logs / "z-okta.jsonl", "bob@example.com", START + timedelta(days=3), 4)
    state = tmp_path / "state.sqlite"
    store = SqliteStore(state)
    try:
        first = analyze([logs], store=store)
        assert first.stats.events == 9
        positions = {
            name: store.position(str((logs / name).resolve())) for name in ("m-okta.jsonl", "z-okta.jsonl")
        }
    finally:
        store.close()
    # each position is the file's own last event (day 2 + 40 min, day 3 + 30 min), not the run's last
    assert positions["m-okta.jsonl"] is not None and positions["z-okta.jsonl"] is not None
    assert positions["m-okta.jsonl"] < positions["z-okta.jsonl"]
    m_last = int((START + timedelta(days=2, minutes=40)).timestamp() * 1_000_000)
    assert positions["m-okta.jsonl"].startswith(f"{m_last:020d}|okta|")

    # older logs added later, in a file that sorts first: new records, analyzed
    _write(logs / "a-backfill.jsonl", "carol@example.com", START, 6)
    store = SqliteStore(state)
    try:
        again = analyze([logs], store=store)
    finally:
        store.close()
    assert again.stats.events == 6
    assert again.stats.replayed == 9
