"""The Okta System Log collector against a fake Okta on 127.0.0.1: polling with next links, rate limits,
credentials, and a restart after a crash that resumes with no gap and no repeat."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pushguard.collect import LogOptions, Record
from pushguard.flow import analyze
from pushguard.vendorapi import VendorApiError
from tests.collect_support import Crash, checkpoint, collector, crash_at_commit, ids, output
from tests.fake_vendors import BASE, FakeOkta, okta_records
from tests.http_fakes import Reply

TOKEN = "00-okta-test-token"
PAGE = LogOptions(page_size=5)


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    fake = FakeOkta(okta_records(23), token=TOKEN)
    yield fake
    fake.close()


def env(fake: FakeOkta, token: str = TOKEN) -> dict[str, str]:
    return {"PUSHGUARD_OKTA_ORG_URL": fake.url, "PUSHGUARD_OKTA_API_TOKEN": token}


def test_pages_follow_the_next_link_until_an_empty_page(okta: FakeOkta, tmp_path: Path) -> None:
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run:
        stats = run.collector.poll()
    assert stats.logs["okta.system"].pages == 6  # 5 + 5 + 5 + 5 + 3, then the empty page: caught up
    assert output(tmp_path, "okta") == okta.records
    first = okta.requests[0]
    assert first.query == {
        "since": ["2026-03-02T08:00:00.000Z"],
        "sortOrder": ["ASCENDING"],
        "limit": ["5"],
    }
    assert [r.arg("after") for r in okta.requests[1:]] == ["5", "10", "15", "20", "23"]
    assert all(r.headers["Authorization"] == f"SSWS {TOKEN}" for r in okta.requests)


def test_the_next_round_asks_the_last_next_link_and_takes_only_new_events(
    okta: FakeOkta, tmp_path: Path
) -> None:
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run:
        assert run.poll() == 23
        assert run.poll() == 0  # nothing new: one empty page
        okta.records.extend(okta_records(30)[23:])  # Okta stores seven more events
        assert run.poll() == 7
    assert ids(output(tmp_path, "okta"), "uuid") == ids(okta_records(30), "uuid")
    assert okta.requests[6].arg("after") == "23" and okta.requests[7].arg("after") == "23"


def test_a_429_waits_until_the_rate_limit_resets(okta: FakeOkta, tmp_path: Path) -> None:
    reset = int(time.time()) + 7
    body = {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests."}
    okta.faults.append(Reply(429, body, {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(reset)}))
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run:
        assert run.poll() == 23
    assert len(run.sleeps) == 1 and 6.0 < run.sleeps[0] <= 8.0  # until the reset (7 s), plus a second
    assert okta.requests[0].query == okta.requests[1].query  # the same page asked again


def test_calls_running_out_wait_for_the_reset_before_a_429(okta: FakeOkta, tmp_path: Path) -> None:
    now = BASE.timestamp()
    okta.remaining, okta.reset_at = 0, int(now) + 30
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE, clock=lambda: now) as run:
        assert run.poll() == 23
    assert run.sleeps == [31.0] * 6  # after every answer that left no call


def test_a_wrong_token_is_a_clear_error_and_not_retried(okta: FakeOkta, tmp_path: Path) -> None:
    with (
        collector("okta", env(okta, "wrong-token"), tmp_path, BASE, options=PAGE) as run,
        pytest.raises(VendorApiError) as failure,
    ):
        run.poll()
    error = failure.value
    assert error.credentials_rejected and error.status == 401
    assert "credentials rejected" in str(error) and "Invalid token provided" in str(error)
    assert "wrong-token" not in str(error)
    assert len(okta.requests) == 1 and run.sleeps == []
    assert output(tmp_path, "okta") == [] and checkpoint(tmp_path, "okta").output_bytes == 0


def test_a_next_link_to_another_host_gets_no_credentials(okta: FakeOkta, tmp_path: Path) -> None:
    elsewhere = '<http://127.0.0.2:9/api/v1/logs?after=1>; rel="next"'
    okta.faults.append(Reply(200, okta.records[:1], {"Link": elsewhere}))
    with (
        collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run,
        pytest.raises(VendorApiError, match="refusing to send the credentials there"),
    ):
        run.poll()
    assert len(okta.requests) == 1


def test_a_restart_after_a_crash_resumes_with_no_gap_and_no_repeat(
    okta: FakeOkta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_at_commit(monkeypatch, page=3)  # page 3 is in the file and synced, its checkpoint never written
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run, pytest.raises(Crash):
        run.poll()
    assert len(output(tmp_path, "okta")) == 15 and checkpoint(tmp_path, "okta").output_lines == 10
    monkeypatch.undo()
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run:
        assert run.files.resumed and run.files.dropped_bytes > 0
        assert run.poll() == 13
    assert output(tmp_path, "okta") == okta.records  # every event once, in order
    assert okta.requests[2].arg("after") == "10" == okta.requests[3].arg("after")  # page 3 asked again


def test_a_failing_sink_leaves_nothing_behind_and_the_page_comes_again(
    okta: FakeOkta, tmp_path: Path
) -> None:
    pages: list[int] = []

    def flaky(log: str, records: Sequence[Record], first_line: int) -> None:
        pages.append(first_line)
        if len(pages) == 2:
            raise OSError("the sink's disk is full")

    with collector("okta", env(okta), tmp_path, BASE, options=PAGE, sinks=(flaky,)) as run:
        with pytest.raises(OSError, match="disk is full"):
            run.poll()
        assert len(output(tmp_path, "okta")) == 5  # the second page was cut off again
        assert run.poll() == 18
    assert output(tmp_path, "okta") == okta.records
    assert pages == [1, 6, 6, 11, 16, 21]  # line numbers in the output: page 2 sent again from line 6


def test_analyze_reads_the_collected_file(okta: FakeOkta, tmp_path: Path) -> None:
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run:
        run.poll()
    result = analyze([tmp_path / "okta.jsonl"])
    assert result.stats.records == 23 and result.stats.errors == 0
    assert result.stats.by_provider["okta"] == result.stats.events > 0


def test_a_crash_while_the_checkpoint_is_replaced_keeps_the_old_one(
    okta: FakeOkta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    renames = [0]

    def replace(source: Any, target: Any) -> None:
        if str(target).endswith(".checkpoint"):
            renames[0] += 1
            if renames[0] == 5:  # new file, start cursor, pages 1 and 2; page 3 is never put in place
                raise Crash
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run, pytest.raises(Crash):
        run.poll()
    monkeypatch.undo()
    assert (tmp_path / "okta.checkpoint.tmp").exists()  # the new one, written in full but never in place
    assert checkpoint(tmp_path, "okta").output_lines == 10
    with collector("okta", env(okta), tmp_path, BASE, options=PAGE) as run:
        run.poll()
    assert output(tmp_path, "okta") == okta.records
