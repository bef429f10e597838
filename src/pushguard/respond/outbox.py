"""The closed loop's outbox: intents written with the findings that planned them, applied, acknowledged.

The discipline, per intent (its key is deterministic: finding id + vendor + account + control):
1. written to the store's outbox in the same commit as the finding (``Engine.outbox``); a key already
   there is left alone, so a replayed finding never re-opens an intent;
2. marked ``sending`` (one attempt more), then carried out by the same ``Enforcer`` as ``pushguard
   enforce`` (its state file, its audit log, its dry-run and expiry rules);
3. acknowledged: closed in the outbox with its outcome and time-to-control.
A process killed between 2 and 3 leaves the entry ``sending``. The next applier does not send it blindly:
the enforcement state (written right after the vendor answered) or the audit trail may show it applied;
else the vendor is asked whether the control is in place (is the user in the group?), and only a "no"
sends it again. Vendor errors worth retrying (429 honouring Retry-After, 5xx, no answer) are tried again
after a backoff, on this clock, up to ``max_attempts``; then the entry is closed ``failed`` and reported."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import msgspec

from pushguard.model import ControlIntent
from pushguard.respond.enforcer import Enforcer
from pushguard.store import StateStore

MAX_ATTEMPTS = 5
BACKOFF_S = 2.0  # first retry; doubled per attempt
MAX_BACKOFF_S = 300.0


class OutboxEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    intent: ControlIntent
    state: str = "pending"  # pending | sending | done | failed
    planned_at: str  # RFC 3339, the planner's clock
    attempts: int = 0
    next_try_at: str | None = None  # not before (a retry's backoff)
    outcome: str | None = None  # performed / planned / skipped / failed, once closed
    detail: str = ""
    applied_at: str | None = None
    time_to_control_s: float | None = None  # from the IdP event to the control in place
    since_received_s: float | None = None  # from receiving that event to the control in place


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(OutboxEntry)


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outbox_entries(intents: Iterable[ControlIntent], now: datetime) -> dict[str, bytes]:
    """Outbox entries for a commit: intent key → encoded pending entry."""
    return {i.key: _encoder.encode(OutboxEntry(intent=i, planned_at=_text(now))) for i in intents}


def decode_entry(blob: bytes) -> OutboxEntry:
    return _decoder.decode(blob)


class OutboxApplier:
    """Drains the outbox through ``enforcer`` (which must execute: dry-run intents stay dry runs)."""

    def __init__(
        self,
        store: StateStore,
        enforcer: Enforcer,
        *,
        clock: Callable[[], datetime],
        max_attempts: int = MAX_ATTEMPTS,
        backoff_s: float = BACKOFF_S,
        after_send: Callable[[ControlIntent], None] | None = None,
        closed: Callable[[OutboxEntry], None] | None = None,
    ) -> None:
        self.store = store
        self.enforcer = enforcer
        self._clock = clock
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._after_send = after_send  # tests: a crash between the vendor's answer and the ack
        self._closed = closed  # metrics: each entry as it closes

    def run_once(self) -> list[OutboxEntry]:
        """One pass over the open entries that are due; returns those closed in it."""
        done: list[OutboxEntry] = []
        for key, blob in self.store.outbox_open():
            entry = decode_entry(blob)
            now = self._clock()
            if entry.next_try_at is not None and datetime.fromisoformat(entry.next_try_at) > now:
                continue
            closed = self._one(key, entry, now)
            if closed is not None:
                done.append(closed)
                if self._closed is not None:
                    self._closed(closed)
        return done

    def _save(self, key: str, entry: OutboxEntry, *, closed: bool) -> None:
        self.store.outbox_update(key, _encoder.encode(entry), closed=closed)

    def _one(self, key: str, entry: OutboxEntry, now: datetime) -> OutboxEntry | None:
        intent = entry.intent
        if entry.state == "sending" and not intent.dry_run:
            found = self._recovered(intent)
            if found:
                entry.state, entry.outcome = "done", "performed"
                entry.detail = f"{found}: not sent again after a restart"
                entry.applied_at = entry.applied_at or _text(now)
                self._save(key, entry, closed=True)
                return entry
        entry.state, entry.attempts = "sending", entry.attempts + 1
        self._save(key, entry, closed=False)  # before the request: a crash from here on is "sending"
        self.enforcer.last_error = None
        audited = self.enforcer.apply([intent], now)[0]
        if self._after_send is not None:
            self._after_send(intent)
        outcome = str(audited["outcome"])
        error = self.enforcer.last_error
        if (
            outcome == "failed"
            and error is not None
            and error.retryable
            and entry.attempts < self.max_attempts
        ):
            wait = self.backoff_s * 2 ** (entry.attempts - 1)
            if error.retry_after is not None:
                wait = max(wait, error.retry_after)
            entry.state = "pending"
            entry.next_try_at = _text(now + timedelta(seconds=min(wait, MAX_BACKOFF_S)))
            entry.detail = (
                f"attempt {entry.attempts} failed, retry at {entry.next_try_at}: {audited['detail']}"
            )
            self._save(key, entry, closed=False)
            return None
        entry.state = "failed" if outcome == "failed" else "done"
        entry.outcome = outcome
        entry.detail = str(audited["detail"])
        if outcome == "failed" and error is not None and error.retryable:
            entry.detail = f"given up after {entry.attempts} attempts: {entry.detail}"
        entry.applied_at = audited.get("applied_at") or _text(now)
        entry.time_to_control_s = audited.get("time_to_control_s")
        entry.since_received_s = audited.get("since_received_s")
        self._save(key, entry, closed=True)
        return entry

    def _recovered(self, intent: ControlIntent) -> str:
        """Why an intent left ``sending`` by a killed process is already applied; "" when it is not
        known to be (it is then sent again)."""
        if intent.key in self.enforcer.state.applied:
            return f"applied at {self.enforcer.state.applied[intent.key]} (enforcement state)"
        if self.enforcer.in_place(intent):
            return f"{intent.control.value} {intent.group_id} already in place at {intent.provider.value}"
        return ""
