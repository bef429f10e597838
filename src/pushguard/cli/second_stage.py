"""The stream workers' second stage, as the first stage hands it over: each event the IP/ASN-keyed
detectors would look at, with the part of the identity's profile they read, queued on the stage2 stream
in the first stage's commit (``cli.stream_worker``)."""

from __future__ import annotations

from typing import Any

import msgspec

from pushguard.flow import Engine
from pushguard.model import Event, Finding, IdentityProfile
from pushguard.store.redis import RedisStore


class Deferred(msgspec.Struct, array_like=True):
    seq: int
    sub: int  # the event's index within its record
    event: Event
    profile: IdentityProfile


_deferred_encoder = msgspec.msgpack.Encoder()
deferred_decoder = msgspec.msgpack.Decoder(Deferred)


class QueueSecondStage:
    """First stage: the second stage's events are queued on the stage2 stream in the next commit.
    ``current``: (record sequence, event index) of the event being processed."""

    def __init__(self, store: RedisStore, stage2: str) -> None:
        self.redis = store
        self.stage2 = stage2
        self.current: tuple[int, int] = (0, 0)
        # when this worker holds the second stage: a copy of each event queued since the last commit, in
        # the order of the queue's "add" operations (the commit tells their entry ids)
        self.keep = False
        self.kept: list[Deferred] = []

    def __call__(self, engine: Engine, event: Event, profile: IdentityProfile) -> list[Finding]:
        _, view = engine.keyed_view(event, profile)
        if view is not None:
            item = Deferred(*self.current, event, view)
            self.redis.pending.ops.append(("add", self.stage2, _deferred_encoder.encode(item)))
            if self.keep:
                self.kept.append(Deferred(item.seq, item.sub, event, _detached(view)))
        return []


_BLANK = IdentityProfile(identity="")
_MAPS = tuple(n for n in IdentityProfile.__struct_fields__ if isinstance(getattr(_BLANK, n), dict))
_RINGS = tuple(n for n in IdentityProfile.__struct_fields__ if isinstance(getattr(_BLANK, n), list))
_OPTIONAL = tuple(n for n in IdentityProfile.__struct_fields__ if getattr(_BLANK, n) is None)


def _detached(view: IdentityProfile) -> IdentityProfile:
    """The view with its own copies of what the identity's profile goes on changing in place (a Seen's
    count and last time, the rings): the same as the stream's copy, without encoding and decoding it."""
    for name in _MAPS:
        if value := getattr(view, name):
            setattr(view, name, {k: _copied(v) for k, v in value.items()})
    for name in _RINGS:
        if value := getattr(view, name):
            setattr(view, name, list(value))
    for name in _OPTIONAL:
        if isinstance(value := getattr(view, name), msgspec.Struct):
            setattr(view, name, _copied(value))
    return view


def _copied(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.replace(value)
    return list(value) if isinstance(value, list) else value
