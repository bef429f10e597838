"""Redis state store: state shared by several workers (DESIGN.md "Running parts").

Layout under ``prefix`` (default ``pg``)::

    <prefix>:s:<key>   string: 10-digit version, "z" + zlib'd blob (or "r" + blob when small);
                       TTL ``ttl_s``, refreshed on every write
    <prefix>:pos       hash partition → last applied position
    <prefix>:f         hash finding id → finding (JSON), the highest revision seen
    <prefix>:frev      hash finding id → that revision

A plain string with the version in front is the compact form: a small hash would do too, but a state blob
is longer than Redis's listpack limit (64 bytes), so the hash would fall back to a full hash table.
zlib at level 1 takes a state of a busy identity from 2.7 KB to 1.6 KB for about 20 µs per write.

Acknowledged entries are deleted with their acknowledgement: a stream holds only work not yet done.

Atomicity: one ``Commit`` (states + positions + findings, plus the stream operations queued with it: acks,
appends, deletes) is one Lua script, so Redis applies all of it or none of it. A crash never leaves a
state without the position that produced it, nor a record acknowledged whose effect was not kept.

Concurrency: the pipeline keeps decoded state in memory between commits, so Redis alone cannot merge two
writers of one identity. The rule is *one identity is owned by one writer at a time* (records are
partitioned by identity and a partition is leased to one worker, see ``store.streams``), and the script
fences every commit against what this session last saw:

- every state key carries a version; ``load`` remembers it, the commit requires it unchanged;
- every position written must still be the one this session read (``position``) or wrote last;
- every stream entry to delete must still exist, every entry to acknowledge must still be pending for
  this consumer (nobody else claimed or consumed it);
- with a fence (``RedisStore.fence``: a lease's fencing token), the token must still be the current one:
  entries dropped under it are not checked one by one (the second stage's, see ``cli.stream_worker``).

Any mismatch applies nothing and raises ``StateConflictError``; the worker drops its cached state
(``reset``) and reprocesses its unacknowledged records, which the replay guard makes safe.

A ``RedisStore`` instance is one writer's session: give each ``pipeline.Engine`` its own instance (they may
share one server and prefix), since the remembered versions are per instance."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.commands.core import Script

from pushguard.model import Finding, PushguardError
from pushguard.store.base import Commit, decode_finding, encode_finding, sort_findings

DEFAULT_TTL_S = 90 * 24 * 3600  # identity state unused this long disappears
LOAD_CHUNK = 500  # keys per pipelined load
VERSION_DIGITS = 10
COMPRESS_FROM = 200  # bytes: smaller blobs are stored as they are
_ABSENT = "\x00"  # expected position of a partition that must not have one yet
_FORWARD = "\x01"  # a progress mark: unchecked, only ever moves forward

_COMMIT = """
local function less(a, b)
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la < lb
end
local ttl = tonumber(ARGV[1])
local group, consumer = ARGV[2], ARGV[3]
local n = tonumber(ARGV[4])
local conflicts = {}
for i = 1, n do
  local key = KEYS[3 + i]
  local head = redis.call('GETRANGE', key, 0, 9)
  local current = 0
  if head ~= '' then current = tonumber(head) end
  if current ~= tonumber(ARGV[3 + 2 * i]) then
    conflicts[#conflicts + 1] = 'state'
    conflicts[#conflicts + 1] = key
    conflicts[#conflicts + 1] = tostring(current)
  end
end
local at = 5 + 2 * n
local m = tonumber(ARGV[at])
for j = 1, m do
  local partition, expected = ARGV[at + 3 * j - 2], ARGV[at + 3 * j - 1]
  local current = redis.call('HGET', KEYS[1], partition)
  local ok = true
  if expected == '\\0' then ok = not current
  elseif expected ~= '\\1' then ok = (current == expected) end
  if not ok then
    conflicts[#conflicts + 1] = 'position'
    conflicts[#conflicts + 1] = partition
    conflicts[#conflicts + 1] = current or ''
  end
end
local positions_at = at
at = at + 3 * m + 1
local k = tonumber(ARGV[at])
local findings_at = at
at = at + 3 * k + 1
local ops = tonumber(ARGV[at])
for j = 1, ops do
  local op, stream, value = ARGV[at + 3 * j - 2], ARGV[at + 3 * j - 1], ARGV[at + 3 * j]
  if op == 'del' and #redis.call('XRANGE', stream, value, value) == 0 then
    conflicts[#conflicts + 1] = 'entry'
    conflicts[#conflicts + 1] = stream
    conflicts[#conflicts + 1] = value
  end
end
local ops_at = at
at = at + 3 * ops + 1
-- the fence: a holder's token, still the current one (a later holder took a newer token)
local fence_key, fence_token = ARGV[at], ARGV[at + 1]
if fence_key ~= '' and redis.call('GET', fence_key) ~= fence_token then
  conflicts[#conflicts + 1] = 'fence'
  conflicts[#conflicts + 1] = fence_key
  conflicts[#conflicts + 1] = redis.call('GET', fence_key) or ''
end
at = at + 2
-- entries dropped unchecked (the fence protects them), by stream
local drops_at = at
local drop_streams = tonumber(ARGV[at])
at = at + 1
for j = 1, drop_streams do at = at + 2 + tonumber(ARGV[at + 1]) end
-- acknowledgements, by stream: every entry must still be pending for this consumer (one XPENDING over
-- the batch's range, not one per entry)
local acks_at = at
local streams = tonumber(ARGV[at])
at = at + 1
for j = 1, streams do
  local stream, count, first, last = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2], ARGV[at + 3]
  local mine = {}
  for _, item in ipairs(redis.call('XPENDING', stream, group, first, last, 2 * count + 100, consumer)) do
    mine[item[1]] = true
  end
  for i = 1, count do
    local id = ARGV[at + 3 + i]
    if not mine[id] then
      conflicts[#conflicts + 1] = 'entry'
      conflicts[#conflicts + 1] = stream
      conflicts[#conflicts + 1] = id
    end
  end
  at = at + 4 + count
end
local outbox_at = at
if #conflicts > 0 then
  return {0, conflicts}
end
for i = 1, n do
  local key = KEYS[3 + i]
  local version = string.format('%010d', tonumber(ARGV[3 + 2 * i]) + 1)
  if ttl > 0 then redis.call('SET', key, version .. ARGV[4 + 2 * i], 'EX', ttl)
  else redis.call('SET', key, version .. ARGV[4 + 2 * i]) end
end
for j = 1, m do
  local partition, expected = ARGV[positions_at + 3 * j - 2], ARGV[positions_at + 3 * j - 1]
  local value = ARGV[positions_at + 3 * j]
  local current = redis.call('HGET', KEYS[1], partition)
  if expected ~= '\\1' or (not current) or less(current, value) then
    redis.call('HSET', KEYS[1], partition, value)
  end
end
for j = 1, k do
  local base = findings_at + 3 * j - 3
  local id, revision, body = ARGV[base + 1], tonumber(ARGV[base + 2]), ARGV[base + 3]
  local current = redis.call('HGET', KEYS[3], id)
  if (not current) or tonumber(current) < revision then
    redis.call('HSET', KEYS[3], id, tostring(revision))
    redis.call('HSET', KEYS[2], id, body)
  end
end
local added = {1}
for j = 1, ops do
  local op, stream, value = ARGV[ops_at + 3 * j - 2], ARGV[ops_at + 3 * j - 1], ARGV[ops_at + 3 * j]
  if op == 'add' then added[#added + 1] = redis.call('XADD', stream, '*', 'p', value)
  else redis.call('XDEL', stream, value) end
end
at = drops_at + 1
for j = 1, drop_streams do
  local stream, count = ARGV[at], tonumber(ARGV[at + 1])
  for from = 1, count, 4000 do
    redis.call('XDEL', stream, unpack(ARGV, at + 1 + from, at + 1 + math.min(from + 3999, count)))
  end
  at = at + 2 + count
end
at = acks_at + 1
for j = 1, streams do
  local stream, count = ARGV[at], tonumber(ARGV[at + 1])
  for from = 1, count, 4000 do  -- unpack has a stack limit: a few thousand ids per call
    local upto = math.min(from + 3999, count)
    redis.call('XACK', stream, group, unpack(ARGV, at + 3 + from, at + 3 + upto))
    redis.call('XDEL', stream, unpack(ARGV, at + 3 + from, at + 3 + upto))
  end
  at = at + 4 + count
end
at = outbox_at
local o = tonumber(ARGV[at])
if o > 0 then
  local hash, open, seq = KEYS[4 + n], KEYS[5 + n], KEYS[6 + n]
  for j = 1, o do
    local key, entry = ARGV[at + 2 * j - 1], ARGV[at + 2 * j]
    if redis.call('HSETNX', hash, key, entry) == 1 then
      redis.call('ZADD', open, 'NX', redis.call('INCR', seq), key)
    end
  end
end
return added
"""


class StoreDataError(PushguardError):
    """A stored value pushguard cannot read (written by something else, or damaged)."""


class StateConflictError(PushguardError):
    """Another writer changed what this writer had read: nothing was applied; reload and reprocess."""

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        self.conflicts = conflicts  # (what: state|position|entry, which key/partition/stream, found)
        shown = ", ".join(f"{what} {name} (now {found or 'none'})" for what, name, found in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        super().__init__(
            f"changed by another writer since this one read it: {shown}{more}; nothing was committed — "
            "one identity (one partition) must be owned by one worker at a time: reload and reprocess"
        )


@dataclass
class StreamOps:
    """Stream operations applied in the same script as the next commit (or not at all)."""

    group: str = ""  # consumer group and consumer of the entries acknowledged
    consumer: str = ""
    # (add|ack|del|drop, stream, value): del checks that the entry is still there, drop does not (the
    # store's fence guards the entries it drops: only the holder of the current token drops them)
    ops: list[tuple[str, str, bytes | str]] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)  # forward-only progress positions

    def __bool__(self) -> bool:
        return bool(self.ops or self.marks)


class RedisStore:
    """The StateStore protocol over Redis (see the module docstring for layout and atomicity)."""

    def __init__(
        self,
        url: str,
        prefix: str = "pg",
        *,
        ttl_s: int = DEFAULT_TTL_S,
        client: redis.Redis | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._owns_client = client is None
        self.client: redis.Redis = client if client is not None else redis.Redis.from_url(url)
        self._any: Any = self.client  # redis-py's reply hints do not know decode_responses=False
        self.positions_key = f"{prefix}:pos"
        self._findings_key = f"{prefix}:f"
        self._revisions_key = f"{prefix}:frev"
        self._outbox_key, self._outbox_open_key = f"{prefix}:ob", f"{prefix}:obopen"
        self._outbox_seq_key = f"{prefix}:obseq"  # the open set's order: first planned, first applied
        self._commit: Script = self.client.register_script(_COMMIT)
        self._versions: dict[str, int] = {}  # state key → version this session last saw or wrote
        self._positions: dict[str, str | None] = {}  # partition → position this session last saw or wrote
        self._prefetched: dict[str, bytes | None] = {}  # read ahead by prefetch, not yet loaded
        # the last state_keys() listing: a caller loading them one by one in that order (the end of a run
        # advancing every stored state) gets the next LOAD_CHUNK read ahead in one round trip
        self._listed: list[str] = []
        self._listed_at: dict[str, int] = {}
        self.pending = StreamOps()
        # (key, token): every commit of this session requires the key to still hold the token (a lease's
        # fencing token, see StreamBus.acquire_fenced); kept across reset, set by the holder
        self.fence: tuple[str, int] | None = None
        # stream → ids of the entries the last commit added to it, in the order of their "add" ops
        self.added: dict[str, list[str]] = {}
        self.conflicts = 0
        self.commits = 0

    def state_key(self, key: str) -> str:
        return f"{self.prefix}:s:{key}"

    # -- the StateStore protocol -----------------------------------------------------------------

    def load(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        missing: list[str] = []
        for key in keys:
            if key in self._prefetched:
                blob = self._prefetched.pop(key)
                if blob is not None:
                    found[key] = blob
            else:
                missing.append(key)
        if len(missing) == 1 and (at := self._listed_at.get(missing[0])) is not None:
            self.prefetch(self._listed[at : at + LOAD_CHUNK])
            blob = self._prefetched.pop(missing[0])
            if blob is not None:
                found[missing[0]] = blob
            return found
        found.update(self._fetch(missing))
        return found

    def prefetch(self, keys: Iterable[str]) -> None:
        """Read these states in one round trip; the next ``load`` of each is served from memory (until the
        next commit). Their versions are the ones read now, so a change in between is still a conflict."""
        wanted = [key for key in dict.fromkeys(keys) if key not in self._prefetched]
        found = self._fetch(wanted)
        for key in wanted:
            self._prefetched[key] = found.get(key)

    def _fetch(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), LOAD_CHUNK):
            chunk = keys[start : start + LOAD_CHUNK]
            replies: list[Any] = self.client.mget([self.state_key(key) for key in chunk])
            for key, raw in zip(chunk, replies, strict=True):
                if raw is None:
                    self._versions[key] = 0
                    continue
                self._versions[key] = int(raw[:VERSION_DIGITS])
                found[key] = unpack_state(key, bytes(raw[VERSION_DIGITS:]))
        return found

    def commit(self, batch: Commit) -> None:
        extra = self.pending
        if not batch and not extra:
            return
        self.pending = StreamOps(group=extra.group, consumer=extra.consumer)
        self._prefetched.clear()
        keys: list[str] = [self.positions_key, self._findings_key, self._revisions_key]
        args: list[Any] = [self.ttl_s, extra.group, extra.consumer, len(batch.states)]
        expected: dict[str, int] = {}
        for key, blob in batch.states.items():
            version = self._versions.get(key, 0)  # never loaded by this session: it must not exist
            expected[key] = version
            keys.append(self.state_key(key))
            args.extend((version, pack_state(blob)))
        positions = [(p, self._expected_position(p), v) for p, v in batch.positions.items()]
        positions.extend((p, _FORWARD, v) for p, v in extra.marks.items() if p not in batch.positions)
        args.append(len(positions))
        for partition, want, value in positions:
            args.extend((partition, want, value))
        args.append(len(batch.findings))
        for finding in batch.findings:
            args.extend((finding.id, finding.revision, encode_finding(finding)))
        # the closed loop's intents in the same script as the findings that planned them: a worker
        # killed after the commit has them all, one killed before has neither
        if batch.outbox:
            keys.extend((self._outbox_key, self._outbox_open_key, self._outbox_seq_key))
        acks: dict[str, list[str]] = {}
        drops: dict[str, list[bytes | str]] = {}
        ops: list[tuple[str, str, bytes | str]] = []
        for queued in extra.ops:
            if queued[0] == "ack":
                acks.setdefault(queued[1], []).append(_text(queued[2]))
            elif queued[0] == "drop":
                drops.setdefault(queued[1], []).append(queued[2])
            else:
                ops.append(queued)
        args.append(len(ops))
        for op, stream, payload in ops:
            args.extend((op, stream, payload))
        fence_key, token = self.fence if self.fence is not None else ("", 0)
        args.extend((fence_key, token, len(drops)))
        for stream, dropped in drops.items():
            args.extend((stream, len(dropped)))
            args.extend(dropped)
        args.append(len(acks))
        for stream, ids in acks.items():
            first, last = min(ids, key=_entry_order), max(ids, key=_entry_order)
            args.extend((stream, len(ids), first, last))
            args.extend(ids)
        args.append(len(batch.outbox))
        for intent, entry in batch.outbox.items():
            args.extend((intent, entry))
        # declared, for a cluster
        keys.extend(dict.fromkeys([stream for _, stream, _ in ops] + list(acks) + list(drops)))
        if fence_key:
            keys.append(fence_key)
        self.added = {}
        reply = self._commit(keys=keys, args=args)
        if int(reply[0]) != 1:
            flat = [_text(item) for item in reply[1]]
            conflicts = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
            self.conflicts += 1
            self.reset()
            raise StateConflictError(conflicts)
        self.commits += 1
        ids = iter(reply[1:])
        for op, stream, _ in ops:
            if op == "add":
                self.added.setdefault(stream, []).append(_text(next(ids)))
        for key, version in expected.items():
            self._versions[key] = version + 1
        for partition, value in batch.positions.items():
            self._positions[partition] = value

    # -- the closed loop's outbox ------------------------------------------------------------------

    def outbox_open(self) -> list[tuple[str, bytes]]:
        keys = [_text(k) for k in self._any.zrange(self._outbox_open_key, 0, -1)]
        if not keys:
            return []
        bodies = self._any.hmget(self._outbox_key, keys)
        return [(key, _bytes(body)) for key, body in zip(keys, bodies, strict=True) if body is not None]

    def outbox_entry(self, key: str) -> bytes | None:
        body = self._any.hget(self._outbox_key, key)
        return None if body is None else _bytes(body)

    def outbox_update(self, key: str, entry: bytes, *, closed: bool) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._outbox_key, key, entry)
        if closed:
            pipe.zrem(self._outbox_open_key, key)
        pipe.execute()

    def state_keys(self) -> Iterator[str]:
        skip = len(self.state_key(""))
        # collected up front: the caller commits while it iterates
        found = [_text(key)[skip:] for key in self.client.scan_iter(match=self.state_key("*"), count=1000)]
        self._listed, self._listed_at = found, {key: at for at, key in enumerate(found)}
        return iter(found)

    def position(self, partition: str) -> str | None:
        value: bytes | None = self._any.hget(self.positions_key, partition)
        text = None if value is None else _text(value)
        self._positions[partition] = text
        return text

    def findings(self) -> list[Finding]:
        bodies: dict[bytes | str, bytes | str] = self.client.hgetall(self._findings_key)
        return sort_findings(decode_finding(_bytes(body)) for body in bodies.values())

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    # -- beyond the protocol ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget what this session saw and drop queued stream operations: everything is read afresh."""
        self._versions.clear()
        self._positions.clear()
        self._prefetched.clear()
        self._listed, self._listed_at = [], {}
        self.pending = StreamOps(group=self.pending.group, consumer=self.pending.consumer)

    def ttl(self, key: str) -> int:
        """Seconds left before the state of ``key`` expires (-2: no such key, -1: no expiry)."""
        return int(self.client.ttl(self.state_key(key)))

    def state_bytes(self, key: str) -> int:
        """Bytes Redis spends on the state of ``key`` (MEMORY USAGE: value, key and overhead)."""
        used = self.client.memory_usage(self.state_key(key), samples=0)
        return int(used) if used is not None else 0

    def _expected_position(self, partition: str) -> str:
        if partition not in self._positions:
            self.position(partition)  # not read yet (the Engine reads before it writes): read it now
        seen = self._positions[partition]
        return _ABSENT if seen is None else seen

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def pack_state(blob: bytes) -> bytes:
    """A state blob as Redis holds it: zlib'd at level 1 from COMPRESS_FROM bytes, tagged either way."""
    return b"z" + zlib.compress(blob, 1) if len(blob) >= COMPRESS_FROM else b"r" + blob


def unpack_state(key: str, stored: bytes) -> bytes:
    kind, body = stored[:1], stored[1:]
    if kind == b"r":
        return body
    if kind == b"z":
        try:
            return zlib.decompress(body)
        except zlib.error as exc:
            raise StoreDataError(f"state of {key!r} in Redis is corrupt: {exc}") from exc
    raise StoreDataError(
        f"state of {key!r} in Redis has an unknown encoding {kind!r}: not written by pushguard"
    )


def _entry_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: bytes | str | int) -> str:
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value
