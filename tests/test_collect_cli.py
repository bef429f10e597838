"""``pushguard collect``: real processes killed with SIGKILL and restarted lose and repeat nothing; errors
name the problem; pages also reach the Redis partition streams, once each across a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import typer
from typer.testing import CliRunner

from pushguard.cli import collect
from pushguard.cli.collect import redis_sink
from pushguard.collect import LogOptions
from pushguard.flow import analyze
from pushguard.publish import ingest
from pushguard.store.streams import StreamBus
from tests.collect_support import Crash, collector, crash_at_commit, output
from tests.fake_vendors import BASE, FakeDuo, FakeGraph, FakeOkta, duo_authlogs, graph_signins, okta_records
from tests.redis_support import client, prefix

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "okta-cli-token"
__all__ = ["client", "prefix"]  # fixtures


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    fake = FakeOkta(okta_records(240), token=TOKEN, delay_s=0.01)
    yield fake
    fake.close()


def okta_env(fake: FakeOkta, token: str = TOKEN) -> dict[str, str]:
    return {"PUSHGUARD_OKTA_ORG_URL": fake.url, "PUSHGUARD_OKTA_API_TOKEN": token}


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_collect_killed_with_sigkill_again_and_again_resumes_with_no_gap_and_no_repeat(
    okta: FakeOkta, tmp_path: Path
) -> None:
    out = tmp_path / "okta.jsonl"
    command = [sys.executable, "-m", "pushguard", "collect", "okta", "--out", str(out)]
    command += ["--since", "2026-03-02T00:00:00Z", "--page-size", "3", "--once"]
    env = {**os.environ, **okta_env(okta), "PYTHONPATH": str(ROOT / "src")}
    for kill_at in (20, 75, 140, 200):  # records in the output when the process is killed
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while _lines(out) < kill_at and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            assert process.poll() is None, f"finished before it could be killed: {process.stderr}"
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            assert process.stderr is not None
            process.stderr.close()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "resuming okta.system" in done.stderr
    assert output(tmp_path, "okta") == okta.records  # every event exactly once, in order
    result = analyze([out])
    assert result.stats.records == 240 and result.stats.errors == 0


def test_sigterm_stops_a_polling_collector_cleanly(tmp_path: Path) -> None:
    fake = FakeOkta(okta_records(10), token=TOKEN)
    out = tmp_path / "okta.jsonl"
    command = [sys.executable, "-m", "pushguard", "collect", "okta", "--out", str(out), "--interval", "30"]
    env = {**os.environ, **okta_env(fake), "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    since = ["--since", "2026-03-02T00:00:00Z"]
    process = subprocess.Popen([*command, *since], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        first_round = ""
        while "records in" not in first_round:
            first_round = process.stderr.readline()
            assert first_round, "the collector ended before its first round"
        process.send_signal(signal.SIGTERM)  # in the 30 s wait between rounds
        assert process.wait(10) == 0
        process.stderr.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        fake.close()
    assert output(tmp_path, "okta") == fake.records


def _app() -> typer.Typer:
    app = typer.Typer()
    collect.register(app)
    return app


def test_a_run_once_then_a_resume(okta: FakeOkta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in okta_env(okta).items():
        monkeypatch.setenv(name, value)
    args = ["okta", "--out", str(tmp_path / "o.jsonl"), "--since", "2026-03-02T08:00:00Z", "--once"]
    first = CliRunner().invoke(_app(), args)
    assert first.exit_code == 0, first.output
    assert "starting okta.system" in first.output and "okta.system 240 records in 2 pages" in first.output
    again = CliRunner().invoke(_app(), args)
    assert again.exit_code == 0 and "resuming okta.system" in again.output
    assert "okta.system 0 records in 1 pages; 240 records in" in again.output
    assert (tmp_path / "o.jsonl.checkpoint").exists()


def test_errors_name_the_problem(okta: FakeOkta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PUSHGUARD_OKTA_ORG_URL", "PUSHGUARD_OKTA_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "o.jsonl"
    runner = CliRunner()
    missing = runner.invoke(_app(), ["okta", "--out", str(out), "--once"])
    assert missing.exit_code == 2
    assert "set PUSHGUARD_OKTA_ORG_URL, PUSHGUARD_OKTA_API_TOKEN" in missing.output
    for name, value in okta_env(okta, "revoked").items():
        monkeypatch.setenv(name, value)
    rejected = runner.invoke(_app(), ["okta", "--out", str(out), "--once"])
    assert rejected.exit_code == 1 and "credentials rejected" in rejected.output
    assert "revoked" not in rejected.output
    other = tmp_path / "other.jsonl"
    other.write_text('{"already": "here"}\n')
    taken = runner.invoke(_app(), ["okta", "--out", str(other), "--once"])
    assert taken.exit_code == 2 and "already holds 20 bytes" in taken.output
    wrong_vendor = runner.invoke(
        _app(), ["duo", "--out", str(out), "--checkpoint", str(tmp_path / "o.jsonl.checkpoint"), "--once"]
    )
    assert wrong_vendor.exit_code == 2 and "no credentials" in wrong_vendor.output
    monkeypatch.setenv("PUSHGUARD_DUO_API_HOST", okta.url)
    monkeypatch.setenv("PUSHGUARD_DUO_IKEY", "DI")
    monkeypatch.setenv("PUSHGUARD_DUO_SKEY", "s")
    wrong_vendor = runner.invoke(
        _app(), ["duo", "--out", str(out), "--checkpoint", str(tmp_path / "o.jsonl.checkpoint"), "--once"]
    )
    assert wrong_vendor.exit_code == 2 and "is a okta checkpoint, not duo" in wrong_vendor.output
    bad_since = runner.invoke(_app(), ["okta", "--out", str(tmp_path / "n.jsonl"), "--since", "yesterday"])
    assert bad_since.exit_code == 2 and "not an ISO 8601 time" in bad_since.output


def test_an_output_shorter_than_its_checkpoint_is_refused(
    okta: FakeOkta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in okta_env(okta).items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "o.jsonl"
    args = ["okta", "--out", str(out), "--since", "2026-03-02T08:00:00Z", "--once"]
    assert CliRunner().invoke(_app(), args).exit_code == 0
    out.write_bytes(out.read_bytes()[:100])
    again = CliRunner().invoke(_app(), args)
    assert again.exit_code == 2 and "the file was truncated or replaced" in again.output


def test_entra_and_duo_through_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    graph = FakeGraph({"signIns": graph_signins(12, start=hour_ago), "directoryAudits": []})
    duo = FakeDuo(duo_authlogs(9, start=hour_ago))
    try:
        monkeypatch.setenv("PUSHGUARD_ENTRA_ACCESS_TOKEN", "graph-token")
        monkeypatch.setenv("PUSHGUARD_ENTRA_GRAPH_URL", f"{graph.url}/v1.0")
        monkeypatch.setenv("PUSHGUARD_DUO_API_HOST", duo.url)
        monkeypatch.setenv("PUSHGUARD_DUO_IKEY", duo.ikey)
        monkeypatch.setenv("PUSHGUARD_DUO_SKEY", duo.skey)
        common = ["--days", "1", "--once", "--page-size", "5"]
        entra_args = [
            "entra",
            "--out",
            str(tmp_path / "e.jsonl"),
            "--log",
            "signins",
            "--graph-version",
            "beta",
        ]
        entra = CliRunner().invoke(_app(), [*entra_args, *common])
        assert entra.exit_code == 0, entra.output
        assert {r.path for r in graph.requests} == {"/beta/auditLogs/signIns"}
        duo_args = ["duo", "--out", str(tmp_path / "d.jsonl"), "--log", "auth"]
        result = CliRunner().invoke(_app(), [*duo_args, *common])
        assert result.exit_code == 0, result.output
        assert duo.signed == len(duo.requests) == 2
    finally:
        graph.close()
        duo.close()
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == 12
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 9


@pytest.mark.redis
def test_pages_reach_the_partition_streams_once_each_across_a_crash(
    client: redis.Redis, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeOkta(okta_records(40), token=TOKEN)
    page = LogOptions(page_size=6)
    try:
        sink = redis_sink(client, prefix, 4, "okta", tmp_path / "okta.jsonl")
        crash_at_commit(monkeypatch, page=4)  # page 4 was published, then the process died
        with (
            collector("okta", okta_env(fake), tmp_path, BASE, options=page, sinks=(sink,)) as run,
            pytest.raises(Crash),
        ):
            run.poll()
        monkeypatch.undo()
        with collector("okta", okta_env(fake), tmp_path, BASE, options=page, sinks=(sink,)) as run:
            run.poll()
    finally:
        fake.close()
    bus = StreamBus(client, prefix)
    bus.open()
    queued = sum(int(client.xlen(stream)) for stream in bus.streams())
    expected = analyze([tmp_path / "okta.jsonl"]).stats
    assert output(tmp_path, "okta") == fake.records
    assert queued == 40 - sum(expected.unmapped.values()) > 0  # every usable record once
    again = ingest([tmp_path / "okta.jsonl"], bus)  # ingest of the file finds them all sent already
    assert again.published == 0 and again.duplicates == queued
