"""One loader for settings: a YAML file, then ``PUSHGUARD_*`` environment variables over it, typed by a
msgspec Struct. The command line (``--config``) and the service (``serve``, ``worker``) read the same
``detectors:`` and ``organisation:`` sections through it, and every detector tunable is checked against
its declared range here, once, before any pipeline is built.

Every error names where the bad value came from (the file and the key, or the variable) and what is
allowed; a secret's value is never echoed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from pushguard.detect import META_BY_ID
from pushguard.detect.base import settings
from pushguard.detect.org import OrgTrust
from pushguard.model import ConfigError, Provider
from pushguard.model.files import read_yaml_file
from pushguard.report.posture import PostureConfig, posture_config

T = TypeVar("T", bound=msgspec.Struct)


class PipelineConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What builds a pipeline (``flow.Flow``): the same for every command and the service."""

    detectors: Mapping[str, Any] = {}  # id → {tunable: value} | false; checked against each range
    organisation: OrgTrust | None = None  # the organisation's own networks, known from the first day
    aliases: str | None = None  # alias map (CSV alias,canonical or YAML)
    geoip_city: str | None = None  # MaxMind GeoIP2/GeoLite2 City .mmdb
    geoip_asn: str | None = None  # MaxMind GeoLite2 ASN .mmdb
    provider: Provider | None = None  # every record is of this vendor (None: told per record)
    directory: str | None = None  # a directory export linking a person's accounts (enrich.directory)
    link: bool = True  # link accounts from the records' own fields (emails, immutable ids)
    posture: PostureConfig = PostureConfig()  # privileged apps, admins, approved exceptions


class PipelineFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The ``--config`` file as written (``organisation`` stays raw until checked)."""

    detectors: dict[str, Any] = {}
    organisation: dict[str, Any] | None = None
    aliases: str | None = None
    geoip_city: str | None = None
    geoip_asn: str | None = None
    directory: str | None = None
    posture: dict[str, Any] | None = None


PIPELINE_ENV = {
    "PUSHGUARD_ALIASES": "aliases",
    "PUSHGUARD_DIRECTORY": "directory",
    "PUSHGUARD_GEOIP_CITY": "geoip_city",
    "PUSHGUARD_GEOIP_ASN": "geoip_asn",
}


def load_settings(
    cls: type[T],
    path: str | Path | None,
    env_names: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    secrets: frozenset[str] = frozenset(),
) -> tuple[T, str]:
    """``cls`` from the file (if any), then the environment variables named in ``env_names`` (variable →
    setting) over it; also where the values came from ("<file> and PUSHGUARD_X", or "defaults")."""
    raw: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml_file(Path(path))
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings")
        raw = dict(loaded or {})
        try:
            msgspec.convert(raw, cls)  # the file alone: its errors name the file
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{path}: {_field_error(cls, exc)}") from None
    env = os.environ if environ is None else environ
    used = []
    for name, field in env_names.items():
        if name in env:
            raw[field] = _from_env(cls, name, field, env[name], field in secrets)
            used.append(name)
    where = " and ".join(([str(path)] if path is not None else []) + used) or "defaults"
    return msgspec.convert(raw, cls), where


def check_detectors(section: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """The ``detectors:`` section, every tunable within its range; the error names ``where`` (the file),
    the key (``detectors.<id>.<tunable>``) and the allowed range."""
    section = section or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: 'detectors' must be a mapping of detector id to settings")
    unknown = set(section) - set(META_BY_ID)
    if unknown:
        known = ", ".join(sorted(META_BY_ID))
        raise ConfigError(
            f"{where}: unknown detector(s) in config: {', '.join(sorted(unknown))} (known: {known})"
        )
    for detector_id, entry in section.items():
        if entry is None or isinstance(entry, bool):
            continue
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: detectors.{detector_id}: expected a mapping of tunables or false")
        try:
            settings(META_BY_ID[detector_id], {k: v for k, v in entry.items() if k != "enabled"})
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return dict(section)


def check_organisation(section: object, where: str) -> OrgTrust:
    try:
        return OrgTrust.parse(section, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def load_pipeline_config(
    path: str | Path | None,
    environ: Mapping[str, str] | None = None,
    **given: Any,
) -> PipelineConfig:
    """The ``--config`` file and ``PUSHGUARD_ALIASES`` / ``PUSHGUARD_GEOIP_CITY`` / ``PUSHGUARD_GEOIP_ASN``;
    ``given`` (command-line options: aliases, geoip_city, geoip_asn, provider) win over both when set."""
    raw, where = load_settings(PipelineFile, path, PIPELINE_ENV, environ)
    config = pipeline_config(
        raw.detectors, raw.organisation, where, aliases=raw.aliases, posture_section=raw.posture
    )
    chosen = {"geoip_city": raw.geoip_city, "geoip_asn": raw.geoip_asn, "directory": raw.directory}
    chosen.update({k: str(v) if isinstance(v, Path) else v for k, v in given.items() if v is not None})
    return msgspec.structs.replace(config, **chosen)


def pipeline_config(
    detectors: Mapping[str, Any] | None,
    organisation: object,
    where: str,
    posture_section: object = None,
    **more: Any,
) -> PipelineConfig:
    """A checked PipelineConfig from raw sections (the service's file has them among its settings). The
    posture section's approved exceptions also exempt those accounts from ``assurance_gap``, unless its
    own ``exempt_accounts`` is set."""
    trust = check_organisation(organisation, where) if organisation is not None else None
    try:
        posture = posture_config(posture_section)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if isinstance(detectors, Mapping):
        detectors = _with_exceptions(dict(detectors), posture)
    checked = check_detectors(detectors, where)
    return PipelineConfig(detectors=checked, organisation=trust, posture=posture, **more)


def _with_exceptions(detectors: dict[str, Any], posture: PostureConfig) -> dict[str, Any]:
    gap = detectors.get("assurance_gap", {})
    if not posture.exceptions or not isinstance(gap, dict) or "exempt_accounts" in gap:
        return detectors
    return {**detectors, "assurance_gap": {**gap, "exempt_accounts": ",".join(sorted(posture.exceptions))}}


def _from_env(cls: type[T], name: str, field: str, text: str, secret: bool) -> Any:
    """One variable's value, typed as its setting (text → int, float, enum); the error names it."""
    try:
        typed = msgspec.convert({field: text}, cls, strict=False)
    except msgspec.ValidationError as exc:
        shown = "" if secret else f"={text!r}"
        raise ConfigError(f"environment {name}{shown}: {str(exc).split(' - at ')[0]}") from None
    return getattr(typed, field)


def _field_error(cls: type[msgspec.Struct], exc: msgspec.ValidationError) -> str:
    """msgspec says 'Expected `int`, got `str` - at `$.max_body_bytes`': put the setting first."""
    message, _, at = str(exc).partition(" - at ")
    setting = at.strip("`").removeprefix("$.")
    if "Object contains unknown field" in message:
        known = ", ".join(cls.__struct_fields__)
        return f"{message.split('`')[1] if '`' in message else message}: unknown setting (known: {known})"
    return f"{setting}: {message}" if setting else message
