"""What the HTTP layer calls: ingestion through the pipeline Engine, decisions, findings, identities, the
active policy. One lock serialises state changes (the Engine keeps decoded state between commits and the
SQLite connection is shared); decide holds it only to read one profile."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from pushguard.api.config import ServiceConfig
from pushguard.decide import Policy, PolicyError, decide, load_policy
from pushguard.detect import build_detectors
from pushguard.enrich import AliasMap, Enricher, build_enrichers
from pushguard.model import Decision, DecisionRequest, Finding, IdentityProfile, Provider, Severity
from pushguard.pipeline import Engine, RunStats, parse_items
from pushguard.sources.readers import RawItem, unwrap_records
from pushguard.store import MemoryStore, SqliteStore, StateStore


@dataclass
class IngestResult:
    records: int
    events: int
    rejected: dict[str, int]
    errors: list[str]
    findings: list[Finding] = field(default_factory=list)


class FindingQuery(msgspec.Struct, kw_only=True):
    user: str | None = None
    detector: str | None = None
    severity: Severity | None = None  # at least this severe
    since: str | None = None  # RFC 3339: detected at or after
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
    prompts_recent: int
    denials_recent: int
    approvals_recent: int
    open_findings: dict[str, str]  # detector → severity
    incident: str | None
    risk: int  # 0..100: the worst open finding, as decide sees it


_RANK_NAMES = {s.rank: s for s in Severity}
_RISK_BY_RANK = {-1: 0, 0: 5, 1: 20, 2: 45, 3: 70, 4: 90}  # worst open finding's rank → risk


class Service:
    def __init__(self, config: ServiceConfig, enrichers: Sequence[Enricher] | None = None) -> None:
        self.config = config
        self.store: StateStore = MemoryStore() if config.state == ":memory:" else SqliteStore(config.state)
        self.engine = Engine(self.store, build_detectors(config.detectors))
        self.enrichers = list(enrichers) if enrichers is not None else build_enrichers()
        self.aliases = AliasMap()
        self.lock = threading.Lock()
        self.policy: Policy = load_policy(config.policy)
        self.policy_error: str | None = None
        self._decision_log = Path(config.decision_log) if config.decision_log else None
        self._encoder = msgspec.json.Encoder()

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
        """Raw vendor records (or envelopes of them) → events → detectors; findings committed."""
        items: list[RawItem] = []
        for position, value in enumerate(records, start=1):
            inner = unwrap_records(value)
            for record in [value] if inner is None else inner:
                if isinstance(record, dict):
                    items.append(RawItem(source, position, record, unit="record"))
                else:
                    items.append(
                        RawItem(source, position, None, "record is not a JSON object", unit="record")
                    )
        stats = RunStats()
        events = sorted(
            parse_items(items, stats, provider, self.aliases, self.enrichers),
            key=lambda e: (e.ts, e.provider.value, e.event_id),
        )
        found: dict[str, Finding] = {}
        with self.lock:
            for event in events:
                for finding in self.engine.process(event):
                    found[finding.id] = finding
            self.engine.flush()
        rejected = {"malformed": stats.errors} if stats.errors else {}
        for reason, count in stats.unmapped.items():
            rejected[reason] = count
        return IngestResult(stats.records, len(events), rejected, stats.error_samples, list(found.values()))

    # -- decisions ---------------------------------------------------------------------------------

    def decide(self, request: DecisionRequest) -> Decision:
        def load_profile(identity: str) -> IdentityProfile:
            with self.lock:
                return msgspec.structs.replace(self.engine.profile(identity))

        decision = decide(request, self.policy, load_profile)
        if self._decision_log is not None:
            line = self._encoder.encode({"request": request, "decision": decision})
            with self.lock, self._decision_log.open("ab") as handle:
                handle.write(line + b"\n")
        return decision

    # -- reading -----------------------------------------------------------------------------------

    def findings(self, query: FindingQuery) -> tuple[list[Finding], int]:
        with self.lock:
            every = self.store.findings()
        floor = query.severity.rank if query.severity is not None else 0
        chosen = [
            f
            for f in every
            if (query.user is None or f.user == query.user)
            and (query.detector is None or f.detector == query.detector)
            and f.severity.rank >= floor
            and (query.since is None or f.detected_at >= query.since)
        ]
        chosen.sort(key=lambda f: (f.detected_at, f.id), reverse=True)
        return chosen[query.offset : query.offset + query.limit], len(chosen)

    def identity(self, identity: str) -> IdentitySummary:
        with self.lock:
            profile = msgspec.structs.replace(self.engine.profile(identity))
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
            risk=_RISK_BY_RANK.get(worst, 0),
        )

    def ready(self) -> bool:
        with self.lock:
            return self.store.ping()

    def close(self) -> None:
        with self.lock:
            self.engine.flush()
            self.store.close()
