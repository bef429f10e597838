"""Secrets kept out of sight (issue 19, items 10 and 15): a Redis URL's password is never echoed by a
command, collect takes its Redis URL from the environment, and vendor credentials never go over plain
http (but to a loopback address)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.cli.worker import redacted
from pushguard.model import ConfigError
from pushguard.vendorapi.credentials import vendor_http

runner = CliRunner()
PASSWORD = "s3cret-Pa55word"
OKTA_ENV = {"PUSHGUARD_OKTA_ORG_URL": "https://corp.okta.com", "PUSHGUARD_OKTA_API_TOKEN": "00token"}


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:1/0",  # nobody listens
        f"redis://user:{PASSWORD}@127.0.0.1:6379/15",  # wrong credentials
        f"http://:{PASSWORD}@127.0.0.1/0",  # wrong scheme
        f"redis://:{PASSWORD}@[::1/0",  # not a URL
    ],
)
def test_no_command_echoes_the_redis_password(tmp_path: Path, url: str) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    runs = [
        runner.invoke(app, ["worker", "--drain", "--redis-url", url]),
        runner.invoke(app, ["ingest", str(log), "--redis-url", url]),
        runner.invoke(app, ["worker", "--drain"], env={"REDIS_URL": url}),
        runner.invoke(
            app,
            ["collect", "okta", "--out", str(tmp_path / "okta.jsonl"), "--once"],
            env={**OKTA_ENV, "PUSHGUARD_COLLECT_REDIS_URL": url},
        ),
    ]
    for result in runs:
        assert result.exit_code == 2, result.output
        assert "Redis" in result.output and PASSWORD not in result.output, result.output
        assert "Traceback" not in result.output


def test_redacted_keeps_the_host_and_hides_the_credentials() -> None:
    assert redacted(f"redis://:{PASSWORD}@10.0.0.5:6380/2") == "redis://***@10.0.0.5:6380/2"
    assert redacted(f"rediss://svc:{PASSWORD}@[2001:db8::1]:6379/0") == "rediss://***@[2001:db8::1]:6379/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert PASSWORD not in redacted(f"redis://:{PASSWORD}@[::1/0")


# -- item 15: credentials over TLS only ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "env"),
    [
        ("okta", {"PUSHGUARD_OKTA_ORG_URL": "http://corp.okta.com", "PUSHGUARD_OKTA_API_TOKEN": "00t"}),
        ("okta", {"PUSHGUARD_OKTA_ORG_URL": "corp.okta.com", "PUSHGUARD_OKTA_API_TOKEN": "00t"}),
        (
            "entra",
            {
                "PUSHGUARD_ENTRA_ACCESS_TOKEN": "eyJ0",
                "PUSHGUARD_ENTRA_GRAPH_URL": "http://graph.example/v1.0",
            },
        ),
        (
            "duo",
            {
                "PUSHGUARD_DUO_API_HOST": "http://api-1234.duosecurity.com",
                "PUSHGUARD_DUO_IKEY": "DI",
                "PUSHGUARD_DUO_SKEY": "sk",
            },
        ),
    ],
)
def test_a_vendor_url_without_tls_is_refused(vendor: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="not https: the credentials would travel in clear"):
        vendor_http(vendor, env)


@pytest.mark.parametrize(
    "url", ["https://corp.okta.com", "http://127.0.0.1:8089", "http://[::1]:9", "http://localhost"]
)
def test_tls_or_loopback_is_accepted(url: str) -> None:
    vendor_http("okta", {"PUSHGUARD_OKTA_ORG_URL": url, "PUSHGUARD_OKTA_API_TOKEN": "00t"}).close()


def test_collect_names_the_refused_url(tmp_path: Path) -> None:
    env = {"PUSHGUARD_OKTA_ORG_URL": "http://corp.okta.com", "PUSHGUARD_OKTA_API_TOKEN": "00token"}
    result = runner.invoke(app, ["collect", "okta", "--out", str(tmp_path / "o.jsonl"), "--once"], env=env)
    assert result.exit_code == 2 and "http://corp.okta.com is not https" in result.output
    assert "00token" not in result.output
