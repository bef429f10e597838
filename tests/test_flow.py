"""The composition root (issue 20): one module builds the pipeline, every command takes its `--config`,
bad tunables are refused with their range, and the report reads each log file once."""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from typer.testing import CliRunner

from pushguard import pipeline, reading
from pushguard.api import load_config
from pushguard.cli import app
from pushguard.config import PipelineConfig, load_pipeline_config
from pushguard.detect import META_BY_ID
from pushguard.detect.base import settings
from pushguard.flow import Flow
from pushguard.model import ConfigError
from pushguard.review import review_enrollments
from pushguard.sources import readers

SRC = Path(__file__).parent.parent / "src" / "pushguard"
FIXTURES = Path(__file__).parent / "fixtures"
OKTA = FIXTURES / "okta" / "handmade.jsonl"
ENTRA_AUDIT = FIXTURES / "entra" / "audit-graph-handmade.jsonl"
COMPOSING_CALLS = {"Engine", "build_detectors", "build_enrichers"}


def _composing_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        loads_aliases = (
            isinstance(func, ast.Attribute)
            and func.attr == "load"
            and isinstance(func.value, ast.Name)
            and func.value.id == "AliasMap"
        )
        if name in COMPOSING_CALLS or loads_aliases:
            found.append(f"{path.relative_to(SRC)}:{node.lineno} {name}")
    return found


def test_only_the_flow_builds_engines_detectors_enrichers_and_alias_maps() -> None:
    composers = [hit for path in sorted(SRC.rglob("*.py")) for hit in _composing_calls(path)]
    assert composers and all(hit.startswith("flow.py:") for hit in composers), composers


def test_an_engine_without_detectors_is_refused() -> None:
    with pytest.raises(TypeError, match=r"flow\.Flow"):
        pipeline.Engine()


# -- settings: one loader, ranges --------------------------------------------------------------------


BAD_TUNABLES = "detectors:\n  push_bombing:\n    min_prompts: -3\n    window_s: -10\n"


def test_a_tunable_out_of_range_is_refused_naming_file_key_and_range(tmp_path: Path) -> None:
    path = tmp_path / "pushguard.yaml"
    path.write_text(BAD_TUNABLES)
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path, environ={})
    message = str(caught.value)
    assert str(path) in message
    assert "detectors.push_bombing.min_prompts: -3 is out of range (allowed: >= 1 prompts)" in message


def test_the_service_refuses_the_same_tunable_with_the_same_words(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text(f"state: ':memory:'\n{BAD_TUNABLES}")
    with pytest.raises(ConfigError, match=r"detectors\.push_bombing\.min_prompts: -3 is out of range"):
        load_config(path, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("detectors: {push_spray: {min_unresolved_ratio: 1.5}}", "allowed: 0 to 1 ratio"),
        ("detectors: {impossible_travel: {max_speed_kmh: -1.0}}", "allowed: >= 0 km/h"),
        ("detectors: {push_fatigue: {window_s: -60}}", "allowed: >= 0 s"),
        ("detectors: {push_bombing: {min_prompts: 2.5}}", "tunable min_prompts must be int"),
        ("detectors: {no_such: {}}", "unknown detector(s) in config: no_such"),
        ("geoip: x.mmdb", "geoip: unknown setting"),
    ],
)
def test_each_bad_setting_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path, environ={})
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_every_default_is_within_its_own_range() -> None:
    for meta in META_BY_ID.values():
        assert settings(meta, {name: t.default for name, t in meta.tunables.items()})


def test_environment_names_the_maxmind_files_and_options_win(tmp_path: Path) -> None:
    config = load_pipeline_config(None, environ={"PUSHGUARD_GEOIP_CITY": "env.mmdb"}, geoip_asn=Path("a"))
    assert (config.geoip_city, config.geoip_asn) == ("env.mmdb", "a")
    given = load_pipeline_config(None, environ={"PUSHGUARD_GEOIP_CITY": "env.mmdb"}, geoip_city="cli.mmdb")
    assert given.geoip_city == "cli.mmdb"


def test_the_detectors_command_prints_the_ranges_the_loader_checks() -> None:
    result = CliRunner().invoke(app, ["detectors"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert ">= 1 prompts" in result.output and "0 to 1 ratio" in result.output


# -- every command takes --config ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["enrollments", str(OKTA)],
        ["policy", "backtest", str(OKTA)],
        ["analyze", str(OKTA)],
        ["report", str(OKTA), "--html", "never-written.html"],
    ],
)
def test_each_command_refuses_a_bad_config(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_TUNABLES)
    result = CliRunner().invoke(app, [*command, "--config", str(path)])
    assert result.exit_code == 2
    assert "detectors.push_bombing.min_prompts" in result.output and ">= 1" in result.output


def _json(args: list[str]) -> Any:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_enrollments_honour_the_detector_tunables_of_config(tmp_path: Path) -> None:
    config = tmp_path / "tuned.yaml"
    config.write_text("detectors:\n  enrollment_abuse:\n    dormant_s: 60\n")
    plain = _json(["enrollments", str(OKTA)])
    tuned = _json(["enrollments", str(OKTA), "--config", str(config)])
    assert "dormant" not in plain[0]["signals"] and "dormant" in tuned[0]["signals"]


def test_enrollments_honour_the_maxmind_files_of_config(tmp_path: Path) -> None:
    city = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    city.insert_network(
        IPSet(["102.89.34.0/24"]),
        {
            "city": {"names": {"en": "Testville"}},
            "country": {"iso_code": "NG"},
            "location": {"latitude": 6.45, "longitude": 3.39, "accuracy_radius": 20},
        },
    )
    city.to_db_file(str(tmp_path / "city.mmdb"))
    config = tmp_path / "geo.yaml"
    config.write_text(f"geoip_city: {tmp_path / 'city.mmdb'}\n")
    plain = _json(["enrollments", str(ENTRA_AUDIT)])
    placed = _json(["enrollments", str(ENTRA_AUDIT), "--config", str(config)])
    assert not any("Testville" in row["place"] for row in plain)
    assert any("Testville" in row["place"] for row in placed)


def test_the_backtest_honours_the_organisation_of_config(tmp_path: Path) -> None:
    config = tmp_path / "org.yaml"
    config.write_text("organisation:\n  trusted_networks: [203.0.113.0/24, 198.51.100.0/24]\n")
    plain = _json(["policy", "backtest", str(OKTA)])
    trusted = _json(["policy", "backtest", str(OKTA), "--config", str(config)])
    assert plain["policies"][0]["decisions"] != trusted["policies"][0]["decisions"]


def test_the_library_review_takes_the_flow() -> None:
    tuned = Flow.build(PipelineConfig(detectors={"enrollment_abuse": {"dormant_s": 60}}))
    assert "dormant" in review_enrollments([OKTA], flow=tuned)[0].signals


# -- one pass --------------------------------------------------------------------------------------


def test_the_report_reads_and_parses_each_log_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for fixture in (OKTA, ENTRA_AUDIT):
        (logs / fixture.name).write_bytes(fixture.read_bytes())
    reads: Counter[str] = Counter()
    parses: Counter[str] = Counter()
    real_read, real_parse = readers.read_records, reading.parse_items

    def counting_read(path: Path, *args: Any, **kwargs: Any) -> Iterator[Any]:
        reads[Path(path).name] += 1
        return real_read(path, *args, **kwargs)

    def counting_parse(items: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        parses["parse_items"] += 1
        return real_parse(items, *args, **kwargs)

    monkeypatch.setattr(reading, "read_records", counting_read)
    monkeypatch.setattr(reading, "parse_items", counting_parse)
    result = CliRunner().invoke(app, ["report", str(logs), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert reads == {OKTA.name: 1, ENTRA_AUDIT.name: 1}
    assert parses == {"parse_items": 2}  # one per file
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "alice.martin@corp.example" in html  # the enrollment review and timelines came from that pass
