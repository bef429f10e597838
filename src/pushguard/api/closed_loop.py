"""The closed loop, put together: each finding the Engine commits is planned into enforcement intents
(``decide.closed_loop``) written to the store's outbox in the same commit, and the outbox is applied
through the same ``Enforcer``, state file and audit log as ``pushguard enforce`` (``respond.outbox``).

Used by the service (``api.service``) and the workers (``cli.worker``, ``cli.stream_worker``): each gives
its store, and calls ``run`` after each commit (and on its timer, for retries and expiry)."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from pushguard.decide.closed_loop import plan_for_finding
from pushguard.decide.enforce import Account, EnforcementConfig, expired
from pushguard.model import Finding
from pushguard.respond.audit import AuditLog, audit_key
from pushguard.respond.credentials import build_responder
from pushguard.respond.enforcer import Enforcer, decode_state, encode_state, load_state
from pushguard.respond.outbox import OutboxApplier, OutboxEntry, outbox_entries
from pushguard.respond.vendor import Responder
from pushguard.store import Commit, StateStore

log = logging.getLogger("pushguard.closed_loop")
RECENT_KEPT = 10_000  # planned intents remembered for the rate limits (an hour's worth, bounded)
# Where the enforcement state lives in a store shared by several workers ("o:": not an identity).
SHARED_STATE_KEY = "o:enforcement"


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _responders(vendor: str) -> Responder:
    # one attempt per call: a retry waits in the outbox, not in a sleeping thread
    return build_responder(vendor, dict(os.environ), max_attempts=1)


class ClosedLoop:
    def __init__(
        self,
        config: EnforcementConfig,
        store: StateStore,
        *,
        state_path: Path,
        audit_path: Path,
        clock: Callable[[], datetime],
        responders: Callable[[str], Responder] | None = None,
        shared_state: bool = False,
        accounts_for: Callable[[str], Sequence[Account]] | None = None,
    ) -> None:
        """``shared_state``: the store is shared by several workers, whichever holds the enforce lease
        applies the outbox; the enforcement state (what is applied, what expires when) is kept in the
        store too, read before each turn and written after it, so expiry lifts what any worker applied.
        The file at ``state_path`` stays this process's journal. ``accounts_for``: a person's linked
        accounts (the identity resolver's), so a control decided on one IdP reaches the others."""
        self.config = config
        self.store = store
        self.shared_state = shared_state
        self.accounts_for = accounts_for
        self._clock = clock
        self.enforcer = Enforcer(
            AuditLog(audit_path, key=audit_key()),
            execute=True,  # each intent carries its own dry_run (config.dry_run, dry_run_controls)
            state=load_state(state_path),
            state_path=state_path,
            responders=responders or _responders,
            clock=clock,
        )
        self.observers: list[Callable[[OutboxEntry], None]] = []
        self.applier = OutboxApplier(
            store,
            self.enforcer,
            clock=clock,
            closed=self._observe,
        )
        self.received_at: str | None = None  # set by the caller while it ingests a batch
        self._recent: deque[tuple[str, float]] = deque(maxlen=RECENT_KEPT)

    def received(self) -> None:
        """The batch being ingested arrived now (the time-to-control's 'received' end)."""
        self.received_at = _text(self._clock())

    def outbox_for(self, finding: Finding) -> dict[str, bytes]:
        """The Engine's hook: the outbox entries of one finding (revision), committed with it."""
        plan = plan_for_finding(
            finding,
            self.config,
            received_at=self.received_at,
            active=self.enforcer.state.active,
            recent=self._recent,
            accounts_for=self.accounts_for,
        )
        for skipped in plan.skipped:
            log.info(
                "closed loop: not enforced",
                extra={"finding": finding.id, "identity": skipped.identity, "reason": skipped.reason},
            )
        at = datetime.fromisoformat(finding.detected_at.replace("Z", "+00:00")).timestamp()
        for identity in {i.identity for i in plan.intents}:
            self._recent.append((identity, at))
        return outbox_entries(plan.intents, self._clock())

    def run(self) -> list[OutboxEntry]:
        """Put the removals of controls whose expiry passed in the outbox, then apply what is due: a
        removal gets the same retries and give-up as any intent, and is queued once (its key is the
        applied intent's)."""
        now = self._clock()
        if self.shared_state:
            blob = self.store.load([SHARED_STATE_KEY]).get(SHARED_STATE_KEY)
            if blob is not None:
                self.enforcer.state = decode_state(blob, f"store key {SHARED_STATE_KEY}")
        undo = [i for i in expired(self.enforcer.state.active, now) if self.store.outbox_entry(i.key) is None]
        if undo:
            self.store.commit(Commit(outbox=outbox_entries(undo, now)))
        closed = self.applier.run_once()
        if self.shared_state and (closed or undo):
            self.store.commit(Commit(states={SHARED_STATE_KEY: encode_state(self.enforcer.state)}))
        return closed

    def _observe(self, entry: OutboxEntry) -> None:
        if entry.outcome == "failed":
            log.error(
                "closed loop: control not applied",
                extra={"key": entry.intent.key, "identity": entry.intent.identity, "detail": entry.detail},
            )
        for observer in self.observers:
            observer(entry)

    def close(self) -> None:
        """The vendor clients, and the store (a connection of the loop's own)."""
        self.enforcer.close()
        self.store.close()
