"""``analyze --jobs``: several processes, split by identity, give exactly the one-process findings (accounts
linked across IdPs as one process links them)."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.config import PipelineConfig
from pushguard.enrich import AliasMap
from pushguard.enrich.resolver import IdentityResolver, Link, names_touched
from pushguard.flow import Flow, analyze
from pushguard.model import Event, EventKind, Principal, Provider
from pushguard.parallel import JobsProfile, analyze_parallel
from pushguard.parallel.links import Groups, plan_keys, plan_partitions
from pushguard.parallel.worker import Worker
from pushguard.simulate import okta_records as okta
from pushguard.simulate.scenario import simulate
from pushguard.sources.readers import jsonl_ranges, read_file, read_jsonl_range


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parallel") / "tenant"
    simulate(11, 150, 4, root)
    return root


@pytest.mark.parametrize("jobs", [2, 3])
def test_jobs_give_the_one_process_findings_and_counts(tenant: Path, jobs: int) -> None:
    one = analyze([tenant])  # accounts linked from the records' fields, as analyze does by default
    unlinked = analyze([tenant], resolver=IdentityResolver(vendor_fields=False))
    assert unlinked.findings != one.findings, "the tenant must have accounts only the records' fields link"
    # split_min_bytes=1: every JSON Lines file is parsed in byte ranges, the hardest case for ordering
    profile = JobsProfile()
    many = analyze_parallel([tenant], jobs, split_min_bytes=1, profile=profile)
    assert one.findings, "the tenant must produce findings for the comparison to mean something"
    # the second stage (IP/ASN-keyed detectors) runs in slices across processes: it must have found some
    assert {"push_spray", "push_spray_asn", "password_spray"} & {f.detector for f in one.findings}
    assert many.findings == one.findings
    assert {f.detector for f in many.findings} == {f.detector for f in one.findings}
    for counter in ("records", "events", "errors", "duplicates", "late", "not_a_user", "files"):
        assert getattr(many.stats, counter) == getattr(one.stats, counter), counter
    assert many.stats.by_provider == one.stats.by_provider
    assert many.stats.unmapped == one.stats.unmapped
    # the work was shared: every process detected, and events crossed to the process of their identity
    assert len(profile.processes) == jobs and not profile.fell_back
    assert all(cost.cpu_s["detect"] > 0 and cost.counts["events sent"] > 0 for cost in profile.processes)
    # some second-stage keys ran where they were (only one process had them), some travelled
    assert sum(cost.counts["deferred, sent"] for cost in profile.processes) > 0


def test_jobs_without_linking_give_the_unlinked_findings(tenant: Path) -> None:
    one = analyze([tenant], resolver=IdentityResolver(vendor_fields=False))
    many = analyze_parallel([tenant], 2, flow=Flow(PipelineConfig(link=False)), split_min_bytes=1)
    assert many.findings == one.findings


def test_jobs_link_by_a_directory_as_one_process(tenant: Path, tmp_path: Path) -> None:
    """The directory's links join accounts the records alone would not (here: linking by fields off)."""
    resolver = IdentityResolver()
    Flow().identities([tenant], resolver)
    rows = ["person,emails,okta,entra,duo"]
    for person, accounts in resolver.people().items():
        if "@" in person and len(accounts) > 1:
            cells = [" ".join(accounts.get(idp, [])) for idp in ("okta", "entra", "duo")]
            rows.append(",".join([person, person, *cells]))
    assert len(rows) > 3
    directory = tmp_path / "people.csv"
    directory.write_text("\n".join(rows) + "\n", encoding="utf-8")
    flow = Flow.build(PipelineConfig(link=False, directory=str(directory)))
    one = flow.run([tenant])
    assert one.findings != analyze([tenant], resolver=IdentityResolver(vendor_fields=False)).findings
    many = analyze_parallel([tenant], 2, flow=flow, split_min_bytes=1)
    assert many.findings == one.findings


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="patches the forked processes")
def test_a_key_turning_up_where_it_was_not_foreseen_runs_the_second_stage_again(
    tenant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key the plan gave one process as its own, seen by another too, makes the run take the safe way
    (every key in the second stage): the findings stay the one-process ones."""
    resolve = Worker._resolve

    def forgetful(self: Worker, *args: object) -> object:
        resolved, table, usage = resolve(self, *args)  # type: ignore[arg-type]
        if self.index == 1:  # process 1 does not foresee the busiest key, which process 0 has too
            del usage[max(usage, key=usage.__getitem__)]
        return resolved, table, usage

    monkeypatch.setattr(Worker, "_resolve", forgetful)
    profile = JobsProfile()
    many = analyze_parallel([tenant], 2, profile=profile)
    assert profile.fell_back
    assert many.findings == analyze([tenant]).findings


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="patches the forked processes")
def test_a_process_s_exception_is_raised_in_the_caller(tenant: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Worker) -> None:
        raise ValueError(f"boom in {self.index}")

    monkeypatch.setattr(Worker, "_parse", broken)
    with pytest.raises(ValueError, match="boom in"):
        analyze_parallel([tenant], 2)


# -- the plan: link groups and second-stage keys ------------------------------------------------------


def _event(provider: Provider, login: str, vendor_id: str | None = None, email: str | None = None) -> Event:
    subject = Principal(id=vendor_id, login=login, email=email)
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return Event(
        provider=provider,
        event_id=login,
        time=moment,
        kind=EventKind.PUSH_SENT,
        identity=login,
        subject=subject,
    )


def test_accounts_the_resolver_could_join_are_planned_into_one_process() -> None:
    events = [
        _event(Provider.OKTA, "ada@corp.example", "00u1"),
        _event(Provider.DUO, "ada", "DU1", email="ada@corp.example"),  # joined by the address
        _event(Provider.DUO, "a.lovelace", "DU1"),  # joined by Duo's immutable id
        *(_event(Provider.OKTA, f"user{n}@corp.example", f"00u{n + 10}") for n in range(20)),
    ]
    names: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    for event in events:
        name, linked = names_touched(event, AliasMap(), vendor_fields=True)
        counts[name] += 1
        names.setdefault(name, set()).update(linked)
    route = plan_partitions([names], [counts], 3)
    assert route["okta|ada@corp.example"] == route["duo|ada"] == route["duo|a.lovelace"]
    loads: Counter[int] = Counter()
    for name, count in counts.items():
        loads[route[name]] += count
    assert sorted(loads.values()) == [7, 8, 8]  # the group of 3 first, then the rest evened out
    # without the records' fields, only the alias map joins: Duo's short names stay their own
    alone = {names_touched(e, AliasMap(), vendor_fields=False)[1] for e in events[1:3]}
    assert all("ada@corp.example" not in linked and "duo|DU1" not in linked for linked in alone)


def test_a_directory_link_joins_its_accounts() -> None:
    counts = Counter({"okta|ada@corp.example": 5, "duo|ada": 5, "okta|bob@corp.example": 5})
    names = [{"okta|ada@corp.example": {"ada@corp.example"}, "duo|ada": {"ada"}}]
    link = Link(account="duo|ada", person="ada@corp.example", how="directory")
    route = plan_partitions(names, [counts], 2, [link])
    assert route["duo|ada"] == route["okta|ada@corp.example"] != route["okta|bob@corp.example"]


def test_groups_join_transitively() -> None:
    groups = Groups()
    groups.join("a", ["b"])
    groups.join("c", ["d"])
    assert groups.find("a") != groups.find("c")
    groups.join("b", ["d"])
    assert groups.find("a") == groups.find("c") == groups.find("d")


def test_keys_several_processes_foresee_are_given_to_one_and_spread() -> None:
    usage = [
        Counter({"10.0.0.1": 50, "office": 30, "asn1": 5}),
        Counter({"office": 20, "asn1": 5, "10.0.0.9": 4}),
    ]
    owners = plan_keys(usage, 2)
    assert set(owners) == {"office", "asn1"}  # the keys one process alone has stay there, unlisted
    # the busiest shared key goes to the less loaded process (4 events of its own against 50), the next
    # one to the other
    assert owners == {"office": 1, "asn1": 0}
    every = plan_keys(usage, 2, every_key=True)
    assert every["10.0.0.1"] == 0 and every["10.0.0.9"] == 1


def test_a_broken_line_in_a_byte_range_is_counted_with_its_line_number(tmp_path: Path) -> None:
    source = Path(__file__).parent / "fixtures" / "okta" / "panther.jsonl"
    lines = source.read_bytes().splitlines()
    broken = tmp_path / "okta.jsonl"
    broken.write_bytes(b"\n".join([*lines, b'{"eventType": "user.session', *lines]) + b"\n")
    one = analyze([broken])
    many = analyze_parallel([broken], 2, split_min_bytes=1)
    assert many.stats.errors == one.stats.errors
    assert sorted(many.stats.error_samples) == sorted(one.stats.error_samples)
    assert any(f"{broken}:{len(lines) + 1}: invalid JSON" in sample for sample in many.stats.error_samples)
    assert many.findings == one.findings


def test_byte_ranges_cover_every_line_once_with_file_line_numbers(tmp_path: Path) -> None:
    source = Path(__file__).parent / "fixtures" / "okta" / "panther.jsonl"
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n\n" + source.read_bytes() * 3)  # leading blank lines count as lines
    whole = [(item.position, item.record) for item in read_file(path)]
    ranges = jsonl_ranges(path, 5, 1)
    assert ranges is not None and len(ranges) > 1
    assert ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    pieces = [
        (item.position, item.record) for start, end in ranges for item in read_jsonl_range(path, start, end)
    ]
    assert pieces == whole
    assert whole[0][0] == 3


def test_gzip_and_json_documents_are_not_split(tmp_path: Path) -> None:
    document = Path(__file__).parent / "fixtures" / "duo" / "authlogs-envelope.json"
    assert jsonl_ranges(document, 4, 1) is None


def test_cli_jobs(tenant: Path, tmp_path: Path) -> None:
    out_one, out_many = tmp_path / "one.jsonl", tmp_path / "many.jsonl"
    runner = CliRunner()
    first = runner.invoke(app, ["analyze", str(tenant), "--quiet", "--out", str(out_one)])
    second = runner.invoke(app, ["analyze", str(tenant), "--quiet", "--jobs", "2", "--out", str(out_many)])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert out_one.read_bytes() == out_many.read_bytes()
    refused = runner.invoke(app, ["analyze", str(tenant), "--jobs", "2", "--state", str(tmp_path / "s.db")])
    assert refused.exit_code == 2
    assert "--state" in refused.output


def test_silence_speaks_at_the_run_s_end_in_every_partition(tmp_path: Path) -> None:
    """Prompts left unanswered are judged when the whole run ends (its latest event), not when the
    identity's own partition runs out of events: otherwise the finding's time depends on --jobs."""
    victim, other = "victim@example.com", "other@example.com"
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    records = [
        okta.push_sent(start + timedelta(seconds=40 * n), victim, "203.0.113.9", "paris") for n in range(7)
    ]
    records.append(okta.session_start(start + timedelta(hours=6), other, "198.51.100.4", "lyon"))
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(record) + b"\n" for record in records))
    one = analyze([path])
    profile = JobsProfile()
    many = analyze_parallel([path], 2, profile=profile)
    # one identity each: the victim's prompts in one process, the other's sign-in in the other
    assert sorted(cost.counts["events detected"] for cost in profile.processes) == [1, 7]
    bombing = [f for f in one.findings if f.detector == "push_bombing"]
    assert bombing and bombing[0].detected_at == "2026-03-02T15:00:00Z"  # the run's latest event
    assert many.findings == one.findings
