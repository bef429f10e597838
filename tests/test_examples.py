"""The files under examples/ work with the commands their comments name, and ``decide`` places a
request's address itself (country, ASN, hosting) when the caller sends no ``geo``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.flow import Flow
from tests.api_env import running

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REQUEST = EXAMPLES / "decide-request.json"
runner = CliRunner()

# 51.38.1.1 is in OVH's 51.38.0.0/16: the bundled database (plevin-db-network 2026.10.4.2) names
# FR and AS16276, and AS16276 is in HOSTING_ASNS.
OVH = {"country": "FR", "asn": 16276, "hosting_asn": True}


def test_the_example_policy_lints_and_its_tests_pass() -> None:
    lint = runner.invoke(app, ["policy", "lint", str(EXAMPLES / "policy.yaml"), "--format", "json"])
    assert lint.exit_code == 0, lint.output
    (result,) = json.loads(lint.output)
    assert result["ok"] and result["rules"] == 4
    tested = runner.invoke(app, ["policy", "test", str(EXAMPLES / "policy.yaml")])
    assert tested.exit_code == 0, tested.output
    assert "4 passed, 0 failed" in tested.output


def test_policy_lint_takes_several_files_and_fails_on_any() -> None:
    bad = Path(__file__).parent / "fixtures" / "policies" / "typo.yaml"
    result = runner.invoke(
        app, ["policy", "lint", str(EXAMPLES / "policy.yaml"), str(bad), "--format", "json"]
    )
    assert result.exit_code == 1
    verdicts = {Path(r["file"]).name: r["ok"] for r in json.loads(result.stdout)}
    assert verdicts == {"policy.yaml": True, "typo.yaml": False}


def test_decide_without_geo_places_the_address_itself() -> None:
    request = json.loads(REQUEST.read_text())
    assert "geo" not in request and request["ip"] == "51.38.1.1"
    result = runner.invoke(
        app,
        ["decide", "--request", f"@{REQUEST}", "--policy", str(EXAMPLES / "policy.yaml"), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert {name: decision["signals"][name] for name in OVH} == OVH
    assert decision["decision"] == "step_up"  # the example policy's hosting rule fired on the located address


def test_decide_keeps_the_callers_geo_and_completes_it() -> None:
    request = {**json.loads(REQUEST.read_text()), "geo": {"country": "DE"}}
    result = runner.invoke(app, ["decide", "--request", json.dumps(request), "--format", "json"])
    assert result.exit_code == 0, result.output
    signals = json.loads(result.stdout)["signals"]
    assert signals["country"] == "DE"  # the caller saw the connection: its country stays
    assert signals["asn"] == 16276  # the ASN it left out is added, as for a vendor record


def test_http_decide_without_geo_places_the_address(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        answer = env.client.post(
            "/v1/decide", json=json.loads(REQUEST.read_text()), headers=env.headers("decide")
        )
    assert answer.status_code == 200, answer.text
    signals = answer.json()["signals"]
    assert {name: signals[name] for name in OVH} == OVH


def test_the_example_detector_config_and_alias_map_load_and_run(tmp_path: Path) -> None:
    flow = Flow.load(EXAMPLES / "detectors.yaml", aliases=EXAMPLES / "aliases.csv")
    assert flow.config.detectors["push_spray_asn"] is False
    aliases = flow.aliases
    assert aliases.canonical("amartin@example.onmicrosoft.com") == "ana.martin@example.com"
    assert aliases.canonical("alias") == "alias"  # the header is not an alias
    tenant = tmp_path / "tenant"
    assert (
        runner.invoke(app, ["simulate", "--out", str(tenant), "--users", "40", "--days", "2"]).exit_code == 0
    )
    plain = runner.invoke(app, ["analyze", str(tenant), "--format", "json"])
    assert "push_spray_asn" in json.loads(plain.stdout)["by_detector"]
    args = ["analyze", str(tenant), "--config", str(EXAMPLES / "detectors.yaml")]
    result = runner.invoke(app, [*args, "--aliases", str(EXAMPLES / "aliases.csv"), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["input"]["events"] > 0
    assert "push_spray_asn" not in summary["by_detector"]  # disabled by the example config
