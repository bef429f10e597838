"""entra source: being written (placeholder so the registry imports); matches nothing yet."""

from __future__ import annotations

from pushguard.model import Provider, RawRef
from pushguard.sources.base import ParseResult, Record, Unmapped


class _Pending:
    provider = Provider.ENTRA

    def matches(self, record: Record) -> bool:
        return False

    def parse(self, record: Record, ref: RawRef) -> ParseResult:
        return Unmapped("entra: parser not written yet")


SOURCE = _Pending()
