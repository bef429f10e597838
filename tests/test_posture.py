"""``pushguard posture`` and ``report.posture``: on the vendor fixtures and on a simulated tenant."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.model import ConfigError, EventKind, Factor, Provider
from pushguard.report.posture import PostureConfig, compute_posture, posture_config
from pushguard.simulate.scenario import simulate
from tests.conftest import FIXTURES
from tests.events import ev

runner = CliRunner()


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("posture") / "tenant"
    simulate(3, 40, 3, out)
    return out


def test_posture_on_the_vendor_fixtures() -> None:
    """Every fixture of tests/fixtures (the four vendors; see each folder's PROVENANCE.md): the numbers are
    what those records give; adding a sign-in fixture changes them."""
    result = runner.invoke(app, ["posture", str(FIXTURES), "--format", "json"])
    assert result.exit_code == 0, result.output
    posture = json.loads(result.output)
    assert posture["signins"] == 40
    single = {i["name"] for i in posture["items"] if i["kind"] == "single_factor"}
    assert single == {
        "bob.dupont@corp.example",  # okta/oie-password-federation-handmade.jsonl line 1: PASSWORD_AS_FACTOR
        "noah.weber@corp.example",  # line 6: the Password authenticator enrollment, nothing after
        "eve@lexcorp.com",  # entra/signin-azure-monitor-panther.jsonl line 3: Authenticated SMTP
        "olle.berg@contoso-example.com",  # entra/signin-azure-monitor-handmade.jsonl line 8: EWS
    }
    apps = {a["name"]: a for a in posture["apps"]}
    console = apps["Okta Admin Console"]  # okta/handmade.jsonl line 8: an Okta Verify push, approve only
    assert console["privileged"]  # an admin console whatever the logs say
    assert (console["signins"], console["by_class"]) == (1, {"push_approve": 1.0})
    assert console["weak_privileged"] == 1
    weak = next(i for i in posture["items"] if i["kind"] == "privileged_weak")
    assert (weak["name"], weak["detail"]) == ("Okta Admin Console", "1 by push_approve")
    exchange = apps["Office 365 Exchange Online"]  # the Authenticated SMTP and EWS records
    assert (exchange["signins"], exchange["by_class"]) == (2, {"password_only": 1.0})
    # entra line 9: single factor, the only step "Previously satisfied": no factor shown, not a password alone
    assert apps["Microsoft App Access Panel"]["by_class"] == {"unknown": 1.0}
    groups = {g["name"]: g for g in posture["groups"]}
    assert set(groups) == {"everyone", "admins", "service_accounts"}
    assert (groups["everyone"]["signins"], groups["admins"]["signins"]) == (37, 11)
    assert groups["everyone"]["by_class"]["password_only"] == pytest.approx(4 / 37, abs=1e-3)
    assert groups["service_accounts"]["by_class"] == {"unknown": 1.0}
    for group in groups.values():
        assert sum(group["by_class"].values()) == pytest.approx(1.0, abs=1e-3)
    assert all(i["refs"]["sp800_63b"] and i["refs"]["nist_csf_2"] for i in posture["items"])  # mapped
    assert "PR.AA-05" in weak["refs"]["nist_csf_2"]
    table = runner.invoke(app, ["posture", str(FIXTURES)])
    assert table.exit_code == 0, table.output
    assert "By application" in table.output and "By ISO week" in table.output


def test_posture_on_a_simulated_tenant_with_exceptions(tenant: Path, tmp_path: Path) -> None:
    labels = json.loads((tenant / "labels.json").read_text())
    mailbox = next(login for login in labels["assurance_exceptions"] if login.startswith("shared-mailbox"))
    config = tmp_path / "pushguard.yaml"
    config.write_text(
        "posture:\n"
        "  privileged_apps: [Workday]\n"
        f"  exceptions:\n    - {{account: {mailbox}, reason: approved IMAP for the ticketing tool}}\n"
    )
    result = runner.invoke(app, ["posture", str(tenant), "--config", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    posture = json.loads(result.output)
    single = {i["name"] for i in posture["items"] if i["kind"] == "single_factor"}
    assert mailbox not in single
    assert posture["excepted"] == {mailbox: "approved IMAP for the ticketing tool"}
    assert any(name.startswith("test-legacy1@") for name in single)  # the chain's victim and its spray
    groups = {g["name"]: g for g in posture["groups"]}
    assert {"everyone", "admins", "service_accounts"} <= set(groups)
    assert sum(groups["everyone"]["by_class"].values()) == pytest.approx(1.0, abs=1e-3)
    apps = {a["name"]: a for a in posture["apps"]}
    assert apps["Workday"]["privileged"] and apps["Azure Portal"]["privileged"]
    assert posture["weeks"] and all(w["week"].startswith("2026-W") for w in posture["weeks"])
    assert (
        posture["change_first"]
        and posture["change_first"][0]["count"] >= posture["change_first"][-1]["count"]
    )
    assert runner.invoke(app, ["posture", str(tenant)]).exit_code == 0


def test_session_assurance_is_its_strongest_step_and_weak_privileged_is_counted() -> None:
    console = {"session_id": "s1", "app": "Okta Admin Console"}
    events = [
        msgspec.structs.replace(ev(EventKind.SIGNIN_SUCCESS, 0, factor=Factor.PASSWORD), **console),
        msgspec.structs.replace(ev(EventKind.PUSH_APPROVED, 20), **console),
        ev(
            EventKind.FACTOR_ENROLLED,
            30,
            user="bob@corp.example",
            factor=Factor.WEBAUTHN,
            provider=Provider.OKTA,
        ),
    ]
    posture = compute_posture(events)
    (share,) = posture.apps
    assert share.signins == 1 and share.by_class == {"push_approve": 1.0} and share.weak_privileged == 1
    kinds = {(i.kind, i.name) for i in posture.items}
    assert ("privileged_weak", "Okta Admin Console") in kinds
    assert ("no_phishing_resistant", "alice@corp.example") in kinds
    assert ("single_factor", "alice@corp.example") not in kinds
    weak = next(i for i in posture.items if i.kind == "privileged_weak")
    assert "PR.AA-05" in weak.refs["nist_csf_2"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "expected a mapping"),
        ({"privileged": []}, "unknown key"),
        ({"privileged_apps": "Workday"}, "privileged_apps: expected a list"),
        ({"exceptions": [{"account": "a@b"}]}, "needs its reason"),
        ({"exceptions": ["a@b"]}, r"exceptions\[0\]: expected"),
    ],
)
def test_posture_config_is_checked(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        posture_config(raw)


def test_posture_config_reads_lists() -> None:
    config = posture_config(
        {
            "privileged_apps": ["Workday "],
            "admins": ["Root@corp"],
            "exceptions": [{"account": "M@x", "reason": "ok"}],
        }
    )
    assert config == PostureConfig(
        privileged_apps=frozenset({"workday"}), admins=frozenset({"root@corp"}), exceptions={"m@x": "ok"}
    )


def test_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("posture: [1, 2]\n")
    result = runner.invoke(app, ["posture", str(FIXTURES), "--config", str(config)])
    assert result.exit_code == 2
    assert "c.yaml: posture: Expected `object | null`, got `array`" in result.output


def test_html_report_has_the_posture_section(tenant: Path) -> None:
    from pushguard.cli.report import analyze_for_report
    from pushguard.detect import META_BY_ID
    from pushguard.report.html import render_html

    _, events, _ = analyze_for_report([tenant])
    document = render_html([], events, META_BY_ID)
    assert "<h2>Assurance posture</h2>" in document
    section = document[document.index("<h2>Assurance posture</h2>") : document.index("<h2>Frameworks</h2>")]
    assert "service_accounts" in section and "Change first" in section and "PR.AA-05" in section
    assert "Assurance posture" not in render_html([], [], META_BY_ID)


def test_analyze_config_posture_exceptions_exempt_assurance_gap(tmp_path: Path) -> None:
    from pushguard.config import load_pipeline_config

    config = tmp_path / "pushguard.yaml"
    config.write_text(
        "detectors:\n  push_bombing: {min_prompts: 4}\n"
        "posture:\n  exceptions:\n    - {account: Shared@corp.example, reason: IMAP ticketing}\n"
    )
    detectors = load_pipeline_config(config).detectors
    assert detectors["assurance_gap"] == {"exempt_accounts": "shared@corp.example"}
    assert detectors["push_bombing"] == {"min_prompts": 4}
    config.write_text(
        "detectors:\n  assurance_gap: {exempt_accounts: other@corp.example}\n"
        "posture:\n  exceptions:\n    - {account: shared@corp.example, reason: IMAP}\n"
    )
    assert load_pipeline_config(config).detectors["assurance_gap"] == {
        "exempt_accounts": "other@corp.example"
    }
    config.write_text("posture:\n  exceptions: [{account: a@b}]\n")
    with pytest.raises(ConfigError, match="needs its reason"):
        load_pipeline_config(config)
