"""The foundation's stand-in anomaly score: unusual amount or unusual velocity for the customer.

It needs no training and no labels, so it works from the first transaction; the Half-Space
Trees model replaces it as the default anomaly model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from riskstream.models.stage import ModelScores

__all__ = ["HeuristicScore"]


class HeuristicScore:
    """Score in [0, 1] from the amount z-score and the 1-hour velocity of the customer.

    ``1 - (1 - s_amount) * (1 - s_velocity)`` with logistic ramps centred on a z-score of 3
    and on 6 transactions in the last hour; missing features contribute nothing.

    Examples
    --------
    >>> model = HeuristicScore()
    >>> frame = {"customer.amount_zscore": np.array([0.0, 5.0, np.nan]),
    ...          "customer.tx_count_1h": np.array([1.0, 1.0, 12.0])}
    >>> model.score(frame).risk.round(3).tolist()
    [0.018, 0.953, 0.998]
    """

    snapshot_id = "heuristic-v1"

    def score(self, frame: Mapping[str, np.ndarray], labels: object = None) -> ModelScores:
        z = np.nan_to_num(frame["customer.amount_zscore"], nan=-10.0)
        velocity = np.nan_to_num(frame["customer.tx_count_1h"], nan=0.0)
        s_amount = 1.0 / (1.0 + np.exp(-1.5 * (z - 3.0)))
        s_velocity = 1.0 / (1.0 + np.exp(-(velocity - 6.0)))
        anomaly = 1.0 - (1.0 - s_amount) * (1.0 - s_velocity)
        return ModelScores(anomaly, np.full(len(anomaly), np.nan), anomaly)

    def learn(self, frame: Mapping[str, np.ndarray]) -> None:
        """Nothing to learn: the habits live in the profiles."""

    def apply_labels(self, labels: object) -> None:
        """Labels are for the feedback learner of the models issue."""
