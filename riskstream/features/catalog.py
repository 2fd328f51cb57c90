"""The feature catalog: every name a rule or a model may read, with its type and entity.

The catalog is declarative (YAML shipped in ``riskstream/data/features.yaml``, overridable by
config). The rule checker type-checks expressions against it; the feature stage promises to
deliver, for every catalog entry, one numpy column per batch with this representation:

======== ============ ==============================================
type     numpy dtype  missing value
======== ============ ==============================================
number   float64      NaN (comparisons with NaN are false)
bool     bool         False (documented per feature)
string   object       None (holds ``str`` otherwise)
time     int64        never missing (event time, epoch milliseconds)
======== ============ ==============================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from riskstream.errors import ConfigError

__all__ = ["DENY_LIST_FEATURES", "FeatureCatalog", "FeatureSpec", "FeatureType"]


class FeatureType(enum.Enum):
    """The value types of the rule language and of feature columns."""

    NUMBER = "number"
    BOOL = "bool"
    STRING = "string"
    TIME = "time"


_ENTITIES = ("tx", "customer", "card", "device", "merchant", "payee")

#: The catalog's bool features no profile kernel computes: the Engine sets them from the deny
#: list that NO replies feed (`riskstream.alerts.denylist`); the card's, then the customer's.
DENY_LIST_FEATURES = ("card.blocked", "customer.held")


@dataclass(frozen=True)
class FeatureSpec:
    """One catalog entry.

    Parameters
    ----------
    name
        Dotted name used in rules (``amount``, ``customer.amount_zscore``).
    type
        Value type, see `FeatureType`.
    entity
        The entity whose profile it keys on (``tx`` for fields of the transaction itself).
    description
        One sentence for humans (`riskstream features list`).
    definition
        How it is computed, in words or as the kernel that computes it.
    """

    name: str
    type: FeatureType
    entity: str
    description: str = ""
    definition: str = ""


class FeatureCatalog(Mapping[str, FeatureSpec]):
    """An ordered, read-only mapping from feature name to `FeatureSpec`.

    Examples
    --------
    >>> catalog = FeatureCatalog.default()
    >>> catalog["amount"].type
    <FeatureType.NUMBER: 'number'>
    >>> "customer.tx_count_1h" in catalog
    True
    """

    def __init__(self, specs: list[FeatureSpec]) -> None:
        self._specs: dict[str, FeatureSpec] = {}
        for spec in specs:
            if spec.name in self._specs:
                raise ConfigError(f"feature catalog: duplicate feature {spec.name!r}")
            self._specs[spec.name] = spec

    def __getitem__(self, name: str) -> FeatureSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def type_of(self, name: str) -> FeatureType:
        return self._specs[name].type

    @classmethod
    def from_mapping(cls, data: object, source: str = "<catalog>") -> FeatureCatalog:
        """Build a catalog from parsed YAML: ``{"features": [{name, type, entity, ...}]}``."""
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise ConfigError(f"{source}: expected a mapping with a 'features' list")
        specs = [_spec_from_item(item, source) for item in data["features"]]
        return cls(specs)

    @classmethod
    def load(cls, path: str | Path) -> FeatureCatalog:
        """Read a catalog YAML file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read feature catalog {path}: {exc.strerror}") from exc
        return cls.from_mapping(yaml.safe_load(text), str(path))

    @classmethod
    def default(cls) -> FeatureCatalog:
        """The catalog shipped with the package."""
        text = resources.files("riskstream.data").joinpath("features.yaml").read_text("utf-8")
        return cls.from_mapping(yaml.safe_load(text), "riskstream/data/features.yaml")


def _spec_from_item(item: object, source: str) -> FeatureSpec:
    if not isinstance(item, dict) or "name" not in item or "type" not in item:
        raise ConfigError(f"{source}: every feature needs at least 'name' and 'type': {item!r}")
    try:
        ftype = FeatureType(item["type"])
    except ValueError:
        allowed = ", ".join(t.value for t in FeatureType)
        raise ConfigError(
            f"{source}: feature {item['name']!r} has unknown type {item['type']!r} "
            f"(allowed: {allowed})"
        ) from None
    entity = item.get("entity", "tx")
    if entity not in _ENTITIES:
        raise ConfigError(f"{source}: feature {item['name']!r} has unknown entity {entity!r}")
    return FeatureSpec(
        name=str(item["name"]),
        type=ftype,
        entity=entity,
        description=str(item.get("description", "")),
        definition=str(item.get("definition", "")),
    )
