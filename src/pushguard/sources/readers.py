"""Input readers: files and directories of vendor records, in every shape people export them.

JSON Lines are streamed (constant memory): a broken line is reported with file:line and the rest of the
file is still read. A file holding one JSON document (an array, an API page, a Graph list response, an
Azure Monitor ``{"records": [...]}`` blob, a Duo API envelope, an Okta event-hook delivery) is decoded
whole; those are API pages, bounded by the vendor's page size. Gzip is recognised by its magic bytes.
A line or a document over its size cap, or JSON nested too deep, is refused with its position
(``sources.limits``); memory stays bounded whatever a file (or a gzip bomb) holds.

``read_records`` is ``read_file`` for the analysis: the lines of a JSON Lines file of a vendor with a
typed decoder (``sources.typed``) come as ``Decoded`` records, the lines it refuses as ``RawItem``.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import msgspec

from pushguard.model import InputError, Provider
from pushguard.sources import LineSource, line_source
from pushguard.sources.base import NOT_JSON, Unmapped
from pushguard.sources.limits import MAX_DEPTH, TOO_DEEP, ReadLimits, too_deep, value_too_deep
from pushguard.sources.progress import Meter, listening, metered

_decoder = msgspec.json.Decoder()
_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error)  # zlib.error: a corrupt gzip stream
_encoder = msgspec.json.Encoder()

# A simulation's ground truth and manifest, written beside its logs: JSON, but not logs.
NOT_LOGS = frozenset({"labels.json", "manifest.json"})
_SNIFF_BYTES = 4096


@dataclass(frozen=True, slots=True)
class RawItem:
    """One record as read, or the reason it could not be read."""

    source: str  # file path
    position: int  # 1-based line (JSON Lines) or record number (JSON documents)
    record: dict[str, Any] | None
    error: str | None = None
    unit: str = "line"

    @property
    def where(self) -> str:
        return f"{self.source}:{self.position}" if self.unit == "line" else f"{self.source}#{self.position}"


class Decoded(msgspec.Struct, frozen=True, gc=False):
    """One JSON line decoded by its source's typed decoder (a Struct: built per record, and built fast)."""

    source: str  # file path
    position: int  # 1-based line
    value: msgspec.Struct | Unmapped  # the source's typed record, or why no mapping takes it
    parser: LineSource  # the source that decoded it, and parses it

    @property
    def where(self) -> str:
        return f"{self.source}:{self.position}"


def expand_paths(paths: Iterable[str | os.PathLike[str]], skipped: list[str] | None = None) -> list[Path]:
    """Files named directly, plus the files found (recursively, sorted) in named directories whose
    content is JSON or JSON Lines, plain or gzip, whatever their names (``.ocsf``, ``.txt``, none). The
    files of a directory that are not are left out and, when ``skipped`` is given, added to it as
    ``"<path>: <why>"``; a file named directly is always read (its bad records are reported there)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_dir():
                    continue
                why = _not_logs(child)
                if why is None:
                    found.append(child)
                elif skipped is not None:
                    skipped.append(f"{child}: {why}")
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError(f"{path}: not a regular file or directory")
        else:
            raise InputError(f"{path}: no such file or directory")
    return found


def _not_logs(path: Path) -> str | None:
    """Why a file found in a directory is not read as logs, or None: its first non-blank byte (after
    gzip, when gzip) opens a JSON object or array."""
    if not path.is_file():
        return "not a regular file"
    if path.name in NOT_LOGS:
        return "a simulation's labels or manifest, not logs"
    try:
        with _open_binary(path) as handle:
            head = handle.read(_SNIFF_BYTES).lstrip()
            while not head:
                chunk = handle.read(1 << 16)
                if not chunk:
                    return "empty"
                head = chunk.lstrip()
    except (InputError, OSError, EOFError, gzip.BadGzipFile) as exc:
        return f"unreadable: {exc}"
    if head.startswith(_BOM):
        head = head[len(_BOM) :].lstrip()
    if head[:1] in (b"{", b"["):
        return None
    return f"not JSON or JSON Lines (starts with {head[:16]!r})"


_BOM = b"\xef\xbb\xbf"


def _open_binary(path: Path) -> IO[bytes]:
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed there
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    magic = handle.peek(2)[:2] if isinstance(handle, io.BufferedReader) else b""
    if magic == b"\x1f\x8b":
        handle.close()
        return cast(IO[bytes], gzip.open(path, "rb"))
    return handle


def read_file(path: Path) -> Iterator[RawItem]:
    """Every record of one file, in file order."""
    return cast(Iterator[RawItem], _read_file(path, typed=False, provider=None))  # no decoder: no Decoded


def read_records(path: Path, provider: Provider | None = None) -> Iterator[RawItem | Decoded]:
    """Every record of one file, in file order; lines decoded by the typed decoder of ``provider`` (else of
    the vendor of the first record), when there is one, come as ``Decoded``."""
    return _read_file(path, typed=True, provider=provider)


# What a line over the size cap reads as (skipped to its end, never held): refused by _line_items.
_OVERSIZED = b"\x00line over the size cap"


def _bounded_lines(handle: IO[bytes], max_bytes: int) -> Iterator[bytes]:
    """The file's lines, each at most ``max_bytes`` long; a longer one is read through in pieces and
    comes as ``_OVERSIZED`` (memory stays bounded whatever one line, or a gzip bomb, holds)."""
    read = handle.readline
    size = max_bytes + 1
    while True:
        line = read(size)
        if len(line) < size or line.endswith(b"\n"):
            if not line:
                return
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = read(1 << 20)
        yield _OVERSIZED


def _read_file(path: Path, typed: bool, provider: Provider | None) -> Iterator[RawItem | Decoded]:
    with _open_binary(path) as handle:
        lines = _bounded_lines(handle, ReadLimits.from_env().max_line_bytes)
        if not listening():
            yield from _read_opened(path, handle, lines, typed, provider)
            return
        meter = Meter(handle)
        try:
            yield from _read_opened(path, handle, metered(lines, meter), typed, provider)
        finally:  # a document read whole (not by lines) is counted here
            meter.update()


def _read_opened(
    path: Path, handle: IO[bytes], lines: Iterator[bytes], typed: bool, provider: Provider | None
) -> Iterator[RawItem | Decoded]:
    source = str(path)
    limits = ReadLimits.from_env()
    skipped = 0  # blank lines before the first record: line numbers count them
    try:
        first = next(lines, b"")
        while first and not first.strip():
            skipped += 1
            first = next(lines, b"")
    except _READ_ERRORS as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    if not first:
        return
    try:
        head: Any = decode_json(first)
    except NOT_JSON:
        head = None
    if head is not None:
        parser = line_source(head, provider) if typed else None
        if parser is not None:
            yield from _read_decoded_lines(lines, source, first, skipped, parser)
        else:
            yield from _read_lines(lines, source, first, head, skipped=skipped)
        return
    # The first line is not JSON on its own: a pretty-printed document, or JSON Lines whose first
    # line is broken. An array opens a document; otherwise a second line that is a whole object
    # means JSON Lines.
    try:
        second = next(lines, b"")
    except _READ_ERRORS as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    start = first.lstrip()
    if second is _OVERSIZED and (start.startswith((b"[", b"{"))):
        cap = limits.max_line_bytes
        error = f"JSON document with a line longer than {cap} bytes (PUSHGUARD_MAX_LINE_BYTES)"
        yield RawItem(source, 1, None, error, unit="record")
    elif start.startswith(b"[") or (start.startswith(b"{") and not _is_object(second)):
        yield from _read_document(handle, source, first + second, limits.max_document_bytes)
    else:
        yield from _read_lines(lines, source, first, None, second, skipped=skipped)


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(decode_json(line), dict)
    except NOT_JSON:
        return False


def _read_lines(
    rest: Iterator[bytes], source: str, first: bytes, head: Any, second: bytes = b"", skipped: int = 0
) -> Iterator[RawItem]:
    line_no = skipped
    lines: Iterable[bytes] = _chain_first(first, second, rest)
    try:
        for line in lines:
            line_no += 1
            if not line.strip():
                continue
            if line_no == skipped + 1 and head is not None:
                yield from _unwrap(head, source, line_no, "line")
            else:
                yield from _line_items(line, source, line_no)
    except _READ_ERRORS as exc:
        yield RawItem(source, line_no + 1, None, f"read error after line {line_no}: {exc}")


def _read_decoded_lines(
    lines: Iterable[bytes], source: str, first: bytes, skipped: int, parser: LineSource
) -> Iterator[RawItem | Decoded]:
    """``_read_lines`` with a typed decoder: one attempt per line, the plain reading when it refuses."""
    decode = parser.decode_line
    line_no = skipped
    try:
        for line in itertools.chain((first,), lines):
            line_no += 1
            value = decode(line)
            if value is not None:
                yield Decoded(source, line_no, value, parser)
            elif line.strip():  # a blank line is refused too: counted, not reported
                yield from _line_items(line, source, line_no)
    except _READ_ERRORS as exc:
        yield RawItem(source, line_no + 1, None, f"read error after line {line_no}: {exc}")


def _line_items(line: bytes, source: str, line_no: int) -> list[RawItem]:
    """The records of one (non-blank) JSON line read the plain way, or why it could not be read."""
    if line is _OVERSIZED:
        cap = ReadLimits.from_env().max_line_bytes
        return [RawItem(source, line_no, None, f"line longer than {cap} bytes (PUSHGUARD_MAX_LINE_BYTES)")]
    try:
        value = decode_json(line)
    except NOT_JSON as exc:
        return [RawItem(source, line_no, None, f"invalid JSON: {exc}")]
    return _unwrap(value, source, line_no, "line")


def decode_json(data: bytes) -> Any:
    """JSON bytes → value. Refuses (``msgspec.DecodeError``) invalid UTF-8, JSON nested deeper than
    ``limits.MAX_DEPTH``, and strings holding a lone surrogate (an escape like ``\\ud800`` without its
    pair), which no encoder downstream could write back: such a record fails here, named and counted, not
    later in the store."""
    value = _decode_any_depth(data)
    if too_deep(data):
        raise msgspec.DecodeError(TOO_DEEP)
    return value


def _decode_any_depth(data: bytes) -> Any:
    """``decode_json`` without the depth limit (a document's records are held to it one by one); JSON
    too deep for the decoder itself is refused all the same."""
    try:
        value = _decoder.decode(data)
    except RecursionError:
        raise msgspec.DecodeError(TOO_DEEP) from None
    # Only an escape can make a surrogate: skip the check otherwise (a one-byte search first, ten times
    # faster than the three-byte ones).
    if b"\\" in data and (b"\\ud" in data or b"\\uD" in data):
        try:
            _encoder.encode(value)
        except UnicodeEncodeError as exc:
            raise msgspec.DecodeError("a string holds a lone surrogate (invalid Unicode escape)") from exc
    return value


def _chain_first(first: bytes, second: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    if second:
        yield second
    yield from rest


def _read_document(handle: IO[bytes], source: str, first: bytes, max_bytes: int) -> Iterator[RawItem]:
    try:
        data = first + handle.read(max(0, max_bytes + 1 - len(first)))
    except _READ_ERRORS as exc:
        yield RawItem(source, 1, None, f"read error: {exc}", unit="record")
        return
    if len(data) > max_bytes:
        error = f"JSON document larger than {max_bytes} bytes (PUSHGUARD_MAX_DOCUMENT_BYTES)"
        yield RawItem(source, 1, None, error, unit="record")
        return
    try:
        value = _decode_any_depth(data)
    except NOT_JSON as exc:
        yield RawItem(source, 1, None, f"invalid JSON document: {exc}", unit="record")
        return
    yield from _unwrap(value, source, 0, "record", check_depth=too_deep(data, MAX_DEPTH))


def unwrap_records(value: Any) -> list[Any] | None:
    """The records inside a known envelope, or None when ``value`` is itself a record."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return [value]
    for key in ("value", "records"):  # Graph list response; Azure Monitor blob
        inner = value.get(key)
        if isinstance(inner, list) and ("@odata.context" in value or key == "records" or len(value) <= 3):
            return inner
    response = value.get("response")
    if "stat" in value and response is not None:  # Duo Admin API envelope
        if isinstance(response, dict):
            for key in ("authlogs", "items", "logs"):
                inner = response.get(key)
                if isinstance(inner, list):
                    return inner
        if isinstance(response, list):
            return response
        return []
    data = value.get("data")
    if isinstance(data, dict) and isinstance(data.get("events"), list) and "eventType" in value:
        events: list[Any] = data["events"]
        return events  # Okta event-hook delivery: {"eventType": "com.okta.event_hook", "data": {...}}
    return None


def _unwrap(value: Any, source: str, position: int, unit: str, check_depth: bool = False) -> list[RawItem]:
    """The records of a decoded line or document; with ``check_depth`` (the whole nests too deep) each
    record is held to the depth limit on its own."""
    inner = unwrap_records(value)
    if inner is None:
        if check_depth:
            return [RawItem(source, position or 1, None, TOO_DEEP, unit=unit)]
        return [RawItem(source, position or 1, value, unit=unit)]
    items: list[RawItem] = []
    for index, record in enumerate(inner, start=1):
        pos = position if unit == "line" else index
        if check_depth and value_too_deep(record):
            items.append(RawItem(source, pos, None, TOO_DEEP, unit))
        elif isinstance(record, dict):
            items.append(RawItem(source, pos, record, unit=unit))
        else:
            error = f"record is a JSON {type(record).__name__}, not an object"
            items.append(RawItem(source, pos, None, error, unit))
    return items


def jsonl_ranges(path: Path, parts: int, min_bytes: int) -> list[tuple[int, int]] | None:
    """Byte ranges of a plain (uncompressed) JSON Lines file, cut at line ends, to be read in parallel;
    None when the file is smaller than ``min_bytes``, compressed, or not JSON Lines (read it whole)."""
    size = path.stat().st_size
    if parts < 2 or size < min_bytes:
        return None
    max_line = ReadLimits.from_env().max_line_bytes
    with _open_binary(path) as handle:
        if not isinstance(handle, io.BufferedReader):
            return None  # gzip: no random access
        lines = _bounded_lines(handle, max_line)
        first = next(lines, b"")
        while first and not first.strip():
            first = next(lines, b"")
        try:
            if not isinstance(decode_json(first), dict):
                return None
        except NOT_JSON:
            return None
        cuts = [0]
        for index in range(1, parts):
            handle.seek(max(cuts[-1], size * index // parts))
            next(_bounded_lines(handle, max_line), b"")  # to the end of the line the cut fell in
            if handle.tell() >= size:
                break
            if handle.tell() > cuts[-1]:
                cuts.append(handle.tell())
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def read_jsonl_range(path: Path, start: int, end: int) -> Iterator[RawItem]:
    """The records of the lines of a JSON Lines file that start in [start, end), numbered as in the
    whole file (the lines before ``start`` are counted, not parsed)."""
    return cast(Iterator[RawItem], _read_range(path, start, end, typed=False, provider=None))


def read_records_range(
    path: Path, start: int, end: int, provider: Provider | None = None
) -> Iterator[RawItem | Decoded]:
    """``read_jsonl_range`` with the typed decoding of ``read_records`` (without a provider, the decoder
    is the one of the vendor of the range's first record)."""
    return _read_range(path, start, end, typed=True, provider=provider)


def _read_range(
    path: Path, start: int, end: int, typed: bool, provider: Provider | None
) -> Iterator[RawItem | Decoded]:
    source = str(path)
    with _open_binary(path) as handle:
        line_no = 0
        remaining = start
        while remaining > 0:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                break
            line_no += chunk.count(b"\n")
            remaining -= len(chunk)
        offset = start
        parser: LineSource | None = None
        lines = _bounded_lines(handle, ReadLimits.from_env().max_line_bytes)
        meter = Meter(handle, start, end) if listening() else None
        if meter is not None:
            lines = metered(lines, meter)
        for line in lines:
            if offset >= end:
                break
            offset = handle.tell() if line is _OVERSIZED else offset + len(line)
            line_no += 1
            if parser is not None:
                value = parser.decode_line(line)
                if value is not None:
                    yield Decoded(source, line_no, value, parser)
                    continue
            if not line.strip():
                continue
            items = _line_items(line, source, line_no)
            if typed:  # the first record names the decoder of the rest
                typed = False
                parser = line_source(items[0].record if items else None, provider)
            yield from items
        if meter is not None:
            meter.update()  # the range's last lines (the loop may stop before the meter's next report)


def read_paths(paths: Iterable[Path]) -> Iterator[RawItem]:
    for path in paths:
        yield from read_file(path)
