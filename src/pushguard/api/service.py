"""What the HTTP layer calls: ingestion through the pipeline Engine, decisions, findings, identities, the
active policy.

Two paths to the state:
- writes (ingestion, silence) go through the one Engine under ``lock``, taken per chunk of events so a
  large batch never holds it for long;
- reads (decide, findings, identities) go to the store's committed state through a second connection
  (SQLite in WAL mode lets it read while the writer commits), never through the Engine's cache: a decide
  for an identity nobody has seen must not grow that cache, and must not wait for a batch to finish.
  A batch is committed every ``commit_every`` events, so decide lags ingestion by at most that much.

Decide has priority: it is the inline path (a user waits on a push), ingestion is not. Decide gets its own
reading connection (it runs on the event loop: 30 µs of work is less than a thread-pool hop), and while
any decide is in flight ingestion pauses between chunks of WRITE_CHUNK events (one process has one GIL,
and a CPU-bound batch would otherwise make every decide wait for it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import redis

from pushguard.api.closed_loop import ClosedLoop
from pushguard.api.config import ServiceConfig
from pushguard.api.decision_log import DecisionLog
from pushguard.api.ordering import PARTITION, HeldEvents
from pushguard.decide import Policy, PolicyError, decide, load_policy
from pushguard.decide.closed_loop import RISK_BY_RANK
from pushguard.decide.context import located
from pushguard.decide.enforce import Account, load_enforcement_config, person_accounts
from pushguard.flow import (
    ORG_STATE_KEY,
    TOO_DEEP,
    Enricher,
    Flow,
    IdentityResolver,
    OrgKnowledge,
    OrgTable,
    OrgTrust,
    RawItem,
    RunStats,
    save_resolver,
    unwrap_records,
    value_too_deep,
)
from pushguard.model import Decision, DecisionRequest, Event, Finding, IdentityProfile, Provider, Severity
from pushguard.publish import publish_records
from pushguard.respond.outbox import OutboxEntry
from pushguard.respond.vendor import Responder
from pushguard.store import MemoryStore, SqliteStore, StateStore
from pushguard.store.redis import RedisStore
from pushguard.store.streams import StreamBus

WRITE_CHUNK = 64  # events processed per hold of the write lock (a few ms at most)
YIELD_S = 0.0002  # ingestion's pause while a decide is in flight
MAX_YIELD_S = 0.05  # per chunk: ingestion slows under decide load, it never stops


@dataclass
class IngestResult:
    records: int
    events: int
    rejected: dict[str, int]
    errors: list[str]
    findings: list[Finding] = field(default_factory=list)
    queued: int = 0
    duplicates: int = 0
    late: int = 0
    held: int = 0


def _raw_items(records: Sequence[Any], source: str) -> list[RawItem]:
    """A batch's records (envelopes unwrapped), positions 1-based; what is not a JSON object, or nests
    deeper than ``MAX_DEPTH``, is kept as an item without a record so that it is counted and reported."""
    items: list[RawItem] = []
    for position, value in enumerate(records, start=1):
        inner = unwrap_records(value)
        for record in [value] if inner is None else inner:
            if value_too_deep(record):
                items.append(RawItem(source, position, None, TOO_DEEP, unit="record"))
            elif isinstance(record, dict):
                items.append(RawItem(source, position, record, unit="record"))
            else:
                items.append(RawItem(source, position, None, "record is not a JSON object", unit="record"))
    return items


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _rejected(stats: RunStats) -> dict[str, int]:
    """Reason → count: 'malformed' for broken records, else why a record maps to no event."""
    rejected = {"malformed": stats.errors} if stats.errors else {}
    rejected.update(stats.unmapped)
    return rejected


class FindingQuery(msgspec.Struct, kw_only=True):
    user: str | None = None
    detector: str | None = None
    severity: Severity | None = None  # at least this severe
    since: datetime | None = None  # detected at or after (aware)
    offset: int = 0
    limit: int = 100


class IdentitySummary(msgspec.Struct, kw_only=True):
    identity: str
    known: bool
    events: int
    first_seen: float
    last_seen: float
    countries: list[str]
    asns: list[str]
    devices: int
    prompts_recent: int  # in the 24 h before the identity's last event
    denials_recent: int
    approvals_recent: int
    open_findings: dict[str, str]  # detector → severity
    incident: str | None
    risk: int  # 0..100: the worst open finding


class _ProfileOnly(msgspec.Struct):
    """The profile part of the pipeline's stored identity (the detectors' states are skipped)."""

    profile: IdentityProfile


_profile_decoder = msgspec.msgpack.Decoder(_ProfileOnly)
_org_table_decoder = msgspec.msgpack.Decoder(OrgTable)
ORG_REFRESH_S = 60.0  # decide re-reads the organisation's table at most this often
_RANK_NAMES = {s.rank: s for s in Severity}


def _open_stores(config: ServiceConfig) -> tuple[StateStore, StateStore, StateStore]:
    """(writer, reader, decide's reader) over one state."""
    if config.redis_url is not None:  # the workers write; this process reads (three connections)
        url, prefix = config.redis_url, config.redis_prefix
        return RedisStore(url, prefix), RedisStore(url, prefix), RedisStore(url, prefix)
    state = config.state
    if state == ":memory:":
        memory = MemoryStore()
        return memory, memory, memory
    return SqliteStore(state), SqliteStore(state), SqliteStore(state)


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        enrichers: Sequence[Enricher] | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        responders: Callable[[str], Responder] | None = None,
    ) -> None:
        self.config = config
        self.policy: Policy = load_policy(config.policy)  # first: a bad policy stops the start
        self.policy_error: str | None = None
        self.store, self.reader, self.decide_reader = _open_stores(config)
        self.bus: StreamBus | None = None
        if config.redis_url is not None:
            self.bus = StreamBus(redis.Redis.from_url(config.redis_url), config.redis_prefix)
        self.flow = Flow.build(config.pipeline())  # checked when the config was loaded
        self.engine = self.flow.engine(self.store, commit_every=config.commit_every)
        self.org_trust = self.flow.trust or OrgTrust()
        self._decide_org_cache: tuple[float, OrgKnowledge | None] | None = None  # (loaded at, table)
        self.enrichers = list(enrichers) if enrichers is not None else self.flow.enrichers()
        self.aliases = self.flow.aliases
        # a person's accounts linked as records are applied (with Redis the workers keep to the alias
        # map: they partition records by account before any link could be seen)
        self.resolver: IdentityResolver | None = self.flow.resolver(self.store) if self.bus is None else None
        self._links_saved = 0
        self.lock = threading.Lock()  # the Engine and the writing connection
        self.ingest_lock = threading.Lock()  # one release at a time: events reach the Engine in order
        # with Redis the workers order what they consume: nothing is held here (nor read from Redis now)
        self.held = HeldEvents(self.store if self.bus is None else MemoryStore(), config.reorder_window_s)
        # one query at a time per reading connection; a memory store is one object for all three
        shared = self.reader is self.store
        self.read_lock = self.lock if shared else threading.Lock()
        self.decide_lock = self.lock if shared else threading.Lock()
        self.deciding = 0  # decides in flight (changed on the event loop only; ingestion reads it)
        self.decision_log: DecisionLog | None = None
        if config.decision_log:
            self.decision_log = DecisionLog(
                Path(config.decision_log), config.decision_log_max_bytes, config.decision_log_keep
            )
        self._advanced_to = 0.0
        self.closed_loop: ClosedLoop | None = None
        self.enforce_lock = threading.Lock()  # one pass over the outbox at a time
        if config.enforcement and self.bus is None:  # with Redis the workers enforce
            settings = load_enforcement_config(Path(config.enforcement))
            settings = msgspec.structs.replace(settings, dry_run=not config.enforcement_execute)
            # its own connection: the outbox is applied (vendor calls and all) without the Engine's lock
            loop_store = self.store if isinstance(self.store, MemoryStore) else SqliteStore(config.state)
            self.closed_loop = ClosedLoop(
                settings,
                loop_store,
                state_path=Path(config.enforcement_state),
                audit_path=Path(config.audit_log),
                clock=clock,
                responders=responders,
                accounts_for=self._linked_accounts,
            )
            self.engine.outbox = self.closed_loop.outbox_for

    def _linked_accounts(self, person: str) -> list[Account]:
        """The person's accounts when the resolver linked more than one (else the planner's default:
        the finding's own vendor)."""
        linked = self.resolver.accounts_of(person) if self.resolver is not None else []
        return person_accounts(linked) if len(linked) > 1 else []

    # -- policy ------------------------------------------------------------------------------------

    def reload_policy(self) -> Policy:
        """Load the policy file again; on failure keep serving the last good policy and say why."""
        try:
            policy = load_policy(self.config.policy)
        except PolicyError as exc:
            self.policy_error = str(exc)
            raise
        self.policy, self.policy_error = policy, None
        return policy

    # -- ingestion ---------------------------------------------------------------------------------

    def ingest(self, records: Sequence[Any], provider: Provider | None, source: str) -> IngestResult:
        """Raw vendor records (or envelopes of them) → events, held for event-time order (api.ordering)
        → detectors; findings committed. An event behind those already applied (a redelivery, or later
        than the reorder window) is counted and skipped. With Redis the records go on the partition
        streams instead, for the workers (a record the streams had is not sent twice)."""
        items = _raw_items(records, source)
        if self.bus is not None:
            return self._publish(items, provider)
        stats = RunStats()
        if self.closed_loop is not None:
            self.closed_loop.received()
        events = list(self.flow.parse(items, stats, self.enrichers, provider))
        with self.ingest_lock:
            with self.lock:
                late, duplicates = self.held.add(events)
                due = self.held.due()
            found = self._apply(due)
            held = len(self.held)
        self.enforce()
        return IngestResult(
            stats.records,
            len(events),
            _rejected(stats),
            stats.error_samples,
            list(found.values()),
            duplicates=duplicates,
            late=late,
            held=held,
        )

    def _apply(self, due: list[tuple[str, Event]]) -> dict[str, Finding]:
        """Released events → the Engine, in order, in chunks that give way to decide; committed."""
        found: dict[str, Finding] = {}
        for start in range(0, len(due), WRITE_CHUNK):
            self._give_way()
            with self.lock:
                for key, event in due[start : start + WRITE_CHUNK]:
                    if self.resolver is not None:
                        event = self.resolver(event)
                    for finding in self.engine.process(event, PARTITION, key):
                        found[finding.id] = finding
        if due:
            with self.lock:
                self.engine.flush()
                self.held.applied(due[-1][0])
                if self.resolver is not None and self.resolver.revision != self._links_saved:
                    save_resolver(self.store, self.resolver)
                    self._links_saved = self.resolver.revision
        return found

    def _publish(self, items: list[RawItem], provider: Provider | None) -> IngestResult:
        assert self.bus is not None
        if not self.bus.partitions:
            self.bus.open(self.config.redis_partitions)  # here, not at start: Redis may come up later
        rows = [(i.source, i.position, i.record) for i in items if i.record is not None]
        stats = publish_records(rows, self.bus, provider=provider, aliases=self.aliases)
        run = stats.run
        for item in items:  # not JSON objects: counted with the published batch's own errors
            if item.record is None:
                run.records += 1
                run.error(item.where, item.error or "unreadable record")
        return IngestResult(
            run.records,
            stats.published + stats.duplicates,
            _rejected(run),
            run.error_samples,
            queued=stats.published,
            duplicates=stats.duplicates,
        )

    def _give_way(self) -> None:
        waited = 0.0
        while self.deciding > 0 and waited < MAX_YIELD_S:
            time.sleep(YIELD_S)  # releases the GIL to the event loop
            waited += YIELD_S

    def advance(self) -> list[Finding]:
        """Release the held events when nothing arrived for a reorder window, then let silence speak (a
        push nobody answered, a burst that ended) up to the newest event time less the allowed lateness,
        for the identities the Engine holds; committed. With Redis the workers do this for the state
        they hold."""
        if self.bus is not None:
            return []
        with self.ingest_lock:
            with self.lock:
                due = self.held.due(everything=self.held.idle())
            found = list(self._apply(due).values())
            with self.lock:
                newest = max(self.engine.watermark, self.held.watermark)
                mark = newest - self.config.allowed_lateness_s
                if mark <= self._advanced_to:
                    return found
                found.extend(self.engine.advance(mark))
                self.engine.flush()
                self._advanced_to = mark
        self.enforce()
        return found

    def enforce(self) -> list[OutboxEntry]:
        """The closed loop: apply the outbox's due intents (committed with their findings), retries
        and expiries included; nothing when no enforcement is configured."""
        if self.closed_loop is None:
            return []
        with self.enforce_lock:
            return self.closed_loop.run()

    # -- decisions ---------------------------------------------------------------------------------

    def stored_profile(self, identity: str) -> IdentityProfile | None:
        """The identity's committed profile (a private copy), or None when it was never seen."""
        with self.read_lock:
            blob = self.reader.load([identity]).get(identity)
        return None if blob is None else _profile_decoder.decode(blob).profile

    def _decide_profile(self, identity: str) -> IdentityProfile | None:
        with self.decide_lock:
            blob = self.decide_reader.load([identity]).get(identity)
        return None if blob is None else _profile_decoder.decode(blob).profile

    def _decide_org(self) -> OrgKnowledge | None:
        """The organisation's committed table (and the configured allow-list), re-read at most every
        ORG_REFRESH_S: it is one blob of up to MAX_ENTRIES networks, too big to decode per decision, and
        it changes slowly (five colleagues make a network the organisation's)."""
        now = time.monotonic()
        cached = self._decide_org_cache
        if cached is not None and now - cached[0] < ORG_REFRESH_S:
            return cached[1]
        with self.decide_lock:
            blob = self.decide_reader.load([ORG_STATE_KEY]).get(ORG_STATE_KEY)
        trusted = bool(self.org_trust.networks or self.org_trust.asns)
        org = None
        if blob is not None or trusted:
            table = _org_table_decoder.decode(blob) if blob is not None else None
            org = OrgKnowledge(table, self.org_trust)
        self._decide_org_cache = (now, org)
        return org

    def canonical(self, identity: str) -> str:
        """The identity as the logs key it: lowercase, then the alias map's answer."""
        return self.aliases.canonical(identity.strip().lower())

    def decide(self, request: DecisionRequest) -> Decision:
        canonical = self.aliases.canonical(request.identity)  # lowercased by DecisionRequest itself
        if self.resolver is not None:  # the account's person, as ingestion linked it
            account = f"{request.provider.value}|{canonical}" if request.provider is not None else canonical
            canonical = self.resolver.person(account)
        if canonical != request.identity:
            request = msgspec.structs.replace(request, identity=canonical)
        request = located(request, self.enrichers)  # the address placed as the logs' addresses are
        decision = decide(
            request,
            self.policy,
            self._decide_profile,
            fallback=self.config.decide_fallback,
            load_org=self._decide_org,
        )
        if self.decision_log is not None:
            self.decision_log.record(request, decision)  # written by its own thread
        return decision

    # -- reading -----------------------------------------------------------------------------------

    def findings(self, query: FindingQuery) -> tuple[list[Finding], int]:
        with self.read_lock:
            every = self.reader.findings()
        floor = query.severity.rank if query.severity is not None else 0
        chosen = [
            (datetime.fromisoformat(f.detected_at), f)  # parsed: the text varies in its fractions
            for f in every
            if (query.user is None or f.user == query.user)
            and (query.detector is None or f.detector == query.detector)
            and f.severity.rank >= floor
        ]
        if query.since is not None:
            chosen = [(at, f) for at, f in chosen if at >= query.since]
        chosen.sort(key=lambda pair: (pair[0], pair[1].id), reverse=True)  # newest first
        page = chosen[query.offset : query.offset + query.limit]
        return [f for _, f in page], len(chosen)

    def identity(self, identity: str) -> IdentitySummary:
        profile = self.stored_profile(identity) or IdentityProfile(identity=identity)
        now = profile.last_seen
        recent = 24 * 3600.0
        worst = max((int(rank) for rank, _ in profile.open_findings.values()), default=-1)
        return IdentitySummary(
            identity=identity,
            known=profile.events > 0,
            events=profile.events,
            first_seen=profile.first_seen,
            last_seen=profile.last_seen,
            countries=sorted(profile.countries),
            asns=sorted(profile.asns),
            devices=len(profile.devices),
            prompts_recent=sum(1 for t in profile.prompts if now - t <= recent),
            denials_recent=sum(1 for t in profile.denials if now - t <= recent),
            approvals_recent=sum(1 for t in profile.approvals if now - t <= recent),
            open_findings={d: _RANK_NAMES[int(r)].value for d, (r, _) in profile.open_findings.items()},
            incident=profile.incident,
            risk=RISK_BY_RANK.get(worst, 0),
        )

    def ready(self) -> bool:
        with self.read_lock:
            return self.reader.ping()  # with Redis: the server the streams live on too

    def close(self) -> None:
        if self.closed_loop is not None:
            self.closed_loop.close()
        if self.decision_log is not None:
            self.decision_log.close()  # what is queued is written first
        with self.lock:
            self.engine.flush()
            self.store.close()
            if self.reader is not self.store:
                self.reader.close()
                self.decide_reader.close()
            if self.bus is not None:
                self.bus.client.close()
