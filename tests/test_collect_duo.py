"""The Duo Admin API collectors against a fake Duo on 127.0.0.1 that checks every request's signature:
authentication log v2 (time window, ``next_offset``), administrator log v1, rate limits, the lag Duo asks
for, and a restart after a crash in the middle of a window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pushguard.collect import CollectedFile, Collector, LogOptions
from pushguard.collect.duo import DuoAdminLog
from pushguard.flow import analyze
from pushguard.model import ConfigError
from pushguard.vendorapi import VendorApiError, vendor_http
from tests.collect_support import Crash, checkpoint, collector, crash_at_commit, ids, output
from tests.fake_vendors import BASE, FakeDuo, duo_adminlogs, duo_authlogs
from tests.http_fakes import Reply

NOW = BASE + timedelta(hours=1)
PAGE = LogOptions(page_size=4)
MS = 1000


@pytest.fixture
def duo() -> Iterator[FakeDuo]:
    fake = FakeDuo(duo_authlogs(25), duo_adminlogs(20))
    yield fake
    fake.close()


def env(fake: FakeDuo, skey: str = "duo-secret-key") -> dict[str, str]:
    return {"PUSHGUARD_DUO_API_HOST": fake.url, "PUSHGUARD_DUO_IKEY": fake.ikey, "PUSHGUARD_DUO_SKEY": skey}


def at(moment: datetime) -> Any:
    return lambda: moment.timestamp()


def test_the_auth_log_is_paged_with_next_offset_over_signed_requests(duo: FakeDuo, tmp_path: Path) -> None:
    with collector("duo", env(duo), tmp_path, BASE, logs=["auth"], options=PAGE, clock=at(NOW)) as run:
        stats = run.collector.poll()
    assert output(tmp_path, "duo") == duo.authlogs  # oldest first (sort=ts:asc), each once
    assert stats.logs["duo.auth"].pages == 7
    maxtime = str(int((NOW - timedelta(minutes=2)).timestamp()) * MS)
    first = duo.requests[0]
    assert first.query == {
        "mintime": [str(int(BASE.timestamp()) * MS)],
        "maxtime": [maxtime],
        "limit": ["4"],
        "sort": ["ts:asc"],
    }
    last_of_page_1 = duo.authlogs[3]
    assert (
        duo.requests[1].arg("next_offset") == f"{last_of_page_1['timestamp'] * MS},{last_of_page_1['txid']}"
    )
    assert {r.arg("maxtime") for r in duo.requests} == {maxtime}  # one window, paged
    assert duo.signed == len(duo.requests) == 7  # the fake verified every signature
    assert checkpoint(tmp_path, "duo").cursors["duo.auth"] == {"mintime": int(maxtime) + 1}


def test_records_inside_the_lag_wait_for_a_later_window(duo: FakeDuo, tmp_path: Path) -> None:
    recent = duo_authlogs(6, start=NOW - timedelta(seconds=90), step_s=20)  # 90 s .. 40 s before NOW
    duo.authlogs = recent
    since = NOW - timedelta(hours=1)
    with collector("duo", env(duo), tmp_path, since, logs=["auth"], options=PAGE, clock=at(NOW)) as run:
        assert run.poll() == 0  # maxtime is two minutes back
    later = NOW + timedelta(minutes=2)
    with collector("duo", env(duo), tmp_path, since, logs=["auth"], options=PAGE, clock=at(later)) as run:
        assert run.poll() == 6
    assert output(tmp_path, "duo") == recent
    windows = [(r.arg("mintime"), r.arg("maxtime")) for r in duo.requests if r.arg("next_offset") is None]
    assert int(windows[1][0] or 0) == int(windows[0][1] or 0) + 1  # windows meet: maxtime + 1


def test_a_lag_under_two_minutes_is_refused(duo: FakeDuo, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 120 s"):
        collector("duo", env(duo), tmp_path, BASE, options=LogOptions(lag_s=30)).__enter__()


def test_a_wrong_secret_key_fails_the_signature_check_once(duo: FakeDuo, tmp_path: Path) -> None:
    with (
        collector("duo", env(duo, "not-the-key"), tmp_path, BASE, clock=at(NOW)) as run,
        pytest.raises(VendorApiError) as failure,
    ):
        run.poll()
    assert failure.value.status == 401 and failure.value.credentials_rejected
    assert "Invalid signature in request credentials" in str(failure.value)
    assert "not-the-key" not in str(failure.value) and len(duo.requests) == 1


def test_rate_limited_requests_back_off_and_come_again(duo: FakeDuo, tmp_path: Path) -> None:
    limited = Reply(429, {"code": 42901, "message": "Too Many Requests", "stat": "FAIL"})
    duo.faults.extend([limited, limited])
    with collector("duo", env(duo), tmp_path, BASE, logs=["auth"], options=PAGE, clock=at(NOW)) as run:
        assert run.poll() == 25
    assert run.sleeps == [1.0, 2.0]  # exponential backoff (Duo sends no Retry-After)
    assert output(tmp_path, "duo") == duo.authlogs


def test_a_restart_in_the_middle_of_a_window_resumes_at_its_next_offset(
    duo: FakeDuo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_at_commit(monkeypatch, page=4)
    with (
        collector("duo", env(duo), tmp_path, BASE, logs=["auth"], options=PAGE, clock=at(NOW)) as run,
        pytest.raises(Crash),
    ):
        run.poll()
    assert len(output(tmp_path, "duo")) == 16 and checkpoint(tmp_path, "duo").output_lines == 12
    monkeypatch.undo()
    later = NOW + timedelta(minutes=5)
    with collector("duo", env(duo), tmp_path, BASE, logs=["auth"], options=PAGE, clock=at(later)) as run:
        assert run.poll() == 13
    assert output(tmp_path, "duo") == duo.authlogs
    assert duo.requests[3].arg("next_offset") == duo.requests[4].arg("next_offset")  # page 4 again
    assert duo.requests[4].arg("maxtime") == duo.requests[0].arg("maxtime")  # in its own window


def admin_run(fake: FakeDuo, folder: Path, moment: datetime, page: int = 5) -> tuple[Collector, Any]:
    http = vendor_http("duo", env(fake), sleep=lambda _s: None, record_requests=False)
    files = CollectedFile(folder / "admin.jsonl", folder / "admin.checkpoint", "duo")
    log = DuoAdminLog(http, clock=at(moment), page=page)
    return Collector(files, [log], BASE), files


def test_the_administrator_log_pages_by_second_without_repeating_a_record(
    tmp_path: Path,
) -> None:
    fake = FakeDuo([], duo_adminlogs(20, per_second=3), admin_page=5)
    try:
        collector_, files = admin_run(fake, tmp_path, NOW)
        assert collector_.poll().records == 20
        files.close()
    finally:
        fake.close()
    # each once, oldest first, though every page starts again at the newest second taken
    assert output(tmp_path, "admin") == fake.adminlogs
    start = int(BASE.timestamp())
    assert [r.arg("mintime") for r in fake.requests][:3] == [str(start), str(start + 1), str(start + 2)]
    assert fake.signed == len(fake.requests)


def test_administrator_records_inside_the_lag_are_left_for_later(tmp_path: Path) -> None:
    fake = FakeDuo([], duo_adminlogs(9, start=NOW - timedelta(seconds=125), per_second=1), admin_page=5)
    try:
        collector_, files = admin_run(fake, tmp_path, NOW)
        assert collector_.poll().records == 6  # 125 .. 120 s old; the three younger ones wait
        files.close()
        collector_, files = admin_run(fake, tmp_path, NOW + timedelta(minutes=5))
        assert collector_.poll().records == 3
        files.close()
    finally:
        fake.close()
    assert ids(output(tmp_path, "admin"), "object") == ids(fake.adminlogs, "object")


def test_analyze_reads_the_collected_file(duo: FakeDuo, tmp_path: Path) -> None:
    with collector("duo", env(duo), tmp_path, BASE - timedelta(days=1), clock=at(NOW)) as run:
        assert run.poll() == 45
    result = analyze([tmp_path / "duo.jsonl"])
    assert result.stats.records == 45 and result.stats.errors == 0
    assert result.stats.by_provider["duo"] == result.stats.events > 0


def test_more_administrator_records_in_one_second_than_a_page_is_a_clear_error(tmp_path: Path) -> None:
    fake = FakeDuo([], duo_adminlogs(8, per_second=8), admin_page=3)
    try:
        collector_, files = admin_run(fake, tmp_path, NOW, page=3)
        with pytest.raises(VendorApiError, match="over 3 administrator records in the second"):
            collector_.poll()
        files.close()
    finally:
        fake.close()
    assert len(output(tmp_path, "admin")) == 3  # what could be taken is kept
