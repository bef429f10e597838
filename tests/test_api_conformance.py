"""The service against its own OpenAPI document (issue 19, item 18): ``schemathesis run --checks all`` on
a real server finds nothing: documented statuses, error shapes and content types, security schemes,
``Allow`` on 405, the hook's challenge header, schema-valid requests accepted and invalid ones refused."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pushguard.api import KeyStore, Scope
from tests.server_support import serving

HOOK_SECRET = "hook-secret-value-0123"


def test_schemathesis_checks_all_pass(tmp_path: Path) -> None:
    _, token = KeyStore(tmp_path / "keys.json").create("conformance", [Scope.ADMIN])
    settings = {
        "PUSHGUARD_OKTA_HOOK_SECRET": HOOK_SECRET,
        "PUSHGUARD_OKTA_HOOK_HEADER": "X-Hook-Secret",  # apart from the key's Authorization header
        "PUSHGUARD_REORDER_WINDOW_S": "0",
    }
    schemathesis = shutil.which("schemathesis") or shutil.which("st")
    assert schemathesis is not None, "schemathesis (a dev dependency) is not installed"
    work = tmp_path / "run"
    work.mkdir()
    with serving(tmp_path, settings) as (port, _):
        result = subprocess.run(
            [
                schemathesis,
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "all",
                "-H",
                f"Authorization: Bearer {token}",
                "-H",
                f"X-Hook-Secret: {HOOK_SECRET}",
                "--max-examples",
                "40",
                "--seed",
                "19",
                "--generation-database",
                "none",
                "--no-color",
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "11 selected / 11 total" in report and " passed" in report
