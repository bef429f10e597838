"""The Microsoft Graph collector (sign-ins, directory audits) against a fake Graph on 127.0.0.1: time
windows in ``$filter``, ``@odata.nextLink`` paging, throttling, tokens (given or through MSAL), and a
restart after a crash in the middle of a window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msal  # type: ignore[import-untyped]
import pytest

from pushguard.collect import LogOptions
from pushguard.flow import analyze
from pushguard.model import ConfigError
from pushguard.vendorapi import VendorApiError
from tests.collect_support import Crash, checkpoint, collector, crash_at_commit, ids, output
from tests.fake_vendors import BASE, FakeGraph, graph_audits, graph_signins
from tests.http_fakes import Reply

NOW = BASE + timedelta(hours=1)
PAGE = LogOptions(page_size=7)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph({"signIns": graph_signins(40), "directoryAudits": graph_audits(30)})
    yield fake
    fake.close()


def env(fake: FakeGraph, token: str = "graph-token") -> dict[str, str]:
    return {"PUSHGUARD_ENTRA_ACCESS_TOKEN": token, "PUSHGUARD_ENTRA_GRAPH_URL": f"{fake.url}/v1.0"}


def newest_first(records: list[dict[str, Any]], prop: str) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r[prop], r["id"]), reverse=True)


def at(moment: Any) -> Any:
    return lambda: moment.timestamp()


def test_both_logs_are_read_in_one_window_each_through_their_next_links(
    graph: FakeGraph, tmp_path: Path
) -> None:
    with collector("entra", env(graph), tmp_path, BASE, options=PAGE, clock=at(NOW)) as run:
        stats = run.collector.poll()
    assert graph.filters == [
        "createdDateTime ge 2026-03-02T08:00:00Z and createdDateTime le 2026-03-02T08:54:59.9999999Z",
        "activityDateTime ge 2026-03-02T08:00:00Z and activityDateTime le 2026-03-02T08:54:59.9999999Z",
    ]
    assert stats.logs["entra.signins"].pages == 6 and stats.logs["entra.audits"].pages == 5
    signins, audits = graph.logs["signIns"], graph.logs["directoryAudits"]
    assert output(tmp_path, "entra") == (
        newest_first(signins, "createdDateTime") + newest_first(audits, "activityDateTime")
    )
    assert {r.arg("$top") for r in graph.requests} == {"7"}
    assert all(r.headers["Authorization"] == "Bearer graph-token" for r in graph.requests)
    assert checkpoint(tmp_path, "entra").cursors["entra.signins"] == {"start": "2026-03-02T08:55:00Z"}


def test_windows_meet_exactly_a_record_on_the_boundary_comes_once(graph: FakeGraph, tmp_path: Path) -> None:
    signins = graph.logs["signIns"]  # one every 11 s from 08:00:00
    end = BASE + timedelta(seconds=110)  # record 10 is exactly on the first window's end
    lag = LogOptions(page_size=7, lag_s=0)
    with collector("entra", env(graph), tmp_path, BASE, logs=["signins"], options=lag, clock=at(end)) as run:
        assert run.poll() == 10
    later = end + timedelta(seconds=60)
    with collector(
        "entra", env(graph), tmp_path, BASE, logs=["signins"], options=lag, clock=at(later)
    ) as run:
        assert run.poll() == 6  # 110 s .. 165 s
    got = ids(output(tmp_path, "entra"), "id")
    assert sorted(got) == ids(signins[:16], "id") and len(set(got)) == 16
    assert graph.filters[-1] == (
        "createdDateTime ge 2026-03-02T08:01:50Z and createdDateTime le 2026-03-02T08:02:49.9999999Z"
    )


def test_nothing_is_asked_before_the_lag_has_passed(graph: FakeGraph, tmp_path: Path) -> None:
    with collector("entra", env(graph), tmp_path, BASE, clock=at(BASE + timedelta(seconds=299))) as run:
        assert run.poll() == 0
    assert graph.requests == []


def test_throttling_waits_what_retry_after_asks(graph: FakeGraph, tmp_path: Path) -> None:
    body = {"error": {"code": "TooManyRequests", "message": "Too many requests."}}
    graph.faults.append(Reply(429, body, {"Retry-After": "2"}))
    with collector("entra", env(graph), tmp_path, BASE, logs=["audits"], clock=at(NOW)) as run:
        assert run.poll() == 30
    assert run.sleeps == [2.0]


def test_a_rejected_token_is_a_clear_error_and_not_retried(graph: FakeGraph, tmp_path: Path) -> None:
    with (
        collector("entra", env(graph, "expired"), tmp_path, BASE, clock=at(NOW)) as run,
        pytest.raises(VendorApiError) as failure,
    ):
        run.poll()
    assert failure.value.credentials_rejected
    assert "InvalidAuthenticationToken" in str(failure.value) and "expired" not in str(failure.value)
    assert len(graph.requests) == 1


def test_client_credentials_go_through_msal_for_the_graph_scope(
    graph: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[dict[str, Any]] = []

    class App:
        def __init__(self, client_id: str, authority: str, client_credential: str) -> None:
            made.append({"client_id": client_id, "authority": authority, "secret": client_credential})

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            made.append({"scopes": scopes})
            return {"access_token": "graph-token", "token_type": "Bearer", "expires_in": 3599}

    monkeypatch.setattr(msal, "ConfidentialClientApplication", App)
    app_env = {
        "PUSHGUARD_ENTRA_TENANT_ID": "contoso-tenant",
        "PUSHGUARD_ENTRA_CLIENT_ID": "app-id",
        "PUSHGUARD_ENTRA_CLIENT_SECRET": "app-secret",
        "PUSHGUARD_ENTRA_GRAPH_URL": f"{graph.url}/v1.0",
    }
    with collector("entra", app_env, tmp_path, BASE, logs=["signins"], clock=at(NOW)) as run:
        assert run.poll() == 40
    assert made[0] == {
        "client_id": "app-id",
        "authority": "https://login.microsoftonline.com/contoso-tenant",
        "secret": "app-secret",
    }
    assert made[1] == {"scopes": ["https://graph.microsoft.com/.default"]}


def test_msal_refusing_the_secret_is_a_clear_error(
    graph: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class App:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            why = "AADSTS7000215: Invalid client secret provided.\nTrace ID: 0000"
            return {"error": "invalid_client", "error_description": why}

    monkeypatch.setattr(msal, "ConfidentialClientApplication", App)
    app_env = {f"PUSHGUARD_ENTRA_{k}": "x" for k in ("TENANT_ID", "CLIENT_ID", "CLIENT_SECRET")}
    app_env["PUSHGUARD_ENTRA_GRAPH_URL"] = graph.url
    with (
        collector("entra", app_env, tmp_path, BASE, clock=at(NOW)) as run,
        pytest.raises(ConfigError, match=r"Graph token: AADSTS7000215: Invalid client secret provided\.$"),
    ):
        run.poll()
    assert graph.requests == []


def test_beta_sign_ins_are_asked_of_the_beta_endpoint(graph: FakeGraph, tmp_path: Path) -> None:
    beta = LogOptions(graph_version="beta")
    with collector("entra", env(graph), tmp_path, BASE, logs=["signins"], options=beta, clock=at(NOW)) as run:
        assert run.poll() == 40
    assert {r.path for r in graph.requests} == {"/beta/auditLogs/signIns"}


def test_a_restart_in_the_middle_of_a_window_continues_its_next_link(
    graph: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_at_commit(monkeypatch, page=3)
    with (
        collector("entra", env(graph), tmp_path, BASE, options=PAGE, clock=at(NOW)) as run,
        pytest.raises(Crash),
    ):
        run.poll()
    pending = checkpoint(tmp_path, "entra").cursors["entra.signins"]
    assert pending["end"] == "2026-03-02T08:55:00Z" and "skiptoken=14" in pending["next_link"]
    monkeypatch.undo()
    later = NOW + timedelta(minutes=10)  # the restart comes later: the pending window keeps its end
    with collector("entra", env(graph), tmp_path, BASE, options=PAGE, clock=at(later)) as run:
        assert run.poll() == 40 - 14 + 30
    signins, audits = graph.logs["signIns"], graph.logs["directoryAudits"]
    assert output(tmp_path, "entra") == (
        newest_first(signins, "createdDateTime") + newest_first(audits, "activityDateTime")
    )
    assert graph.requests[3].arg("$skiptoken") == "14"  # the page that was lost, asked again
    assert graph.filters[-1].endswith("le 2026-03-02T09:04:59.9999999Z")  # audits: a window to the new end


def test_analyze_reads_the_collected_file(graph: FakeGraph, tmp_path: Path) -> None:
    with collector("entra", env(graph), tmp_path, BASE, clock=at(NOW)) as run:
        run.poll()
    result = analyze([tmp_path / "entra.jsonl"])
    assert result.stats.records == 70 and result.stats.errors == 0
    assert result.stats.by_provider["entra"] == result.stats.events > 0
