"""What the Okta, Entra and Duo responders share: dispatch, outcome bookkeeping, picking the factor."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import httpx
import msgspec

from pushguard.model import PushguardError
from pushguard.respond.actions import (
    NOT_OFFERED,
    VENDOR_ACTIONS,
    Action,
    ActionResult,
    CannotTargetError,
    EnrolledFactor,
    Outcome,
    Target,
    VendorAccount,
)
from pushguard.vendorapi.endpoints import endpoint, path, query
from pushguard.vendorapi.http import VendorApiError, VendorHttp

# How far a vendor's "created" time may be from the log's enrollment time and still be the same factor.
ENROLL_TOLERANCE = timedelta(minutes=10)

T = TypeVar("T")


def parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def enrollments_for(target: Target, vendor: str) -> list[EnrolledFactor]:
    return [e for e in target.enrolled if e.provider == vendor]


def pick_by_creation(
    candidates: Sequence[T], created: Callable[[T], datetime | None], target: Target, vendor: str
) -> T:
    """The one candidate created at an enrollment of the incident (or, lacking those, inside its window).

    Zero or several matches raise CannotTargetError: a guess could remove the victim's own factor."""
    times = [t for t in (parse_time(e.time) for e in enrollments_for(target, vendor)) if t is not None]
    if times:
        spans = [(t - ENROLL_TOLERANCE, t + ENROLL_TOLERANCE) for t in times]
        basis = "an enrollment in the logs"
    else:
        start, end = (parse_time(target.window[0]), parse_time(target.window[1]))
        if start is None or end is None:
            raise CannotTargetError("no enrollment in the evidence and no incident window to look in")
        spans = [(start - ENROLL_TOLERANCE, end + ENROLL_TOLERANCE)]
        basis = "the incident window"
    matches = []
    for item in candidates:
        made = created(item)
        if made is not None and any(low <= made <= high for low, high in spans):
            matches.append(item)
    if len(matches) != 1:
        raise CannotTargetError(
            f"{len(matches)} factors were created around {basis} (exactly one is needed to remove it safely)"
        )
    return matches[0]


class Responder(abc.ABC):
    """Base of a vendor responder: ``perform`` turns every failure into an ActionResult, never raises."""

    vendor = ""

    def __init__(self, http: VendorHttp) -> None:
        self.http = http
        self._handlers: dict[Action, Callable[[str, VendorAccount, Target], ActionResult]] = {}

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        name: str,
        ok: Iterable[int],
        *,
        params: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        **fill: str,
    ) -> httpx.Response:
        """One of the vendor's calls from the table of endpoints (``vendorapi.endpoints``), its
        placeholders filled from ``fill`` (URL-quoted by the caller), its fixed query added."""
        found = endpoint(self.vendor, name)
        return self.http.call(
            found.method,
            path(self.vendor, name, **fill),
            params={**query(self.vendor, name), **(params or {})},
            body=body,
            content_type=content_type,
            ok=frozenset(ok),
        )

    @abc.abstractmethod
    def resolve_user(self, account: VendorAccount) -> str:
        """The vendor's user id for the account (looked up by login when the logs gave none)."""

    def perform(self, action: Action, account: VendorAccount, target: Target) -> ActionResult:
        if action not in VENDOR_ACTIONS[self.vendor]:
            reason = NOT_OFFERED.get((self.vendor, action), f"{self.vendor} offers no {action.value}")
            return ActionResult(outcome=Outcome.SKIPPED, detail=reason)
        self.http.take_requests()
        try:
            user_id = account.user_id or self.resolve_user(account)
            result = self._handlers[action](user_id, account, target)
        except CannotTargetError as exc:
            return ActionResult(
                outcome=Outcome.SKIPPED, detail=f"not done: {exc}", requests=self.http.take_requests()
            )
        except VendorApiError as exc:
            self.http.take_requests()
            return ActionResult(
                outcome=Outcome.FAILED, detail=str(exc), requests=exc.requests, status=exc.status
            )
        return msgspec.structs.replace(result, requests=self.http.take_requests())


class ResponderPool:
    """One responder per vendor, built on first use; a vendor whose credentials are missing gets the
    reason instead, so each of its actions reports it and the other vendors go on."""

    def __init__(self, factory: Callable[[str], Responder] | None) -> None:
        self._factory = factory
        self._built: dict[str, Responder | str] = {}

    def get(self, vendor: str) -> Responder | str:
        if vendor not in self._built:
            assert self._factory is not None, "executing needs a responder factory"
            try:
                self._built[vendor] = self._factory(vendor)
            except PushguardError as exc:
                self._built[vendor] = str(exc)
        return self._built[vendor]

    def close(self) -> None:
        for responder in self._built.values():
            if isinstance(responder, Responder):
                responder.close()
