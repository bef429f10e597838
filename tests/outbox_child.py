"""A closed-loop worker process for the crash tests (tests/test_outbox.py): it drains the outbox of a SQLite
state against the fake Okta, and with ``exit-after-send`` dies (os._exit: no cleanup, like a SIGKILL)
once the vendor answered and the enforcement state was saved, before the outbox acknowledges.

    python -m tests.outbox_child STATE ENFORCEMENT_STATE AUDIT OKTA_URL MODE"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from pushguard.model import ControlIntent
from pushguard.respond.audit import AuditLog
from pushguard.respond.credentials import build_responder
from pushguard.respond.enforcer import Enforcer, load_state
from pushguard.respond.outbox import OutboxApplier
from pushguard.store import SqliteStore
from tests.enforce_fakes import OKTA_TOKEN

NOW = datetime(2026, 3, 2, 9, 2, tzinfo=UTC)


def main(state: str, enforcement: str, audit: str, url: str, mode: str) -> None:
    env = {"PUSHGUARD_OKTA_ORG_URL": url, "PUSHGUARD_OKTA_API_TOKEN": OKTA_TOKEN}
    enforcer = Enforcer(
        AuditLog(Path(audit)),
        execute=True,
        state=load_state(Path(enforcement)),
        state_path=Path(enforcement),
        responders=lambda vendor: build_responder(vendor, env, max_attempts=1),
        clock=lambda: NOW,
    )

    def die(_: ControlIntent) -> None:
        os._exit(9)

    applier = OutboxApplier(
        SqliteStore(state), enforcer, clock=lambda: NOW, after_send=die if mode == "exit-after-send" else None
    )
    applier.run_once()
    enforcer.close()


if __name__ == "__main__":
    main(*sys.argv[1:6])
