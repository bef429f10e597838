"""Commands given files that are not what they should be (issue 19, item 5): a one-line message naming
the file and an exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushguard.cli import app
from pushguard.simulate import okta_records as okta
from tests.test_hardening_input import LOGIN, MOMENT

runner = CliRunner()
BINARY = bytes(range(256)) * 8  # not UTF-8, not JSON, not YAML, not a MaxMind database


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    binary = tmp_path / "binary.dat"
    binary.write_bytes(BINARY)
    text = tmp_path / "not-mmdb.mmdb"
    text.write_text('{"not": "a database"}\n')
    existing = tmp_path / "a-file"
    existing.write_text("")
    log = tmp_path / "okta.jsonl"
    log.write_text(json.dumps(okta.push_sent(MOMENT, LOGIN, "203.0.113.9", "paris")) + "\n")
    return {"binary": binary, "text": text, "existing": existing, "log": log}


@pytest.mark.parametrize(
    ("args", "named", "status"),
    [
        (["analyze", "{log}", "--geoip-city", "{text}"], "text", 2),
        (["analyze", "{log}", "--geoip-asn", "{binary}"], "binary", 2),
        (["analyze", "{log}", "--geoip-asn", "{binary}", "--jobs", "2"], "binary", 2),
        (["analyze", "{log}", "--aliases", "{binary}"], "binary", 2),
        (["policy", "lint", "{binary}"], "binary", 2),
        (["policy", "test", "{binary}"], "binary", 1),
        (["policy", "backtest", "{log}", "--policy", "{binary}"], "binary", 2),
        (["policy", "backtest", "{log}", "--labels", "{binary}"], "binary", 2),
        (["report", "{log}", "--html", "{existing}.html", "--backtest", "{binary}"], "binary", 2),
        (["audit-verify", "{binary}"], "binary", 1),
        (["demo", "--out-dir", "{existing}"], "existing", 2),
        (["serve", "--config", "{binary}"], "binary", 2),
    ],
)
def test_a_wrong_file_is_named_without_a_traceback(
    files: dict[str, Path], args: list[str], named: str, status: int
) -> None:
    argv = [arg.format(**{k: str(v) for k, v in files.items()}) for arg in args]
    result = runner.invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    assert str(files[named]) in result.output, result.output
