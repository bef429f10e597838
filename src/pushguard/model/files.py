"""Reading a settings file (YAML): every failure is a ``ConfigError`` that names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pushguard.model.errors import ConfigError


def read_yaml_file(path: Path) -> Any:
    """The file's YAML document (None when empty)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
