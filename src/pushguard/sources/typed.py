"""Sources that decode JSON Lines straight into typed records (msgspec Structs), and what they share.

The plain path (``readers.decode_json`` into dicts, then ``Source.parse``) stays the reference. A typed
decoder takes a line only when reading it the plain way would give the same record and the same parse;
any other line (invalid JSON or UTF-8, a surrogate escape, a field of an odd shape, an envelope, another
vendor's record) it refuses, and the reader reads that line the plain way. A source keeps one mapping,
from its Struct: its plain ``parse`` converts the dict into the Struct first (``convert_lenient``).

Two known differences, both in content pushguard never reads:
- a number beyond float range (``1e999``) in a field the Struct does not name is skipped by the typed
  decode, while the plain decoder refuses the whole line. Finding such numbers would cost a scan of every
  line; no vendor writes them.
- a line of an event type no mapping takes (most of a real Okta log) is counted as unmapped from its type
  alone, however deep the fields it skips nest; the plain path refuses nesting beyond ``MAX_DEPTH`` as an
  error. The depth limit guards the processing of a record's content, which such a line never gets, and
  counting brackets would cost more than the whole typed decode of the line (msgspec still refuses
  nesting deep enough to threaten the stack, and the line then goes the plain way).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import msgspec

from pushguard.model import Provider, RawRef
from pushguard.sources.base import ParseResult, Unmapped
from pushguard.sources.limits import too_deep

StructT = TypeVar("StructT", bound=msgspec.Struct)


class LineSource(Protocol):
    """A source with a typed decoder for its JSON Lines records."""

    provider: Provider

    def decode_line(self, line: bytes) -> msgspec.Struct | Unmapped | None:
        """The line's record in this source's typed shape, why no mapping takes it (from the few fields
        that tell, the rest skipped), or None: read the line the plain way."""
        ...

    def parse_decoded(self, decoded: Any, ref: RawRef) -> ParseResult:
        """What ``parse`` gives for the same record read the plain way."""
        ...


def plain_checks_pass(line: bytes) -> bool:
    """The byte checks the plain decoder makes on the whole line, which a typed decode skips in the fields
    it ignores: ``plain_text_passes``, and nesting within ``limits.MAX_DEPTH``."""
    return plain_text_passes(line) and not too_deep(line)  # the plain decoder refuses deep nesting


def plain_text_passes(line: bytes) -> bool:
    """Valid UTF-8, and no ``\\ud…`` escape (a lone surrogate is refused by ``decode_json``; a line with a
    paired one is left to the plain path too, which is rare and always right). What a line of an event type
    no mapping takes is checked for: its depth is not, as its content is never read (module docstring)."""
    if not line.isascii():
        try:
            line.decode()
        except UnicodeDecodeError:
            return False
    # A one-byte search first: searching for the three-byte escapes costs ten times more.
    return not (b"\\" in line and (b"\\ud" in line or b"\\uD" in line))


def convert_lenient(record: Mapping[str, Any], cls: type[StructT]) -> StructT:
    """``record`` as a ``cls`` whose leaves are all ``Any``, read the way the dict code always read
    vendor records: an object field holding anything but an object is absent, so is a list field holding
    anything but a list, and the items of a list that are not objects are dropped."""
    try:
        return msgspec.convert(record, cls)
    except msgspec.ValidationError:
        return msgspec.convert(_tidy(record, _struct_info(cls)), cls)


@functools.cache
def _struct_info(cls: type[msgspec.Struct]) -> msgspec.inspect.StructType:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    return info


def _tidy(record: Mapping[str, Any], info: msgspec.inspect.StructType) -> dict[str, Any]:
    tidy: dict[str, Any] = {}
    for field in info.fields:
        name = field.encode_name
        if name not in record:
            continue
        value = record[name]
        kind = field.type
        if isinstance(kind, msgspec.inspect.UnionType):  # an object or a list of objects, or null
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
        if isinstance(kind, msgspec.inspect.StructType):
            if isinstance(value, dict):
                tidy[name] = _tidy(value, kind)
        elif isinstance(kind, msgspec.inspect.ListType):
            inner = kind.item_type
            assert isinstance(inner, msgspec.inspect.StructType)
            if isinstance(value, list):
                tidy[name] = [_tidy(item, inner) for item in value if isinstance(item, dict)]
        else:
            tidy[name] = value  # a leaf: Any
    return tidy
