"""Carrying out enforcement intents (``pushguard.model.ControlIntent``): dry run unless told to execute.

- Dry run (the default): nothing is resolved and no request is sent; each intent is reported, and
  audited, with the request an execute run would send.
- Idempotent by ``key``: the state file records every key applied, so running the same decision log
  again sends nothing; the memberships still to undo are kept there with their expiry (``active``).
- The state file is JSON, rewritten atomically (temporary file, fsync, rename) after each applied intent,
  and held under an exclusive lock while an execute run lasts.
- Every intent gives one audit entry (planned / performed / failed / skipped) with its undo.
- Retries (429 with Retry-After, 5xx) are the vendor client's; 401/403 are not retried, and once a vendor
  rejected the credentials its remaining intents are reported failed without being sent."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from pushguard.model import Control, ControlIntent, InputError
from pushguard.model.files import open_private, private_dir
from pushguard.respond.actions import ActionResult, CannotTargetError, Outcome, VendorAccount
from pushguard.respond.audit import AuditLog
from pushguard.respond.controls import apply_control, in_place
from pushguard.respond.vendor import Responder, ResponderPool, parse_time
from pushguard.vendorapi.http import VendorApiError

STATE_VERSION = 1


class EnforcementState(msgspec.Struct, kw_only=True):
    version: int = STATE_VERSION
    applied: dict[str, str] = {}  # key → when it was applied (RFC 3339): never sent again
    active: list[ControlIntent] = []  # applied intents with an undo still to come (expiry)

    def hold(self, intent: ControlIntent) -> None:
        """Book a successful intent: a holding one replaces the older one of its slot; an undo ends
        the holding one it reverses."""
        if intent.undo is not None:
            self.active = [a for a in self.active if a.slot != intent.slot]
            self.active.append(intent)
            return
        self.active = [
            a
            for a in self.active
            if not (
                a.undo is intent.control
                and (a.provider, a.login, a.group_id) == (intent.provider, intent.login, intent.group_id)
            )
        ]


def load_state(path: Path) -> EnforcementState:
    """The state file; an empty state when it does not exist yet, InputError naming it when unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return EnforcementState()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_state(data, str(path))


def decode_state(data: bytes, where: str) -> EnforcementState:
    """An enforcement state (a file's bytes, or a shared store's value); InputError naming ``where``."""
    try:
        state = msgspec.json.decode(data, type=EnforcementState)
    except msgspec.DecodeError as exc:
        raise InputError(f"{where}: not an enforcement state: {exc}") from None
    if state.version != STATE_VERSION:
        raise InputError(f"{where}: state version {state.version}, this pushguard reads {STATE_VERSION}")
    return state


def encode_state(state: EnforcementState) -> bytes:
    return msgspec.json.encode(state)


def save_state(path: Path, state: EnforcementState) -> None:
    """Replace the state file atomically: a crash leaves the old file or the new one, never half."""
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.tmp")
    with open_private(temporary, "wb") as handle:
        handle.write(msgspec.json.format(msgspec.json.encode(state), indent=1) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


@contextlib.contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """Exclusive for one execute run: two runs reading the same state would both send its intents."""
    lock = path.with_name(f"{path.name}.lock")
    private_dir(lock.parent)
    handle: IO[str] = open_private(lock, "w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{lock}: another pushguard enforce run holds this state") from None
        yield
    finally:
        handle.close()


def _dry_run_detail(intent: ControlIntent) -> str:
    detail = f"dry run: would send {intent.api}"
    if intent.user_id is None:
        detail += f" (after looking up the {intent.provider.value} id of {intent.login})"
    return detail


def _undo_text(intent: ControlIntent) -> str | None:
    if intent.undo is None:
        return None
    when = f"at {intent.expires_at}" if intent.expires_at else "by hand"
    return f"{intent.undo.value} {when}"


class Enforcer:
    """Executes intents against the vendors, keeping ``state`` (saved to ``state_path`` when executing)."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        execute: bool,
        state: EnforcementState,
        state_path: Path | None = None,
        responders: Callable[[str], Responder] | None = None,
        clock: Callable[[], datetime],
    ) -> None:
        if execute and (responders is None or state_path is None):
            raise ValueError("execute needs vendor responders and a state file")
        self.audit = audit
        self.execute = execute
        self.state = state
        self.state_path = state_path
        self._responders = ResponderPool(responders)
        self._rejected: dict[str, str] = {}  # vendor → the 401/403 that stopped it
        self._clock = clock
        self.counts: Counter[str] = Counter()
        self.last_error: VendorApiError | None = None  # the vendor error of the last failed send

    def close(self) -> None:
        self._responders.close()

    def apply(self, intents: Sequence[ControlIntent], now: datetime) -> list[dict[str, Any]]:
        """Carry out each intent in order; returns the audit entries written."""
        return [self._one(intent, now) for intent in intents]

    def _one(self, intent: ControlIntent, now: datetime) -> dict[str, Any]:
        sending = self.execute and not intent.dry_run
        done = self.state.applied.get(intent.key)
        expires = parse_time(intent.expires_at) if intent.expires_at else None
        book = False  # whether the intent is now in effect (or, in a dry run, would be)
        if done is not None:
            result = ActionResult(outcome=Outcome.SKIPPED, detail=f"already applied at {done}")
        elif expires is not None and expires <= now:
            result = ActionResult(
                outcome=Outcome.SKIPPED, detail=f"expired at {intent.expires_at} before it was applied"
            )
        elif not sending:
            result, book = ActionResult(outcome=Outcome.PLANNED, detail=_dry_run_detail(intent)), True
        else:
            result = self._send(intent)
            book = result.outcome is not Outcome.FAILED
        # Audit first: a crash before the state is saved re-sends an idempotent request next run,
        # whereas a change made without its audit line could not be accounted for.
        entry = self.audit.append(self._entry(intent, result, "execute" if sending else "dry_run"))
        self.counts[result.outcome.value] += 1
        if book:
            self._book(intent, result)
        return entry

    def _book(self, intent: ControlIntent, result: ActionResult) -> None:
        """Remember what was applied (a dry run remembers it in memory only, to report repeats)."""
        self.state.applied[intent.key] = self._clock().isoformat(timespec="seconds").replace("+00:00", "Z")
        if result.outcome is not Outcome.SKIPPED:  # a Duo user already disabled stays out of expiry
            self.state.hold(intent)
        if self.execute and self.state_path is not None and result.outcome is not Outcome.PLANNED:
            save_state(self.state_path, self.state)

    def _send(self, intent: ControlIntent) -> ActionResult:
        vendor = intent.provider.value
        if vendor in self._rejected:
            return ActionResult(outcome=Outcome.FAILED, detail=f"not sent: {self._rejected[vendor]}")
        responder = self._responders.get(vendor)
        if isinstance(responder, str):
            return ActionResult(outcome=Outcome.FAILED, detail=responder)
        responder.http.take_requests()
        try:
            account = VendorAccount(provider=vendor, login=intent.login, user_id=intent.user_id)
            user_id = intent.user_id or responder.resolve_user(account)
            result = apply_control(responder, intent, user_id)
        except CannotTargetError as exc:
            return ActionResult(
                outcome=Outcome.FAILED, detail=f"not done: {exc}", requests=responder.http.take_requests()
            )
        except VendorApiError as exc:
            responder.http.take_requests()
            self.last_error = exc
            if exc.credentials_rejected:
                self._rejected[vendor] = f"{vendor} rejected the credentials earlier in this run ({exc})"
            return ActionResult(
                outcome=Outcome.FAILED, detail=str(exc), requests=exc.requests, status=exc.status
            )
        return msgspec.structs.replace(result, requests=responder.http.take_requests())

    def in_place(self, intent: ControlIntent) -> bool | None:
        """Whether the vendor already holds the intent (read back: is the user in the group?); None
        when it cannot tell (no read-back for that control, vendor unreachable)."""
        responder = self._responders.get(intent.provider.value)
        if isinstance(responder, str):
            return None
        try:
            account = VendorAccount(
                provider=intent.provider.value, login=intent.login, user_id=intent.user_id
            )
            user_id = intent.user_id or responder.resolve_user(account)
            return in_place(responder, intent, user_id)
        except (VendorApiError, CannotTargetError):
            return None
        finally:
            responder.http.take_requests()

    def _entry(self, intent: ControlIntent, result: ActionResult, mode: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": "enforce",
            "mode": mode,
            "key": intent.key,
            "identity": intent.identity,
            "vendor": intent.provider.value,
            "login": intent.login,
            "user_id": intent.user_id,
            "control": intent.control.value,
            "group_id": intent.group_id,
            "status": intent.status,
            "action": intent.action.value,
            "risk": intent.risk,
            "policy_version": intent.policy_version,
            "decided_at": intent.decided_at,
            "expires_at": intent.expires_at,
            "reason": intent.reason,
            "api": intent.api,
            "outcome": result.outcome.value,
            "detail": result.detail,
            "requests": list(result.requests),
            "undo": result.undo or _undo_text(intent),
        }
        if result.status is not None:
            entry["http_status"] = result.status
        if result.notes:
            entry["notes"] = list(result.notes)
        if intent.undo is not None and intent.expires_at:
            entry["undo_at"] = intent.expires_at
        if intent.control is Control.REMOVE_FROM_GROUP or intent.status == "active":
            entry["lifts"] = intent.action.value
        if intent.finding is not None:  # the closed loop: when the control landed after the IdP event
            entry.update(closed_loop_timing(intent, self._clock(), result.outcome))
        return entry


def _seconds_between(start: str | None, end: datetime) -> float | None:
    began = parse_time(start) if start else None
    return None if began is None else round((end - began).total_seconds(), 3)


def closed_loop_timing(intent: ControlIntent, now: datetime, outcome: Outcome) -> dict[str, Any]:
    """The finding, the IdP event's time and when it was received, and (for a control now in place)
    the seconds from each to ``now``: the time-to-control a report shows per incident."""
    timing: dict[str, Any] = {
        "finding": intent.finding,
        "event_at": intent.event_at,
        "received_at": intent.received_at,
        "applied_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    lifting = intent.control is Control.REMOVE_FROM_GROUP or intent.status == "active"
    if outcome is Outcome.PERFORMED and not lifting:  # a removal at expiry is no time to control
        timing["time_to_control_s"] = _seconds_between(intent.event_at, now)
        timing["since_received_s"] = _seconds_between(intent.received_at, now)
    return timing
