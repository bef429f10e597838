"""Secrets kept out of sight (issue 19, item 10): a Redis URL's password is never echoed by a command,
and collect takes its Redis URL from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.cli.worker import redacted

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
