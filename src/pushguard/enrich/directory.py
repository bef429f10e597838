"""A directory export: who is who across IdPs, as an organisation's directory (HR, the IdP of record)
lists it. JSON (a list, or ``{"people": [...]}``) of ``{"person": ..., "emails": [...], "usernames":
{"duo": [...], "okta": "...", ...}}``, or CSV with the columns ``person,emails,okta,entra,duo,ocsf``
(several values in a cell separated by ``;`` or spaces; the IdP columns are optional).

A person is named by their first address (the Okta login / Entra UPN usually is), else by ``person``. An
address or a username two people claim is reported and linked to neither."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from pushguard.enrich.resolver import Conflict, Link
from pushguard.model import ConfigError, Provider
from pushguard.model.files import read_text_file

_IDPS = tuple(p.value for p in (Provider.OKTA, Provider.ENTRA, Provider.DUO, Provider.OCSF))
DIRECTORY_HOW = "directory"


def _values(value: Any, where: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip().lower() for v in value.replace(";", " ").split() if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip().lower() for v in value if v.strip()]
    raise ConfigError(f"{where}: expected a string or a list of strings, got {type(value).__name__}")


def _rows_from_json(file: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: invalid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("people")
    if not isinstance(data, list):
        raise ConfigError(f'{file}: a directory is a list of people (or {{"people": [...]}})')
    rows = []
    for index, person in enumerate(data, start=1):
        where = f"{file}: person {index}"
        if not isinstance(person, dict):
            raise ConfigError(f"{where}: expected an object, got {type(person).__name__}")
        usernames = person.get("usernames") or {}
        if not isinstance(usernames, dict):
            raise ConfigError(f"{where}: usernames: expected an object of IdP: names")
        rows.append((where, {"person": person.get("person"), "emails": person.get("emails"), **usernames}))
    return rows


def _rows_from_csv(file: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    fields = [f.strip().lower() for f in reader.fieldnames or ()]
    if "person" not in fields or "emails" not in fields:
        raise ConfigError(f"{file}: the header must name at least the columns person,emails")
    reader.fieldnames = fields
    return [(f"{file}:{index + 2}", dict(row)) for index, row in enumerate(reader)]


def load_directory(path: str | Path) -> tuple[list[Link], list[Conflict]]:
    """The directory's links (account or address → person) and the claims two people make."""
    file = Path(path)
    text = read_text_file(file, "directory")
    rows = _rows_from_csv(file, text) if file.suffix.lower() == ".csv" else _rows_from_json(file, text)
    owners: dict[str, set[str]] = {}  # account or address → the people who list it
    for where, row in rows:
        emails = _values(row.get("emails"), f"{where}: emails")
        name = str(row.get("person") or "").strip().lower()
        person = emails[0] if emails else name
        if not person:
            raise ConfigError(f"{where}: a person needs a person name or an address")
        for address in emails:
            owners.setdefault(address, set()).add(person)
        for idp in _IDPS:
            for login in _values(row.get(idp), f"{where}: {idp}"):
                owners.setdefault(f"{idp}|{login}", set()).add(person)
        unknown = set(row) - {"person", "emails", *_IDPS}
        if unknown:
            raise ConfigError(f"{where}: unknown IdP {sorted(unknown)[0]!r} (one of {', '.join(_IDPS)})")
    links: list[Link] = []
    conflicts: list[Conflict] = []
    for account, people in sorted(owners.items()):
        if len(people) > 1:
            conflicts.append(
                Conflict(
                    subject=account, claims=sorted(people), how="directory: two people", record=str(file)
                )
            )
            continue
        person = next(iter(people))
        login = account.split("|", 1)[1] if "|" in account else account
        if login != person:
            links.append(Link(account=account, person=person, how=DIRECTORY_HOW, record=str(file)))
    return links, conflicts
