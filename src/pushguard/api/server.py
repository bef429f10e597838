"""Running the app under uvicorn: deadlines on what clients send, a bound on connections, worker processes.

uvicorn waits for a request's head as long as the client likes (its keep-alive timer runs only between
requests, and any byte received cancels it), so a client that sends half a request line holds a
connection for ever, and 500 of them hold 500. ``GuardedH11Protocol`` gives every request head a deadline
from the moment the connection is idle: a head not complete by then closes the connection. The body has
its own deadline in the app (middleware.BodyLimit), and ``limit_concurrency`` answers 503 beyond
``max_connections``.

Several worker processes (``workers``) share one listening socket; each builds its own app from the
service configuration (``PUSHGUARD_CONFIG_FILE`` and the ``PUSHGUARD_*`` variables), so their state must
be shared: more than one worker needs ``redis_url``."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from pushguard.api.app import create_app
from pushguard.api.config import DEFAULT_READ_TIMEOUT_S, ServiceConfig, load_config
from pushguard.api.logs import configure
from pushguard.runtime import tune_for_a_long_life

CONFIG_FILE_ENV = "PUSHGUARD_CONFIG_FILE"  # how worker processes find the config file
HEAD_TIMEOUT_ENV = "PUSHGUARD_READ_TIMEOUT_S"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head (``read_timeout_s``)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout = float(os.environ.get(HEAD_TIMEOUT_ENV) or DEFAULT_READ_TIMEOUT_S)
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_after: object = None  # the cycle that was current when the timer was armed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._waiting_after:
            self._cancel_head_timer()  # a request head was parsed: its body has the app's deadline

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # no pipelined request started
        if idle and not self.transport.is_closing():
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is self._waiting_after and not self.transport.is_closing():
            self.transport.close()  # no complete request head in time (idle or a half-sent one)


def app_from_environment() -> FastAPI:
    """The app of one worker process (uvicorn's factory): config file and variables as the parent had.
    Its service is closed with the app (the lifespan of ``create_app``)."""
    settings = load_config(os.environ.get(CONFIG_FILE_ENV) or None)
    configure(settings.log_level)
    tune_runtime()
    return create_app(settings)


GIL_SWITCH_S = 0.0005


def tune_runtime() -> None:
    """Two settings of one long-lived process, measured with benchmarks/api_load.py (decide at 300/s while
    batches are ingested; figures in the commit that set them):
    - the GIL switch interval: ingestion is CPU-bound Python in a worker thread, and at the default 5 ms
      the event loop can wait that long at each hand-off; at 0.5 ms it waits less;
    - the cyclic GC: the detectors' state is a large heap of small objects, and a full collection over
      it stopped everything for ~100 ms (decide p99 108 ms → 11 ms with these thresholds). The state
      holds no reference cycles; startup objects are frozen out of collection altogether."""
    sys.setswitchinterval(GIL_SWITCH_S)
    tune_for_a_long_life()


def serve(app: FastAPI | None, settings: ServiceConfig, host: str, port: int, workers: int = 1) -> None:
    """Run the service: ``app`` in this process (``workers`` 1), or ``workers`` processes that each build
    their own (``app_from_environment``)."""
    os.environ[HEAD_TIMEOUT_ENV] = str(settings.read_timeout_s)  # the protocol of every process reads it
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": GuardedH11Protocol,
        "limit_concurrency": settings.max_connections,
        "log_config": None,
        "access_log": False,
    }
    if workers > 1:
        uvicorn.run(
            "pushguard.api.server:app_from_environment",
            factory=True,
            workers=workers,
            **{**options, "http": "pushguard.api.server:GuardedH11Protocol"},
        )
    else:
        assert app is not None
        uvicorn.run(app, **options)
