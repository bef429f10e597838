"""Identity linking: one person across IdPs (jane.doe@corp.example in Okta, the same UPN in Entra,
``jdoe`` in Duo). Case is normalized by the sources; an alias map (CSV ``alias,canonical`` or YAML
``{alias: canonical}``) joins the rest. Vendor immutable ids can be aliases too (``00u…``, object ids)."""

from __future__ import annotations

import csv
from pathlib import Path

import msgspec
import yaml

from pushguard.model import ConfigError, Event
from pushguard.model.files import read_text_file


class AliasMap:
    def __init__(self, aliases: dict[str, str] | None = None) -> None:
        self._map = {k.strip().lower(): v.strip().lower() for k, v in (aliases or {}).items()}

    def __len__(self) -> int:
        return len(self._map)

    def covers(self, name: str) -> bool:
        """The map names this account (or vendor id): the identity resolver leaves it alone."""
        return name in self._map

    def canonical(self, name: str) -> str:
        return self._map.get(name, name)

    def apply(self, event: Event) -> Event:
        """The event keyed by its canonical identity (the vendor's own id stays on ``subject``)."""
        if not self._map:
            return event
        found = self._map.get(event.identity)
        if found is None and event.subject is not None and event.subject.id:
            found = self._map.get(event.subject.id.lower())
        if found is None or found == event.identity:
            return event
        return msgspec.structs.replace(event, identity=found)

    @classmethod
    def load(cls, path: str | Path) -> AliasMap:
        file = Path(path)
        text = read_text_file(file, "alias map")
        if file.suffix.lower() == ".csv":
            return cls(_from_csv(file, text))
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: invalid YAML: {exc}") from exc
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: an alias map is a mapping of alias: canonical identity")
        aliases: dict[str, str] = {}
        for alias, canonical in data.items():
            if isinstance(canonical, list):  # canonical: [alias, alias, …] is accepted too
                for each in canonical:
                    aliases[str(each)] = str(alias)
            elif isinstance(canonical, str | int):
                aliases[str(alias)] = str(canonical)
            else:
                raise ConfigError(
                    f"{file}: alias {alias!r}: expected a string, got {type(canonical).__name__}"
                )
        return cls(aliases)


def _from_csv(file: Path, text: str) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for line_no, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or row[0].startswith("#"):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ConfigError(f"{file}:{line_no}: expected two columns: alias,canonical")
        if line_no == 1 and row[0].strip().lower() == "alias":
            continue  # header
        aliases[row[0]] = row[1]
    return aliases
