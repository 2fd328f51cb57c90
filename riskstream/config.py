"""Engine configuration: the shipped defaults (``riskstream/data/config.yaml``) merged with a
user file, as plain nested mappings. One config builds one Engine."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from riskstream.errors import ConfigError

__all__ = ["load_config", "merge"]


def _defaults() -> dict[str, Any]:
    text = resources.files("riskstream.data").joinpath("config.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``override`` merged in, mapping by mapping.

    >>> merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}})
    {'a': {'x': 1, 'y': 3}}
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """The default config, merged with the YAML file at ``path`` and then ``overrides``.

    Relative paths inside a user file (rule files, catalogs) are resolved against the
    file's folder, so a config can travel with its rules.
    """
    config = _defaults()
    if path is not None:
        path = Path(path)
        try:
            user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config {path} is not valid YAML: {exc}") from exc
        if not isinstance(user, Mapping):
            raise ConfigError(f"config {path}: expected a mapping at the top level")
        _resolve_paths(user, path.parent)
        config = merge(config, user)
    return merge(config, overrides)


def _resolve_paths(user: Mapping[str, Any], base: Path) -> None:
    for section, key in (("rules", "path"), ("features", "catalog")):
        part = user.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), str):
            part[key] = str((base / part[key]).resolve())
