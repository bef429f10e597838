"""The only module that knows the order of the stages:

    read (sources.readers) → parse (sources.<vendor>) → link identity (enrich) → order by event time
    → replay guard → detectors (detect) over per-identity state (store) → profile update → findings

The reading half (records to events in event-time order, files merged) is ``pushguard.reading``, whose
names this module re-exports; this one holds the Engine: state, detectors, profiles and findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import msgspec

from pushguard.detect import Detection, Detector, familiarity, to_finding
from pushguard.detect.base import SUCCESS_KINDS, KeyedDetector
from pushguard.detect.org import ORG_STATE_KEY, OrgTable
from pushguard.detect.org import OrgKnowledge as OrgKnowledge  # for flow, which builds the engines
from pushguard.detect.org import OrgTrust as OrgTrust  # the allow-list the entry points configure
from pushguard.detect.profile import id_hash, new_profile, place_of, update_profile
from pushguard.model import (
    Event,
    EventKind,
    Finding,
    Geo,
    GeoSource,
    IdentityProfile,
    InputError,
    PrincipalType,
    stable_id,
)
from pushguard.reading import MAX_ERRORS_KEPT as MAX_ERRORS_KEPT
from pushguard.reading import Parsed as Parsed
from pushguard.reading import RunStats as RunStats
from pushguard.reading import event_order as event_order
from pushguard.reading import keyed_file_events as keyed_file_events
from pushguard.reading import merged_events as merged_events
from pushguard.reading import ordered_file_events as ordered_file_events
from pushguard.reading import parse_items as parse_items
from pushguard.reading import parse_record as parse_record
from pushguard.reading import resolve_identities as resolve_identities
from pushguard.reading import save_resolver as save_resolver
from pushguard.reading import stored_resolver as stored_resolver
from pushguard.store import Commit, MemoryStore, StateStore

COMMIT_EVERY = 20_000  # events per store transaction
MAX_CACHED = 200_000  # identities kept decoded in memory between commits
ADVANCE_CHUNK = 5_000  # stored states advanced between two commits at the end of a run
KEYED_PREFIX = "k:"  # state keys of second-stage detectors: k:<detector>|<key>; the rest are identities
ORG_PREFIX = ORG_STATE_KEY[:2]  # the organisation's table ("o:org"): neither an identity nor a keyed state
INCIDENT_WINDOW_S = 24 * 3600.0  # findings about one identity this close together form one incident


class StoredIdentity(msgspec.Struct):
    profile: IdentityProfile
    states: dict[str, bytes]


class _Identity:
    __slots__ = ("person", "profile", "states")

    def __init__(self, profile: IdentityProfile, states: dict[str, Any]) -> None:
        self.profile = profile
        self.states = states
        self.person = id_hash(profile.identity)  # how the organisation table counts this person


_stored_decoder = msgspec.msgpack.Decoder(StoredIdentity)
_org_decoder = msgspec.msgpack.Decoder(OrgTable)
_encoder = msgspec.msgpack.Encoder()


def not_an_identity(event: Event) -> bool:
    """No identity to keep state for: only an address is known (spray, threat records)."""
    subject = event.subject
    return not event.identity or (subject is not None and subject.type is PrincipalType.ADDRESS)


def position_key(event: Event) -> str:
    """Sortable text of (time, provider, id): the replay guard's position within a partition."""
    micros = int(event.ts * 1_000_000)  # event.ts is event.time.timestamp(), computed once
    return f"{micros:020d}|{event.provider!s}|{event.event_id}"


class SecondStage(Protocol):
    """Where an event goes for the detectors keyed by something else than the identity (IP, ASN), with
    the identity's profile as it is now: run at once (``Engine.second_stage``, the default), spilled to
    files for another process (``analyze --jobs``), or queued on a stream (the stream workers). A value
    given to the Engine (``flow.Flow.engine``), not a subclass per caller."""

    def __call__(self, engine: Engine, event: Event, profile: IdentityProfile) -> list[Finding]: ...


class Engine:
    """Per-identity detection over a store: decoded-state cache, detectors, batched commits."""

    def __init__(
        self,
        store: StateStore | None = None,
        detectors: Sequence[Detector[Any]] | None = None,
        commit_every: int = COMMIT_EVERY,
        *,
        by_kind: bool = True,
        org: OrgKnowledge | None = None,
        org_learns: bool = True,
        report: bool = True,
        second_stage: SecondStage | None = None,
    ) -> None:
        """``by_kind=False``: every detector sees every event (the reference the kind table is tested
        against); by default a detector sees only the kinds its metadata ``watches``. ``org``: what the
        organisation knows (by default the stored table, learning as the run goes); ``org_learns=False``
        for an engine handed a table computed up front from the whole input (a parallel run).
        ``second_stage``: where the keyed detectors' events go (None: run here). Engines are built by
        ``flow.Flow``, the one composer."""
        if detectors is None:
            raise TypeError("Engine needs its detectors: build engines with flow.Flow.engine()")
        self.store: StateStore = store if store is not None else MemoryStore()
        # A store of its own (none given) is read back only after the decoded states are dropped: states
        # are encoded into it then, not at every commit.
        self._store_is_private = store is None
        self.detectors = list(detectors)
        self._deferred = second_stage
        # First stage: state per identity. Second stage: state per the detector's own key (IP, ASN).
        self.user_detectors = [d for d in self.detectors if d.meta.keys == ("user",)]
        self.keyed_detectors = [
            cast(KeyedDetector[Any], d) for d in self.detectors if d.meta.keys != ("user",)
        ]
        self._meta = {d.meta.id: d.meta for d in self.detectors}
        # Which second-stage keys (an IP, an ASN) this engine keeps state for: all, unless a parallel run
        # gives it a slice of them.
        self.keeps_key: Callable[[str], bool] | None = None
        # kind → (id, bound observe) of the first-stage detectors that watch it: the bound method made
        # once, not at each of the ~8 calls an event gets
        self._observers = {
            kind: [(detector_id, detector.observe) for detector_id, detector in watching]
            for kind, watching in _by_kind(self.user_detectors, by_kind).items()
        }
        self._keyed_observers = _by_kind(self.keyed_detectors, by_kind)
        self._keyed_by_id = {d.meta.id: d for d in self.keyed_detectors}
        self._state_decoders = {d.meta.id: msgspec.msgpack.Decoder(d.state_type) for d in self.detectors}
        self.commit_every = commit_every
        self.stats = RunStats()
        self.findings: dict[str, Finding] = {}  # this run's findings, highest revision
        # Every revision as reported, when asked for (evaluation: when was a campaign first detected?)
        self.revisions: list[Finding] | None = None
        self._cache: dict[str, _Identity] = {}
        self._dirty: set[str] = set()
        self._keyed: dict[str, Any] = {}  # "k:<detector>|<key>" → state
        self._keyed_dirty: set[str] = set()
        self._nobody = new_profile("")
        self._positions: dict[str, str | None] = {}
        self._applied_before: dict[str, str | None] = {}  # each partition's position as the store had it
        self._dirty_positions: set[str] = set()
        self._pending_findings: list[Finding] = []
        self._since_commit = 0
        self.watermark = 0.0
        self._stored_findings: dict[str, Finding] | None = None  # the store's, read at the first need
        self._org = org
        self._org_loaded = False  # the stored table is read at the first event that needs it
        self.org_learns = org_learns
        self._org_dirty = False
        self.report = report  # False: a baseline; findings update the profiles but are not stored
        # The closed loop: finding → outbox entries (intent key → entry), committed with the finding
        self.outbox: Callable[[Finding], dict[str, bytes]] | None = None

    @property
    def org(self) -> OrgKnowledge:
        """What the organisation knows: the table given and the stored one, plus what this run learns."""
        if not self._org_loaded:
            stored = self._stored_org()
            if self._org is None:
                self._org = OrgKnowledge(stored)
            elif stored is not None:
                self._org.table.merge(stored)
            self._org_loaded = True
        assert self._org is not None
        return self._org

    def _stored_org(self) -> OrgTable | None:
        blob = self.store.load([ORG_STATE_KEY]).get(ORG_STATE_KEY)
        return None if blob is None else _org_decoder.decode(blob)

    # -- state ---------------------------------------------------------------------------------

    def _identity(self, key: str) -> _Identity:
        found = self._cache.get(key)
        if found is not None:
            return found
        blob = self.store.load([key]).get(key)
        if blob is None:
            found = _Identity(new_profile(key), {d.meta.id: d.initial_state() for d in self.user_detectors})
        else:
            try:
                stored = _stored_decoder.decode(blob)
                states: dict[str, Any] = {}
                for detector in self.user_detectors:
                    raw = stored.states.get(detector.meta.id)
                    states[detector.meta.id] = (
                        self._state_decoders[detector.meta.id].decode(raw)
                        if raw
                        else detector.initial_state()
                    )
            except msgspec.DecodeError as exc:  # ValidationError is one: another release's state format
                raise InputError(
                    f"the stored state of {key!r} cannot be read ({exc}): it was written by another version "
                    "of pushguard; start a new state file (analyze --baseline over past logs rebuilds it)"
                ) from None
            found = _Identity(stored.profile, states)
        self._cache[key] = found
        return found

    def profile(self, key: str) -> IdentityProfile:
        return self._identity(key).profile

    def cached(self, key: str) -> bool:
        """Whether the state of ``key`` (an identity or a second-stage key) is decoded in memory: a caller
        reading states ahead (the stream workers) skips those."""
        return key in self._cache or key in self._keyed

    def _keyed_state(self, detector: Detector[Any], key: str) -> Any:
        found = self._keyed.get(key)
        if found is None:
            blob = self.store.load([key]).get(key)
            detector_id = detector.meta.id
            found = (
                detector.initial_state() if blob is None else self._state_decoders[detector_id].decode(blob)
            )
            self._keyed[key] = found
        return found

    def _position(self, partition: str) -> str | None:
        if partition not in self._positions:
            self._positions[partition] = self._applied_before[partition] = self.store.position(partition)
        return self._positions[partition]

    # -- the step --------------------------------------------------------------------------------

    def process(
        self, event: Event, partition: str | None = None, position: str | None = None
    ) -> list[Finding]:
        """``position``: the event's sortable place in ``partition`` (a stream entry id, made sortable by
        the caller); by default ``position_key(event)``, i.e. event time within a file."""
        if partition is not None:
            key = position_key(event) if position is None else position
            done = self._position(partition)
            if done is not None and key <= done:
                before = self._applied_before[partition]
                if before is not None and key <= before:
                    self.stats.replayed += 1  # applied by an earlier run
                elif key == done or position is not None:
                    # delivered again: the record just applied, or a stream entry this run applied
                    self.stats.duplicates += 1
                # else: a file's record behind this run's position (later than the reorder buffer):
                # counted as late where the file was read
                return []
            self._positions[partition] = key
            self._dirty_positions.add(partition)
        self.stats.events += 1
        self.stats.by_provider[str(event.provider)] += 1
        ts = event.ts
        if ts > self.watermark:
            self.watermark = ts
        produced: list[Finding] = []
        if not_an_identity(event):
            self.stats.not_a_user += 1  # keyed by address: only the second stage looks at it
            produced.extend(self._second(event, self._nobody))
            self._tick()
            return produced
        identity = event.identity
        who = self._identity(identity)
        profile, states = who.profile, who.states
        hashed = id_hash(event.event_id)
        if hashed in profile.recent_ids:  # the same vendor record again (this run or an earlier one)
            self.stats.duplicates += 1
            self._tick()
            return []
        kind = event.kind
        seen = event  # what the organisation learns from: the record as read (a parallel run's parse
        # phase learns the same, before any place is lent)
        observers = self._observers[kind]
        if event.ip and (observers or self._keyed_observers[kind]):
            # only what some detector will read: most records of unwatched kinds skip the lookups
            profile.org = self.org.bits(event)
            if profile.located and (event.geo is None or event.geo.lat is None):
                event = _placed(event, profile)
        familiarity.arm(event, profile)  # the detectors share one familiarity of this event
        try:
            for detector_id, observe in observers:
                state, detections = observe(states[detector_id], event, profile)
                states[detector_id] = state
                if detections:
                    produced.extend(self._finding(profile, detection) for detection in detections)
            if self._keyed_observers[kind]:
                produced.extend(self._second(event, profile))
        finally:
            familiarity.disarm()
        profile.org = 0
        update_profile(profile, event, hashed)
        if self.org_learns and kind in SUCCESS_KINDS:
            self.org.table.learn(seen, who.person)
            self._org_dirty = True
        self._dirty.add(identity)
        self._tick()
        return produced

    def _second(self, event: Event, profile: IdentityProfile) -> list[Finding]:
        if self._deferred is None:
            return self.second_stage(event, profile)
        return self._deferred(self, event, profile)

    def second_stage(self, event: Event, profile: IdentityProfile) -> list[Finding]:
        """The detectors keyed by something else than the identity (IP, ASN), given its profile."""
        produced: list[Finding] = []
        keyed, keeps_key = self._keyed, self.keeps_key
        for detector_id, detector in self._keyed_observers[event.kind]:
            part = detector.partition(event)
            if part is None or (keeps_key is not None and not keeps_key(part)):
                continue
            key = f"{KEYED_PREFIX}{detector_id}|{part}"
            state = keyed.get(key)
            if state is None:
                state = self._keyed_state(detector, key)
            state, detections = detector.observe_at(state, part, event, profile)
            keyed[key] = state
            self._keyed_dirty.add(key)
            for detection in detections:
                produced.append(self._finding(None, detection))
        return produced

    def watching(self, kind: EventKind) -> list[str]:
        """The ids of the detectors an event of this kind is handed to, in the order they see it."""
        return [d for d, _ in self._observers[kind]] + [d for d, _ in self._keyed_observers[kind]]

    def keyed_view(self, event: Event, profile: IdentityProfile) -> tuple[list[str], IdentityProfile | None]:
        """The second-stage keys (IP, ASN) this event has, and the part of the profile their detectors
        read (None: no second-stage detector wants the event). A deferred second stage (a parallel run,
        the stream workers) carries this view, a few bytes, where the whole profile was a kilobyte."""
        parts: list[str] = []
        view: IdentityProfile | None = None
        for _, detector in self._keyed_observers[event.kind]:
            part = detector.partition(event)
            if part is not None:
                parts.append(part)
                more = detector.profile_view(profile, event)
                view = more if view is None else _joined(view, more)
        return parts, view

    def advance(self, watermark: float | None = None) -> list[Finding]:
        """Let silence speak for every identity in memory (timeouts, bursts that ended)."""
        mark = self.watermark if watermark is None else watermark
        produced: list[Finding] = []
        for key in list(self._cache):
            produced.extend(self._advance_identity(key, mark))
        for key in list(self._keyed):
            produced.extend(self._advance_keyed(key, mark))
        return produced

    def _advance_identity(self, key: str, mark: float) -> list[Finding]:
        who = self._identity(key)
        produced: list[Finding] = []
        for detector in self.user_detectors:
            detector_id = detector.meta.id
            state, detections = detector.advance(who.states[detector_id], mark)
            who.states[detector_id] = state
            for detection in detections:
                produced.append(self._finding(who.profile, detection))
        self._dirty.add(key)  # advance prunes state even when nothing fires: keep what it pruned
        return produced

    def _advance_keyed(self, key: str, mark: float) -> list[Finding]:
        detector = self._keyed_by_id.get(key[2:].split("|", 1)[0])
        if detector is None:  # the state of a detector this run does not enable
            return []
        state, detections = detector.advance(self._keyed_state(detector, key), mark)
        self._keyed[key] = state
        self._keyed_dirty.add(key)
        return [self._finding(None, detection) for detection in detections]

    def _advance_stored(self, mark: float, done: set[str]) -> list[Finding]:
        """Advance the states that are only in the store: written by an earlier (or killed) run, or
        evicted from memory in this one. Without this, a resumed run would leave them where the crash
        left them, and the result would depend on where it crashed."""
        produced: list[Finding] = []
        keys = (k for k in self.store.state_keys() if k not in done and not k.startswith(ORG_PREFIX))
        for count, key in enumerate(keys):
            if key.startswith(KEYED_PREFIX):
                produced.extend(self._advance_keyed(key, mark))
            else:
                produced.extend(self._advance_identity(key, mark))
            if count % ADVANCE_CHUNK == ADVANCE_CHUNK - 1:
                self.flush()
        return produced

    def _finding(self, profile: IdentityProfile | None, detection: Detection) -> Finding:
        at = detection.detected_at.timestamp()
        if profile is None:  # a second-stage finding names its own subject (an IP, an ASN)
            incident = stable_id("incident", detection.identity, detection.anchor)
        else:
            detection = msgspec.structs.replace(detection, identity=profile.identity)
            if profile.incident is None or at - profile.incident_last > INCIDENT_WINDOW_S:
                profile.incident = stable_id("incident", profile.identity, detection.anchor)
            profile.incident_last = max(profile.incident_last, at)
            profile.open_findings[detection.detector] = [float(detection.severity.rank), at]
            incident = profile.incident
        providers = sorted(set(detection.providers))
        provider = providers[0] if len(providers) == 1 else "several" if providers else ""
        finding = to_finding(self._meta[detection.detector], detection, incident, provider)
        old = self.findings.get(finding.id) or self._stored_finding(finding.id)
        if old is not None and finding.revision > old.revision:
            finding = finding.with_history_of(old)
        if old is None or finding.revision > old.revision:
            self.findings[finding.id] = finding
        self._pending_findings.append(finding)
        if self.revisions is not None:
            self.revisions.append(finding)
        return finding

    def _org_blob(self, table: OrgTable) -> bytes:
        """The table to store: merged with what is stored (other workers learn too; merging is order
        free), keys sorted so that the same knowledge is the same bytes whoever learnt it first."""
        stored = self._stored_org()
        if stored is not None:
            table.merge(stored)
        ordered = OrgTable(entries=dict(sorted(table.entries.items())), countries_since=table.countries_since)
        return _encoder.encode(ordered)

    def _stored_finding(self, finding_id: str) -> Finding | None:
        """The finding as an earlier run left it (its history goes on): none with a store of our own."""
        if self._store_is_private:
            return None
        if self._stored_findings is None:
            self._stored_findings = {f.id: f for f in self.store.findings()}
        return self._stored_findings.get(finding_id)

    def _tick(self) -> None:
        self._since_commit += 1
        if self._since_commit >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        batch = Commit(findings=self._pending_findings if self.report else [])
        if self.outbox is not None and self.report:
            for finding in self._pending_findings:
                batch.outbox.update(self.outbox(finding))
        evict = len(self._cache) + len(self._keyed) > MAX_CACHED
        if evict or not self._store_is_private:
            for key in self._dirty:
                who = self._cache[key]
                states = {k: _encoder.encode(v) for k, v in who.states.items()}
                batch.states[key] = _encoder.encode(StoredIdentity(who.profile, states))
            for key in self._keyed_dirty:
                batch.states[key] = _encoder.encode(self._keyed[key])
            if self._org_dirty and self._org is not None:
                batch.states[ORG_STATE_KEY] = self._org_blob(self._org.table)
                self._org_dirty = False
            self._dirty.clear()
            self._keyed_dirty.clear()
        for partition in self._dirty_positions:
            value = self._positions.get(partition)
            if value is not None:
                batch.positions[partition] = value
        self.store.commit(batch)
        self._dirty_positions.clear()
        self._pending_findings = []
        self._since_commit = 0
        if evict:
            self._cache.clear()  # everything is committed: drop the decoded copies
            self._keyed.clear()

    def finish(self) -> list[Finding]:
        """End of input: silence speaks at the watermark for every state, in memory or only stored."""
        done = set(self._cache) | set(self._keyed)
        produced = self.advance()
        self.flush()
        produced.extend(self._advance_stored(self.watermark, done))
        self.flush()
        return produced


def _placed(event: Event, profile: IdentityProfile) -> Event:
    """The event with the place a recent sign-in of this identity gave its address (audit records carry
    the address and no place): the same circle, marked as borrowed. The sign-in's country and operator
    (the vendor's view of the address) replace an offline database's guess: an old database places some
    addresses in another country or under another operator, and "a country nobody here uses" must not
    come from that disagreement. A record's own vendor country stays."""
    fix = place_of(profile, event.ip, event.ts)
    if fix is None:
        return event
    old = event.geo
    guessed = old is None or old.source is not GeoSource.VENDOR or not old.country
    lend_network = guessed and fix.asn != 0 and (old is None or old.asn != fix.asn)
    geo = Geo(
        lat=fix.lat100 / 100.0,
        lon=fix.lon100 / 100.0,
        country=fix.country if guessed and fix.country else (old.country if old is not None else None),
        city=old.city if old is not None and (not guessed or old.country == fix.country) else None,
        accuracy_km=float(fix.accuracy_km) + 1.0,  # the rounding of the coordinates, on top
        asn=fix.asn if lend_network else (old.asn if old is not None else None),
        as_org=None if lend_network or old is None else old.as_org,
        is_proxy=None if lend_network or old is None else old.is_proxy,
        is_hosting=(fix.hosting or None) if lend_network else (old.is_hosting if old is not None else None),
        source=GeoSource.SIGNIN,
    )
    return msgspec.structs.replace(event, geo=geo)


def _joined(view: IdentityProfile, more: IdentityProfile) -> IdentityProfile:
    """Two detectors' views of one profile as one: each filled the maps it reads."""
    for name in more.__struct_fields__:
        value = getattr(more, name)
        if isinstance(value, dict) and value:
            getattr(view, name).update(value)
    return view


D = TypeVar("D", bound=Detector[Any])


def _by_kind(detectors: Sequence[D], by_kind: bool) -> dict[EventKind, list[tuple[str, D]]]:
    """Event kind → the detectors that watch it, in registry order (their findings' order)."""
    table: dict[EventKind, list[tuple[str, D]]] = {}
    for kind in EventKind:
        table[kind] = [
            (d.meta.id, d)
            for d in detectors
            if not by_kind or d.meta.watches is None or kind in d.meta.watches
        ]
    return table


@dataclass
class RunResult:
    stats: RunStats
    findings: list[Finding]
    revisions: list[Finding] | None = None  # every revision in report order (keep_revisions=True)
