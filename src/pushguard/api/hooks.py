"""Okta event-hook deliveries: answered as soon as they are safe, processed behind the answer.

Okta waits 3 seconds for a delivery's answer and retries once after a timeout or an error, so the handler
only checks the delivery, writes it to the spool directory (fsync, then an atomic rename) and answers
204. This worker processes the spool in arrival order and deletes each file once its findings are
committed (or held, durably, for event-time order: api.ordering). A crash in between leaves the file,
which the next start processes again: at-least-once. A delivery applied twice (that replay, or Okta's
own retry, however late) adds nothing: events behind those already applied are skipped, a second copy
of a held event is kept once, and a finding's id is stable, so the store keeps one finding.

The same thread lets silence speak every ``advance_every_s`` (an Okta push nobody answered only shows as
the absence of an answer)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from pushguard.api.metrics import Metrics
from pushguard.api.service import Service
from pushguard.flow import TOO_DEEP
from pushguard.model import Provider
from pushguard.model.files import open_private, private_dir

log = logging.getLogger("pushguard.api.hooks")
SOURCE = "okta-hook"
_STOP = object()


class DeliveryError(ValueError):
    """The body is not an Okta event-hook delivery."""


def delivery_events(body: bytes) -> list[Any]:
    """The ``data.events`` list of a delivery, or a DeliveryError saying what is wrong."""
    try:
        delivery = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeError) as exc:
        raise DeliveryError(f"not JSON: {exc}") from None
    except RecursionError:  # deeper than the decoder goes; events are held to MAX_DEPTH one by one
        raise DeliveryError(f"not JSON: {TOO_DEEP}") from None
    data = delivery.get("data") if isinstance(delivery, dict) else None
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise DeliveryError("an Okta event-hook delivery is an object with data.events, a list")
    return events


class HookWorker:
    def __init__(
        self, service: Service, metrics: Metrics, spool: Path | None, advance_every_s: float
    ) -> None:
        self.service, self.metrics, self.spool = service, metrics, spool
        self.advance_every_s = advance_every_s
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None

    # -- the request side ----------------------------------------------------------------------

    def submit(self, body: bytes) -> None:
        """Keep a checked delivery until processed: durable in the spool (when there is one) before the
        caller answers Okta."""
        path = None
        if self.spool is not None:
            path = self.spool / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
            tmp = path.with_suffix(".tmp")
            with open_private(tmp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        self.metrics.hook_deliveries.labels("accepted").inc()
        self.metrics.hook_queue.inc()
        self._queue.put((path, body))

    # -- the worker ----------------------------------------------------------------------------

    def start(self) -> None:
        """Queue what an earlier run left in the spool, then start processing."""
        if self.spool is not None:
            private_dir(self.spool)
            for stale in self.spool.glob("*.tmp"):  # written but never acknowledged to Okta
                stale.unlink(missing_ok=True)
            left = sorted(self.spool.glob("*.json"))
            if left:
                log.info("resuming hook deliveries left in the spool", extra={"deliveries": len(left)})
            for path in left:
                self.metrics.hook_queue.inc()
                self._queue.put((path, None))
        self._thread = threading.Thread(target=self._run, name="pushguard-hooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then stop."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    def drain(self) -> None:
        """Wait until every delivery submitted so far is processed (tests, shutdown)."""
        self._queue.join()

    def _run(self) -> None:
        every = self.advance_every_s
        next_advance = time.monotonic() + every
        while True:
            wait = max(0.0, next_advance - time.monotonic()) if every > 0 else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._queue.task_done()
                return
            if item is not None:
                try:
                    self._process(*item)
                finally:
                    self.metrics.hook_queue.dec()
                    self._queue.task_done()
            if every > 0 and time.monotonic() >= next_advance:
                self._advance()
                next_advance = time.monotonic() + every

    def _process(self, path: Path | None, body: bytes | None) -> None:
        name = path.name if path is not None else None
        try:
            raw = body if body is not None else path.read_bytes() if path is not None else b""
            events = delivery_events(raw)
        except (OSError, DeliveryError) as exc:  # only a spool file damaged on disk gets here
            log.error("hook delivery unreadable, set aside", extra={"spool_file": name, "reason": str(exc)})
            self.metrics.hook_deliveries.labels("unreadable").inc()
            if path is not None:
                path.rename(path.with_suffix(".rejected"))
            return
        try:
            result = self.service.ingest(events, Provider.OKTA, SOURCE)
        except Exception:  # the store failed: the file stays and is processed at the next start
            log.exception("hook delivery not processed, kept in the spool", extra={"spool_file": name})
            self.metrics.hook_deliveries.labels("failed").inc()
            return
        self.metrics.ingested(SOURCE, result.records, result.rejected, result.findings)
        self.metrics.hook_deliveries.labels("processed").inc()
        if result.rejected:
            log.warning(
                "hook records rejected",
                extra={
                    "spool_file": name,
                    "rejected": sum(result.rejected.values()),
                    "errors": result.errors[:5],
                },
            )
        if path is not None:
            path.unlink(missing_ok=True)  # only now: the findings are committed

    def _advance(self) -> None:
        try:
            found = self.service.advance()
        except Exception:
            log.exception("advancing the detectors' clocks failed")
            return
        self.metrics.found(found)
