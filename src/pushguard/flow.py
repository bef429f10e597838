"""The composition root: the one module that builds detectors, enrichers, the alias map and engines, from
one ``PipelineConfig`` (``config.load_pipeline_config``: the ``--config`` file, ``PUSHGUARD_*``, options).

Every entry point (analyze, ``--jobs``, ingest and the stream workers, serve, report, enrollments, the
backtest, decide) is handed a ``Flow`` and asks it for what it needs; none builds its own, so the same
logs give the same answers whichever command reads them. What differs between callers is a value, not a
subclass: where the second stage runs (``second_stage``: inline, spilled to files, queued on a stream)
and who watches the pass (``Observer``: the report's timelines, the enrollment review, the backtest see
one pass over the logs instead of re-running it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from pushguard.config import PipelineConfig, load_pipeline_config
from pushguard.detect import DETECTOR_TYPES, META_BY_ID, Detector, build_detectors
from pushguard.detect.base import DetectorMeta
from pushguard.detect.enrollment_abuse import EnrollmentAbuse
from pushguard.detect.org import ORG_STATE_KEY, OrgTable
from pushguard.enrich import AliasMap, Enricher, build_enrichers
from pushguard.enrich.directory import load_directory
from pushguard.enrich.geo import open_mmdb
from pushguard.enrich.resolver import Conflict, IdentityResolver, Link
from pushguard.model import Event, Finding, IdentityProfile, Provider, stable_id
from pushguard.pipeline import (
    COMMIT_EVERY,
    KEYED_PREFIX,
    MAX_ERRORS_KEPT,
    Engine,
    OrgKnowledge,
    OrgTrust,
    RunResult,
    RunStats,
    SecondStage,
    merged_events,
    parse_items,
    parse_record,
    position_key,
    resolve_identities,
    save_resolver,
    stored_resolver,
)
from pushguard.reading import parse_line
from pushguard.runtime import gc_tuned
from pushguard.sources.limits import TOO_DEEP, ReadLimits, value_too_deep
from pushguard.sources.progress import listen as listen_to_reading
from pushguard.sources.readers import Decoded, RawItem, expand_paths, read_paths, unwrap_records
from pushguard.store import SqliteStore, StateStore

# What the entry points (cli/, api/) use of the layers below: they import this module, never those.
__all__ = [
    "COMMIT_EVERY",
    "KEYED_PREFIX",
    "MAX_ERRORS_KEPT",
    "META_BY_ID",
    "ORG_STATE_KEY",
    "TOO_DEEP",
    "BeforeEvent",
    "Conflict",
    "DetectorMeta",
    "Engine",
    "Enricher",
    "Flow",
    "IdentityResolver",
    "Link",
    "Observer",
    "OrgKnowledge",
    "OrgTable",
    "OrgTrust",
    "PipelineConfig",
    "RawItem",
    "RunResult",
    "RunStats",
    "analyze",
    "expand_paths",
    "listen_to_reading",
    "load_pipeline_config",
    "parse_line",
    "parse_record",
    "position_key",
    "read_paths",
    "save_resolver",
    "unwrap_records",
    "value_too_deep",
]


DETECTOR_BY_ID: dict[str, type[Any]] = {cls.meta.id: cls for cls in DETECTOR_TYPES}


class BeforeEvent:
    """What an observer may read of the state just before the engine applies an event."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def profile(self, identity: str) -> IdentityProfile:
        return self._engine.profile(identity)

    def org_bits(self, event: Event) -> int:
        """What the organisation knows of the event's address, as the engine shows its detectors."""
        return self._engine.org.bits(event) if event.ip else 0


class Observer(Protocol):
    """Watches one pass: each event before the engine applies it (with the state it will be judged on),
    then the findings that event produced."""

    def before_event(self, event: Event, state: BeforeEvent) -> None: ...

    def after_event(self, event: Event, findings: list[Finding]) -> None: ...


@dataclass
class Flow:
    """One pipeline, built once: how every command and the service get detectors, enrichers and engines."""

    config: PipelineConfig = field(default_factory=PipelineConfig)
    aliases: AliasMap = field(default_factory=AliasMap)
    people: tuple[Sequence[Link], Sequence[Conflict]] = ((), ())  # the directory export's links

    @classmethod
    def build(cls, config: PipelineConfig | None = None) -> Flow:
        """The flow of ``config``; its files (alias map, MaxMind databases) are opened now, so a bad one
        is named before any log is read (or any ``--jobs`` process started)."""
        config = config or PipelineConfig()
        ReadLimits.from_env()  # a bad size cap is named now, not by the first reader
        for db in (config.geoip_city, config.geoip_asn):
            if db is not None:
                open_mmdb(Path(db)).close()
        aliases = AliasMap.load(Path(config.aliases)) if config.aliases else AliasMap()
        people = load_directory(Path(config.directory)) if config.directory else ((), ())
        return cls(config, aliases, people)

    @classmethod
    def load(cls, path: str | Path | None = None, **given: Any) -> Flow:
        """From a ``--config`` file (or none), ``PUSHGUARD_*`` and command-line options (``given``)."""
        return cls.build(load_pipeline_config(path, **given))

    # -- the parts ---------------------------------------------------------------------------------

    def detectors(self) -> list[Detector[Any]]:
        """A fresh set of the enabled detectors, tuned (detectors hold their settings, not state)."""
        return build_detectors(self.config.detectors)

    def tuned(self, detector_id: str) -> Detector[Any]:
        """One detector as this flow tunes it, enabled or not (the enrollment review scores with it)."""
        entry = self.config.detectors.get(detector_id)
        overrides = {k: v for k, v in entry.items() if k != "enabled"} if isinstance(entry, Mapping) else None
        return DETECTOR_BY_ID[detector_id](overrides)  # type: ignore[no-any-return]

    def tuned_enrollment_abuse(self) -> EnrollmentAbuse:
        """The enrollment_abuse detector as tuned here: the enrollment review scores with it."""
        return cast(EnrollmentAbuse, self.tuned(EnrollmentAbuse.meta.id))

    def enrichers(self) -> list[Enricher]:
        """A fresh enrichment chain (the geo step holds open databases: one chain per process)."""
        city, asn = self.config.geoip_city, self.config.geoip_asn
        return build_enrichers(
            city_db=Path(city) if city is not None else None, asn_db=Path(asn) if asn is not None else None
        )

    @property
    def trust(self) -> OrgTrust | None:
        return self.config.organisation

    def org(self) -> OrgKnowledge | None:
        """The configured allow-list as the engine's starting knowledge (None: only what is stored)."""
        return OrgKnowledge(trust=self.trust) if self.trust is not None else None

    def engine(
        self,
        store: StateStore | None = None,
        *,
        commit_every: int = COMMIT_EVERY,
        org: OrgKnowledge | None = None,
        org_learns: bool = True,
        report: bool = True,
        second_stage: SecondStage | None = None,
        detectors: Sequence[Detector[Any]] | None = None,
    ) -> Engine:
        """An engine over ``store`` with this flow's detectors. ``org``: knowledge computed up front (a
        parallel run); by default the configured allow-list. ``detectors``: an empty list for an engine
        only read for its profiles (decide)."""
        return Engine(
            store,
            self.detectors() if detectors is None else detectors,
            commit_every=commit_every,
            org=org if org is not None else self.org(),
            org_learns=org_learns,
            report=report,
            second_stage=second_stage,
        )

    def parse(
        self,
        items: Iterable[RawItem | Decoded],
        stats: RunStats,
        enrichers: Sequence[Enricher] = (),
        provider: Provider | None = None,
    ) -> Iterator[Event]:
        """Raw records → linked, enriched events (the caller owns the enrichers' lifetime); ``provider``:
        this batch's vendor when the caller knows it (an API request), else the configured one."""
        return parse_items(items, stats, provider or self.config.provider, self.aliases, enrichers)

    def resolver(
        self, store: StateStore | None = None, vendor_fields: bool | None = None
    ) -> IdentityResolver:
        """The identity resolver: the links ``store`` keeps, the alias map (always wins), the directory
        export, and (``config.link``, or ``vendor_fields`` when given) links from the records' fields."""
        linking = self.config.link if vendor_fields is None else vendor_fields
        return stored_resolver(store, self.aliases, self.people, vendor_fields=linking)

    def identities(self, inputs: Sequence[str | Path], resolver: IdentityResolver) -> RunStats:
        """Read logs only to link accounts (what ``pushguard identities`` lists)."""
        return resolve_identities(inputs, resolver, self.config.provider)

    def events(
        self,
        paths: Sequence[Path],
        stats: RunStats,
        enrichers: Sequence[Enricher],
        resolver: IdentityResolver | None = None,
    ) -> Iterator[tuple[Event, str]]:
        """Every file's events merged in event-time order, each with its partition (the file), linked to
        their person by ``resolver`` in that order."""
        return merged_events(paths, stats, self.config.provider, self.aliases, enrichers, resolver)

    # -- one pass ----------------------------------------------------------------------------------

    def run(
        self,
        inputs: Sequence[str | Path],
        *,
        store: StateStore | None = None,
        engine: Engine | None = None,
        observers: Sequence[Observer] = (),
        on_event: Callable[[int], None] | None = None,
        commit_every: int = COMMIT_EVERY,
        keep_revisions: bool = False,
        org_learns: bool = True,
        report: bool = True,
        enrichers: Sequence[Enricher] | None = None,
        finish: bool = True,
        resolver: IdentityResolver | None = None,
    ) -> RunResult:
        """Analyze log files/directories; findings of this run at their final revision, in time order.

        ``observers`` watch this one pass (the report, the review, the backtest). ``engine``: one that
        has read other logs first (a backtest's history). ``keep_revisions``: also every revision as it
        was reported. ``org_learns=False``: the organisation's table is read but not extended.
        ``report=False`` (a baseline): detectors and profiles learn, no finding is returned or stored.
        With a SQLite ``store``, a run that resumes one killed on the same inputs also returns the
        findings the killed process committed (``SqliteStore.open_run``). ``resolver``: by default this
        flow's over the store's links; its links are stored with the state."""
        if engine is None:
            engine = self.engine(store, commit_every=commit_every, org_learns=org_learns, report=report)
        store = engine.store
        paths = expand_paths(inputs, engine.stats.skipped_files)
        ledger = store if isinstance(store, SqliteStore) and report else None
        if ledger is not None:
            ledger.open_run(stable_id("run", *sorted(str(path.resolve()) for path in paths)))
        if keep_revisions:
            engine.revisions = []
        chain = self.enrichers() if enrichers is None else list(enrichers)
        if resolver is None:
            resolver = self.resolver(store)
        before = BeforeEvent(engine)
        with ExitStack() as closing:
            closing.enter_context(gc_tuned())
            for enricher in chain:
                if isinstance(enricher, AbstractContextManager):
                    closing.enter_context(enricher)
            events = self.events(paths, engine.stats, chain, resolver)
            for count, (event, partition) in enumerate(events, start=1):
                if observers:
                    for observer in observers:
                        observer.before_event(event, before)
                    found = engine.process(event, partition)
                    for observer in observers:
                        observer.after_event(event, found)
                else:
                    engine.process(event, partition)
                if on_event is not None and count % 1000 == 0:
                    on_event(count)
        if not finish:
            return RunResult(engine.stats, [])
        engine.finish()
        save_resolver(engine.store, resolver)
        findings = sorted(engine.findings.values(), key=lambda f: (f.detected_at, f.id)) if report else []
        if ledger is not None:
            findings = ledger.run_findings()  # this process's findings and a killed one's, highest revision
            ledger.close_run()
        return RunResult(engine.stats, findings, engine.revisions if report else None)


def analyze(
    inputs: Sequence[str | Path],
    *,
    store: StateStore | None = None,
    provider: Provider | None = None,
    aliases: AliasMap | None = None,
    detector_config: dict[str, Any] | None = None,
    enrichers: Sequence[Enricher] | None = None,
    on_event: Callable[[int], None] | None = None,
    commit_every: int = COMMIT_EVERY,
    keep_revisions: bool = False,
    org_learns: bool = True,
    org_trust: OrgTrust | None = None,
    report: bool = True,
    resolver: IdentityResolver | None = None,
) -> RunResult:
    """``Flow.run`` for a library caller holding loose parts (tests, benchmarks): the flow is built from
    them here. ``enrichers`` default to the standard chain with the bundled offline geo/ASN database."""
    config = PipelineConfig(detectors=detector_config or {}, organisation=org_trust, provider=provider)
    flow = Flow(config, aliases or AliasMap())
    return flow.run(
        inputs,
        store=store,
        on_event=on_event,
        commit_every=commit_every,
        keep_revisions=keep_revisions,
        org_learns=org_learns,
        report=report,
        enrichers=enrichers,
        resolver=resolver,
    )
