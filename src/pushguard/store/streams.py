"""Redis Streams transport for ``pushguard ingest`` / ``pushguard worker`` (the Engine lives above).

Layout under ``prefix`` (the same prefix as the ``RedisStore`` the workers commit to)::

    <prefix>:in:<i>      partition stream i of N: raw records, fields r (record JSON), q (global sequence),
                         v (the vendor ingest read it as: the worker reads it with that vendor's typed
                         decoder; entries without v, from an older ingest, are read the plain way)
                         consumer group "workers"; an identity always maps to the same partition
    <prefix>:dead        dead-letter stream: records that could not be used, with where and why
    <prefix>:stage2      events for the detectors keyed by IP/ASN, appended in the workers' commits
    <prefix>:meta        hash: partitions (N, fixed at the first ingest or worker)
    <prefix>:seq         the global sequence counter (ingest order = event-time order)
    <prefix>:ingested    hash partition stream → highest sequence put on it
    <prefix>:seen:<day>  set of 64-bit hashes of the records ingested, by event day (expire: DEDUPE_S)
    <prefix>:wm          highest event time ingested (epoch seconds): the final watermark
    <prefix>:advanced    the watermark at which silence last spoke for every state
    <prefix>:lease:<x>   a partition (or stage2, advance) leased to one worker: value = worker name
    <prefix>:fence:<x>   the fencing token of a lease taken with ``acquire_fenced`` (stage2): a counter
                         raised by every acquisition, so a holder whose lease lapsed cannot commit
    <prefix>:workers     sorted set worker → last heartbeat (ms), to share the partitions out

Ownership: a worker reads only the partitions it leases, so one identity's records are processed in order
by one worker. When a worker dies its leases expire; the next owner first claims every pending entry of
the partition (XAUTOCLAIM from 0) so the dead worker's unacknowledged records come before new ones.
Acknowledgement happens inside the state commit (``RedisStore.pending``), never before it."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import redis

from pushguard.model import InputError

GROUP = "workers"
DEFAULT_PARTITIONS = 8
PROGRESS = "seq|"  # position-hash prefix of a partition's progress mark (its last finished sequence)
SEQ_DIGITS = 20
DEDUPE_S = 7 * 86400  # a record sent again within this long (of ingest time) is recognised and skipped

_PUBLISH = """
local ttl, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local highest = tonumber(redis.call('GET', KEYS[3]) or '0')
local new = 0
local marks = {}
for i = 0, n - 1 do
  local at = 3 + 6 * i
  local stream, seen, id, record, ts = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  local vendor = ARGV[at + 5]
  if redis.call('SADD', seen, id) == 1 then
    redis.call('EXPIRE', seen, ttl)
    local seq = redis.call('INCR', KEYS[1])
    if vendor == '' then redis.call('XADD', stream, '*', 'r', record, 'q', seq)
    else redis.call('XADD', stream, '*', 'r', record, 'q', seq, 'v', vendor) end
    marks[stream] = seq
    if tonumber(ts) > highest then highest = tonumber(ts) end
    new = new + 1
  end
end
for stream, seq in pairs(marks) do redis.call('HSET', KEYS[2], stream, seq) end
if new > 0 then redis.call('SET', KEYS[3], string.format('%.6f', highest)) end
return new
"""
_RENEW = """
local kept = {}
for i, key in ipairs(KEYS) do
  kept[i] = 0
  if redis.call('GET', key) == ARGV[1] then kept[i] = redis.call('PEXPIRE', key, ARGV[2]) end
end
return kept
"""
_ACQUIRE_FENCED = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class DeadLetter(msgspec.Struct, frozen=True):
    where: str  # file:line at ingest, or partition stream#entry id in a worker
    reason: str
    record: str | None = None  # the record's JSON, when it could be read


_dead_encoder = msgspec.json.Encoder()
_dead_decoder = msgspec.json.Decoder(DeadLetter)


def dead_letter_payload(where: str, reason: str, record: bytes | None) -> bytes:
    return _dead_encoder.encode(DeadLetter(where, reason, None if record is None else record.decode()))


@dataclass(frozen=True, slots=True)
class Entry:
    stream: str
    id: str
    fields: dict[str, bytes]

    @property
    def seq(self) -> int:
        return int(self.fields.get("q", b"0"))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One raw record on its way to a partition."""

    identity: str
    key: str  # what makes it the same record when sent again: provider and vendor event id
    record: bytes  # the record's JSON
    time: float  # event time (epoch seconds)
    provider: str = ""  # the vendor it was read as (Provider value): the worker's typed decoder


def sortable_id(entry_id: str) -> str:
    """A stream id ("<ms>-<seq>") as text that sorts like the id: the replay guard compares text."""
    ms, _, seq = entry_id.partition("-")
    return f"{int(ms):015d}-{int(seq or 0):010d}"


def progress_mark(seq: int) -> str:
    return f"{seq:0{SEQ_DIGITS}d}"


class StreamBus:
    def __init__(self, client: redis.Redis, prefix: str = "pg") -> None:
        self.client = client
        self._any: Any = client  # redis-py's stream signatures are looser than its hints
        self.prefix = prefix
        self.dead = f"{prefix}:dead"
        self.stage2 = f"{prefix}:stage2"
        self.positions_key = f"{prefix}:pos"  # RedisStore's positions hash (progress marks live there)
        self._meta = f"{prefix}:meta"
        self._seq = f"{prefix}:seq"
        self._ingested = f"{prefix}:ingested"
        self._watermark = f"{prefix}:wm"
        self._advanced = f"{prefix}:advanced"
        self._seen = f"{prefix}:seen"
        self._workers = f"{prefix}:workers"
        self._publish = client.register_script(_PUBLISH)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._acquire_fenced = client.register_script(_ACQUIRE_FENCED)
        self.partitions = 0

    # -- set-up ------------------------------------------------------------------------------------

    def open(self, partitions: int | None = None) -> int:
        """Fix (first caller) or read the number of partitions and create the consumer groups."""
        wanted = partitions or DEFAULT_PARTITIONS
        if wanted < 1:
            raise InputError(f"partitions must be at least 1, not {wanted}")
        self.client.hsetnx(self._meta, "partitions", wanted)
        stored = int(self.client.hget(self._meta, "partitions") or wanted)
        if partitions is not None and stored != partitions:
            raise InputError(
                f"the streams under prefix {self.prefix!r} have {stored} partitions, not {partitions}: "
                "identities would move between partitions; use the same number or another prefix"
            )
        self.partitions = stored
        for stream in self.streams():
            try:
                self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        return stored

    def streams(self) -> list[str]:
        return [f"{self.prefix}:in:{i}" for i in range(self.partitions)]

    def partition_of(self, identity: str) -> str:
        """The partition stream of an identity: a stable hash, the same in every process."""
        digest = hashlib.blake2b(identity.encode(), digest_size=8).digest()
        return f"{self.prefix}:in:{int.from_bytes(digest, 'big') % self.partitions}"

    # -- ingest ------------------------------------------------------------------------------------

    def publish(self, batch: Sequence[Outgoing], dedupe_s: int = DEDUPE_S) -> int:
        """Put the records not seen before on their partitions, in the order given, numbered by the global
        sequence; in one script with the per-partition "ingested up to" marks and the watermark, so a
        record is either seen, numbered and queued, or none of these. Returns how many were new."""
        if not batch:
            return 0
        keys = [self._seq, self._ingested, self._watermark]
        args: list[Any] = [dedupe_s, len(batch)]
        for item in batch:
            day = int(item.time // 86400)
            digest = hashlib.blake2b(item.key.encode(), digest_size=8).digest()
            args.extend(
                (
                    self.partition_of(item.identity),
                    f"{self._seen}:{day}",
                    digest,
                    item.record,
                    item.time,
                    item.provider,
                )
            )
        return int(self._publish(keys=keys, args=args))

    def dead_letter(self, where: str, reason: str, record: bytes | None) -> None:
        self.client.xadd(self.dead, {"p": dead_letter_payload(where, reason, record)})

    def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The first ``count`` dead-lettered records: where they were, why, and the record when readable."""
        entries: list[tuple[bytes, dict[bytes, bytes]]] = self._any.xrange(self.dead, count=count)
        return [_dead_decoder.decode(fields[b"p"]) for _, fields in entries]

    def dead_count(self) -> int:
        return int(self.client.xlen(self.dead))

    # -- consuming ---------------------------------------------------------------------------------

    def read(self, consumer: str, streams: Sequence[str], count: int, block_ms: int | None) -> list[Entry]:
        """New entries (never delivered) of those streams, for this consumer."""
        if not streams:
            return []
        reply: list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None = self._any.xreadgroup(
            GROUP, consumer, dict.fromkeys(streams, ">"), count=count, block=block_ms
        )
        return [
            Entry(_text(stream), _text(eid), _fields(f)) for stream, items in reply or [] for eid, f in items
        ]

    def reclaim(self, consumer: str, stream: str, count: int = 1000) -> list[Entry]:
        """Every pending entry of the stream (whoever it was delivered to), now this consumer's, in id
        order. Only the lease holder calls it, so the earlier owner is gone or fenced."""
        claimed: list[Entry] = []
        start = "0-0"
        while True:
            reply: list[Any] = self._any.xautoclaim(
                stream, GROUP, consumer, min_idle_time=0, start_id=start, count=count
            )
            start = _text(reply[0])
            items: list[tuple[bytes, dict[bytes, bytes] | None]] = reply[1]
            claimed.extend(Entry(stream, _text(eid), _fields(f)) for eid, f in items if f is not None)
            if start == "0-0":
                return claimed

    def pending_count(self, stream: str) -> int:
        summary = self.client.xpending(stream, GROUP)
        return int(summary["pending"])

    def stage2_entries(self, after: str = "-", count: int = 10_000, before: str | None = None) -> list[Entry]:
        """Entries after ``after`` (exclusive) and before ``before`` (exclusive; None: to the end)."""
        start = after if after == "-" else f"({after}"
        end = "+" if before is None else f"({before}"
        items: list[tuple[bytes, dict[bytes, bytes]]] = self._any.xrange(
            self.stage2, min=start, max=end, count=count
        )
        return [Entry(self.stage2, _text(eid), _fields(f)) for eid, f in items]

    # -- progress ----------------------------------------------------------------------------------

    def frontier(self) -> tuple[float, bool]:
        """(F, idle): every record with sequence <= F is processed by the first stage (math.inf: all
        ingested records are), and whether nothing is waiting for the first stage at all. Read in one
        transaction so the marks belong to one moment."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hgetall(self._ingested)
        pipe.hgetall(self.positions_key)
        ingested_raw, positions_raw = pipe.execute()
        positions = {_text(k): _text(v) for k, v in positions_raw.items()}
        bound = math.inf
        for stream, top in ingested_raw.items():
            done = int(positions.get(PROGRESS + _text(stream), "0"))
            if done < int(top):
                bound = min(bound, done)
        return bound, bound == math.inf

    def watermark(self) -> float:
        return float(self.client.get(self._watermark) or 0)

    def advanced(self) -> float:
        return float(self.client.get(self._advanced) or 0)

    def set_advanced(self, mark: float) -> None:
        self.client.set(self._advanced, repr(mark))

    # -- ownership ---------------------------------------------------------------------------------

    def heartbeat(self, worker: str, ttl_ms: int) -> int:
        """Record this worker as alive; the number of workers alive (heartbeat within ``ttl_ms``)."""
        now = int(time.time() * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self._workers, {worker: now})
        pipe.zremrangebyscore(self._workers, "-inf", now - ttl_ms)
        pipe.zcard(self._workers)
        return int(pipe.execute()[2])

    def leave(self, worker: str) -> None:
        self.client.zrem(self._workers, worker)

    def lease_key(self, name: str) -> str:
        return f"{self.prefix}:lease:{name}"

    def acquire(self, name: str, worker: str, ttl_ms: int) -> bool:
        return bool(self.client.set(self.lease_key(name), worker, nx=True, px=ttl_ms))

    def fence_key(self, name: str) -> str:
        return f"{self.prefix}:fence:{name}"

    def acquire_fenced(self, name: str, worker: str, ttl_ms: int) -> int:
        """Take the lease and, in the same script, a new fencing token (0: not taken). A commit that
        requires the token (``RedisStore.fence``) fails once anyone has taken the lease after this."""
        return int(
            self._acquire_fenced(keys=[self.lease_key(name), self.fence_key(name)], args=[worker, ttl_ms])
        )

    def renew(self, name: str, worker: str, ttl_ms: int) -> bool:
        return name not in self.renew_all([name], worker, ttl_ms)

    def renew_all(self, names: Sequence[str], worker: str, ttl_ms: int) -> set[str]:
        """Renew this worker's leases in one round trip; the names of those it no longer holds."""
        if not names:
            return set()
        kept: list[int] = self._renew(keys=[self.lease_key(name) for name in names], args=[worker, ttl_ms])
        return {name for name, ok in zip(names, kept, strict=True) if not ok}

    def release(self, name: str, worker: str) -> None:
        self._release(keys=[self.lease_key(name)], args=[worker])

    def keys(self) -> list[str]:
        """Every key under the prefix (tests and ``--reset`` clean up with it)."""
        return [_text(key) for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: dict[Any, Any]) -> dict[str, bytes]:
    try:  # a client that returns bytes, keys and values (ours): the short way, once per record
        return {k.decode(): v for k, v in raw.items()}
    except AttributeError:  # one that decodes responses
        return {_text(k): v if isinstance(v, bytes) else str(v).encode() for k, v in raw.items()}
