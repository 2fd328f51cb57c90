"""The model stage of the Engine: what it returns per batch, and how the Engine builds it.

A model stage scores a feature frame with frozen snapshots and learns into the next ones; it
receives labels only once their ``label_time`` has passed in event time (the Engine sees to
that). ``risk`` is the one model-side number the decision policy combines with the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from riskstream.errors import ConfigError
from riskstream.features.catalog import FeatureCatalog
from riskstream.features.stage import DueLabels, LabelBatch

__all__ = ["MODEL_KINDS", "ModelScores", "ModelStage", "build_model_stage"]


@dataclass
class ModelScores:
    """Per-transaction model outputs of one batch.

    ``anomaly`` is the unsupervised score (recorded as ``model_score``), ``fraud_probability``
    the supervised learner's output (NaN before it has learnt anything), ``risk`` their
    combination in [0, 1] that the decision policy uses. ``snapshots`` lists, when the rows
    were scored with more than the stage's current ``snapshot_id`` (a rotation inside the
    batch), each run of rows as (first row, snapshot id); empty means one snapshot.
    """

    anomaly: np.ndarray
    fraud_probability: np.ndarray
    risk: np.ndarray
    snapshots: tuple[tuple[int, str], ...] = ()


class ModelStage(Protocol):
    snapshot_id: str

    def score(
        self, frame: Mapping[str, np.ndarray], labels: DueLabels | None = None
    ) -> ModelScores: ...

    def learn(self, frame: Mapping[str, np.ndarray]) -> None: ...

    def apply_labels(self, labels: LabelBatch) -> None: ...


def _build_heuristic(section: Mapping[str, Any], catalog: FeatureCatalog) -> ModelStage:
    from riskstream.models.heuristic import HeuristicScore

    return HeuristicScore()


def _build_online(section: Mapping[str, Any], catalog: FeatureCatalog) -> ModelStage:
    from riskstream.models.config import build_online_stage

    return build_online_stage(section, catalog)


#: The model stages ``model.kind`` can name, each built from the ``model`` section and the
#: catalog. The shared contract test (tests/models/test_contract.py) runs over all of them.
MODEL_KINDS: dict[str, Callable[[Mapping[str, Any], FeatureCatalog], ModelStage]] = {
    "online": _build_online,
    "heuristic": _build_heuristic,
}


def build_model_stage(config: Mapping[str, Any], catalog: FeatureCatalog) -> ModelStage:
    """The model stage the Engine uses, as the config's ``model`` section asks.

    ``model.kind``: ``online`` (the default: Half-Space Trees + feedback learner, see
    `riskstream.models.config` for every key) or ``heuristic`` (the foundation's stand-in).
    """
    section = config.get("model") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"model: expected a mapping, got {section!r}")
    kind = section.get("kind", "online")
    try:
        build = MODEL_KINDS[kind]
    except (KeyError, TypeError):
        known = ", ".join(MODEL_KINDS)
        raise ConfigError(f"model: unknown kind {kind!r} (known: {known})") from None
    return build(section, catalog)
