"""Every YAML settings file (analyze config, playbook, enforcement config) fails the same way: a
ConfigError naming the file and what is wrong with it, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pushguard.config import load_pipeline_config
from pushguard.decide.enforce import load_enforcement_config
from pushguard.model import ConfigError
from pushguard.respond.playbook import load_playbook

LOADERS: list[Callable[[Path], Any]] = [load_pipeline_config, load_playbook, load_enforcement_config]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"rules: [unclosed\n", "invalid YAML"),
        (b"version: 1\nname: caf\xe9\n", "not UTF-8 text"),
    ],
)
def test_a_bad_file_is_named_with_the_reason(
    loader: Callable[[Path], Any], content: bytes | None, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "settings.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        loader(path)
    assert str(error.value).startswith(f"{path}: {message}")
