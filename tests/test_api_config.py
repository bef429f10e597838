"""Service configuration (YAML file + PUSHGUARD_* variables, precise errors, no secret echoed), API keys
(hashed at rest, revocations seen by a running server), and the `keys` and `serve` commands."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from pushguard.api import KeyStore, Scope, load_config
from pushguard.cli import app as cli_app
from pushguard.model import ConfigError, DecisionAction
from tests.api_env import DECIDE, running


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text("state: /var/lib/pg/state.sqlite\nmax_body_bytes: 65536\npage_size_max: 50\n")
    config = load_config(
        path,
        {
            "PUSHGUARD_MAX_BODY_BYTES": "131072",
            "PUSHGUARD_DECIDE_FALLBACK": "deny",
            "PUSHGUARD_ADVANCE_EVERY_S": "2.5",
            "PUSHGUARD_OKTA_HOOK_SECRET": "s" * 32,
            "UNRELATED": "x",
        },
    )
    assert config.state == "/var/lib/pg/state.sqlite" and config.page_size_max == 50
    assert config.max_body_bytes == 131072 and config.advance_every_s == 2.5
    assert config.decide_fallback is DecisionAction.DENY and config.okta_hook_secret == "s" * 32
    assert config.spool_dir() == Path("/var/lib/pg/state.sqlite.hooks")
    assert load_config(None, {"PUSHGUARD_STATE": ":memory:"}).spool_dir() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max_body_bytes: lots\n", "max_body_bytes: Expected `int`"),
        ("sate: x.sqlite\n", "sate: unknown setting"),
        ("decide_fallback: maybe\n", "decide_fallback: Invalid enum value 'maybe'"),
        ("- a list\n", "expected a mapping"),
        ("state: [unclosed\n", "invalid YAML"),
        ("max_body_bytes: 10\n", "max_body_bytes must be at least 1024"),
        ("log_level: chatty\n", "log_level must be one of"),
        ("okta_hook_secret: short\n", "okta_hook_secret must be at least 16 characters"),
    ],
)
def test_a_bad_file_names_the_file_and_the_setting(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "service.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_a_bad_variable_is_named_and_a_secret_never_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"PUSHGUARD_MAX_BODY_BYTES='12a'.*Expected `int`"):
        load_config(None, {"PUSHGUARD_MAX_BODY_BYTES": "12a"})
    with pytest.raises(ConfigError, match="PUSHGUARD_ADVANCE_EVERY_S"):
        load_config(None, {"PUSHGUARD_ADVANCE_EVERY_S": "soon"})
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"PUSHGUARD_OKTA_HOOK_SECRET": "tooshort"})
    assert "PUSHGUARD_OKTA_HOOK_SECRET" in str(caught.value) and "tooshort" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", {})


def test_keys_are_stored_hashed_and_verified(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.json")
    stored, token = keys.create("vpn-proxy", [Scope.DECIDE, Scope.DECIDE])
    assert stored.scopes == [Scope.DECIDE]
    secret = token.split("_", 2)[2]
    assert len(secret) >= 43  # 32 random bytes, URL-safe base64
    text = (tmp_path / "keys.json").read_text()
    assert secret not in text and stored.sha256 in text
    assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert keys.verify(token) == stored
    for wrong in (token + "x", token[:-1], f"pg_{stored.id}_", f"pg_nope_{secret}", secret, ""):
        assert keys.verify(wrong) is None
    with pytest.raises(ValueError, match="scope"):
        keys.create("nothing", [])
    with pytest.raises(ValueError, match="name"):
        keys.create("  ", [Scope.READ])


def test_a_revocation_by_the_cli_reaches_the_running_server(tmp_path: Path) -> None:
    with running(tmp_path) as env:
        headers = env.headers("decide")
        assert env.client.post("/v1/decide", json=DECIDE, headers=headers).status_code == 200
        other_process = KeyStore(env.config.keys_file)  # what `pushguard keys revoke` does
        other_process.revoke(env.tokens["decide"].split("_")[1])
        assert env.client.post("/v1/decide", json=DECIDE, headers=headers).status_code == 401
        _, fresh = other_process.create("new-proxy", [Scope.DECIDE])
        fresh_headers = {"Authorization": f"Bearer {fresh}"}
        assert env.client.post("/v1/decide", json=DECIDE, headers=fresh_headers).status_code == 200


def test_a_damaged_key_file_keeps_the_keys_read_before(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.json")
    _, token = keys.create("a", [Scope.READ])
    (tmp_path / "keys.json").write_text("{damaged")
    assert keys.verify(token) is not None
    with pytest.raises(ConfigError, match="not a pushguard key file"):
        KeyStore(tmp_path / "keys.json")  # a server does not start on it


def test_keys_cli(tmp_path: Path) -> None:
    config = tmp_path / "service.yaml"
    config.write_text(f"keys_file: {tmp_path / 'keys.json'}\n")
    runner = CliRunner()
    created = runner.invoke(
        cli_app, ["keys", "create", "--name", "vpn-proxy", "--scope", "decide", "--config", str(config)]
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("pg_")
    listed = runner.invoke(cli_app, ["keys", "list", "--config", str(config)])
    assert "vpn-proxy" in listed.output and token.split("_", 2)[2] not in listed.output
    key_id = token.split("_")[1]
    assert runner.invoke(cli_app, ["keys", "revoke", key_id, "--config", str(config)]).exit_code == 0
    assert KeyStore(tmp_path / "keys.json").verify(token) is None
    assert runner.invoke(cli_app, ["keys", "revoke", "nope", "--config", str(config)]).exit_code == 2
    assert msgspec.json.decode((tmp_path / "keys.json").read_bytes())["keys"][0]["revoked"] is True
    bad_scope = runner.invoke(
        cli_app, ["keys", "create", "--name", "x", "--scope", "root", "--config", str(config)]
    )
    assert bad_scope.exit_code != 0


def test_serve_refuses_a_bad_config_or_policy_clearly(tmp_path: Path) -> None:
    runner = CliRunner()
    config = tmp_path / "service.yaml"
    config.write_text("max_body_bytes: lots\n")
    refused = runner.invoke(cli_app, ["serve", "--config", str(config)])
    assert refused.exit_code == 2 and "max_body_bytes" in refused.output
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: x\nrules:\n  - name: r\n    condition: operation ==\n    action: deny\n")
    config.write_text(f"policy: {policy}\nstate: {tmp_path / 's.sqlite'}\n")
    refused = runner.invoke(cli_app, ["serve", "--config", str(config)])
    assert refused.exit_code == 2 and str(policy) in refused.output


def test_the_service_reads_the_organisation_s_own_networks(tmp_path: Path) -> None:
    """The same `organisation:` section as `analyze --config`: offices and gateways known from day one."""
    from pushguard.api.service import Service
    from pushguard.model import ORG_TRUSTED, EventKind
    from tests.events import ev

    good = tmp_path / "good.yaml"
    good.write_text(f"state: {tmp_path / 's.sqlite'}\norganisation:\n  trusted_networks: [198.51.100.0/24]\n")
    config = load_config(good, environ={})
    assert config.organisation == {"trusted_networks": ["198.51.100.0/24"]}
    service = Service(config)
    try:
        assert service.engine.org.bits(ev(EventKind.PUSH_SENT, 0, ip="198.51.100.9")) & ORG_TRUSTED
    finally:
        service.close()
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisation:\n  trusted_asns: [Zscaler]\n")
    with pytest.raises(ConfigError, match=r"organisation\.trusted_asns: not an ASN: 'Zscaler'"):
        load_config(bad, environ={})
