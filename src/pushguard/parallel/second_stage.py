"""Where ``--jobs`` runs each second-stage key (an IP, an ASN): the key plan, and the first-stage
engine's second stage that runs the keys one process alone has at once and keeps the others' events for
the process that runs them (``parallel.run`` tells the whole run)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from pushguard.detect.base import KeyedDetector
from pushguard.model import Event, EventKind, Finding, IdentityProfile
from pushguard.pipeline import Engine

# (time, provider, event id, file index, record sequence): the one-process order (pipeline.merged_events)
Order = tuple[float, str, str, int, int]
# an event for the second stage: the view of its profile the keyed detectors read, the keys it is for
Deferred = tuple[Order, Event, IdentityProfile, list[str]]


@dataclass
class KeyPlan:
    """Where each second-stage key (an IP, an ASN) runs. ``owners``: the keys several processes foresaw,
    each given to one (or, without ``inline``, every key foreseen); ``local``: the keys only this
    process foresaw, run here as events come; any key nobody foresaw goes by its hash."""

    index: int
    jobs: int
    owners: dict[str, int]
    local: set[str]
    foreseen: set[str]

    def owner(self, key: str) -> int:
        found = self.owners.get(key)
        return found if found is not None else zlib.crc32(key.encode("utf-8", "surrogatepass")) % self.jobs


@dataclass
class SecondStage:
    """The first-stage engine's second stage. An event's keys this process alone has run at once with the
    live profile, as in one process; for its other keys the event is kept, with the view of the profile
    the keyed detectors read as it is now, for the process that runs the key: this one (``kept``) or
    another (``sent``). ``unexpected``: keys the plan did not foresee here (lent a place by the profile)."""

    plan: KeyPlan
    watching: dict[EventKind, list[KeyedDetector[Any]]]
    kept: list[Deferred] = field(default_factory=list)
    sent: list[list[Deferred]] = field(default_factory=list)
    unexpected: set[str] = field(default_factory=set)
    current: Order | None = None  # None: nothing is kept (the engine is finishing)
    given: Event | None = None  # the event handed to the engine, and its keys
    keys: tuple[str, ...] = ()

    def __call__(self, engine: Engine, event: Event, profile: IdentityProfile) -> list[Finding]:
        if self.current is None:
            return []
        # the keys found when the plan was made, unless the engine lent the event a place since
        keys = self.keys if event is self.given else keys_of(self.watching, event)
        local = self.plan.local
        later: list[str] = []
        here = False
        for part in keys:
            if part in local:
                here = True
            else:
                later.append(part)
        produced = engine.second_stage(event, profile) if here else []  # the engine keeps local keys only
        if later:
            _, view = engine.keyed_view(event, profile)
            assert view is not None
            by_owner: dict[int, list[str]] = {}
            for part in later:
                if part not in self.plan.foreseen:
                    self.unexpected.add(part)
                by_owner.setdefault(self.plan.owner(part), []).append(part)
            for owner, parts in by_owner.items():
                item = (self.current, event, view, parts)
                (self.kept if owner == self.plan.index else self.sent[owner]).append(item)
        return produced


def keys_of(watching: dict[EventKind, list[KeyedDetector[Any]]], event: Event) -> tuple[str, ...]:
    """The second-stage keys of an event, one per keyed detector that wants it."""
    return tuple(part for detector in watching[event.kind] if (part := detector.partition(event)) is not None)


def keyed_by_kind(engine: Engine) -> dict[EventKind, list[KeyedDetector[Any]]]:
    """Event kind → the engine's second-stage detectors that watch it (those ``Engine`` hands it to)."""
    return {
        kind: [d for d in engine.keyed_detectors if d.meta.watches is None or kind in d.meta.watches]
        for kind in EventKind
    }
