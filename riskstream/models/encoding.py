"""Feature frames to model matrices: the columns a model reads, their transforms and encodings.

Owns `FrameEncoder`: it picks named columns of a feature frame and turns them into one float64
matrix (numbers as they are or through a fixed transform, booleans as 0/1, strings one-hot over
a fixed vocabulary), with NaN for missing numbers. It is configuration only, no state learnt
from data, so the same frame always gives the same matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from riskstream.errors import ConfigError, ModelError
from riskstream.features.catalog import FeatureCatalog, FeatureType

__all__ = ["TRANSFORMS", "FrameEncoder"]


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


#: Fixed, monotone transforms of a number column (NaN stays NaN).
TRANSFORMS = {
    "none": None,
    "log1p": _signed_log1p,
}


class FrameEncoder:
    """Selects and encodes columns of a feature frame into one float64 matrix.

    Parameters
    ----------
    numbers
        Number or bool columns to read, in order, with the transform of each (``"none"`` or
        ``"log1p"``, a sign-preserving ``log(1 + |x|)``). Booleans become 0.0 / 1.0.
    categories
        String columns to one-hot encode, each with its vocabulary: one output column per
        value (``"channel=pos"``); a missing or unknown value sets none of them.

    Examples
    --------
    >>> enc = FrameEncoder({"amount": "log1p", "new_device": "none"}, {"channel": ["pos", "ecom"]})
    >>> enc.names
    ('amount', 'new_device', 'channel=pos', 'channel=ecom')
    >>> frame = {"amount": np.array([0.0, 99.0, np.nan]),
    ...          "new_device": np.array([True, False, False]),
    ...          "channel": np.array(["ecom", None, "atm"], dtype=object)}
    >>> enc.encode(frame).round(3).tolist()
    [[0.0, 1.0, 0.0, 1.0], [4.605, 0.0, 0.0, 0.0], [nan, 0.0, 0.0, 0.0]]
    """

    def __init__(
        self,
        numbers: Mapping[str, str],
        categories: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.numbers = dict(numbers)
        self.categories = {k: list(v) for k, v in (categories or {}).items()}
        for name, transform in self.numbers.items():
            if transform not in TRANSFORMS:
                raise ConfigError(
                    f"model: feature {name!r} has unknown transform {transform!r} "
                    f"(allowed: {', '.join(TRANSFORMS)})"
                )
        for name, values in self.categories.items():
            if not values or len(set(values)) != len(values):
                raise ConfigError(f"model: category {name!r} needs distinct values")
        self.names: tuple[str, ...] = (
            *self.numbers,
            *(f"{name}={value}" for name, values in self.categories.items() for value in values),
        )
        if not self.names:
            raise ConfigError("model: no input features selected")
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"model: duplicate input features in {self.names}")
        self._transformed = [
            j for j, name in enumerate(self.numbers) if TRANSFORMS[self.numbers[name]] is not None
        ]

    @property
    def columns(self) -> tuple[str, ...]:
        """The frame columns read (before one-hot encoding)."""
        return (*self.numbers, *self.categories)

    def check(self, catalog: FeatureCatalog) -> None:
        """Raise `ConfigError` if a column is not in the catalog or has the wrong type."""
        for name in self.numbers:
            if name not in catalog:
                raise ConfigError(f"model: feature {name!r} is not in the feature catalog")
            if catalog.type_of(name) not in (FeatureType.NUMBER, FeatureType.BOOL):
                raise ConfigError(f"model: feature {name!r} is not a number or bool")
        for name in self.categories:
            if name not in catalog:
                raise ConfigError(f"model: category {name!r} is not in the feature catalog")
            if catalog.type_of(name) is not FeatureType.STRING:
                raise ConfigError(f"model: category {name!r} is not a string feature")

    def encode(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        """The (n_rows, len(names)) float64 matrix of a frame; the frame is not modified."""
        try:
            numbers = [frame[name] for name in self.numbers]
            strings = [frame[name] for name in self.categories]
        except KeyError as exc:
            raise ModelError(f"feature frame lacks column {exc.args[0]!r}") from None
        n = len(numbers[0]) if numbers else len(strings[0])
        out = np.empty((n, len(self.names)), dtype=np.float64)
        k = len(numbers)
        if k:
            try:
                out[:, :k] = np.stack(numbers, axis=1)  # one pass; bools become 0.0 / 1.0
            except ValueError:
                bad = next(
                    name
                    for name, c in zip(self.numbers, numbers, strict=True)
                    if np.shape(c) != (n,)
                )
                raise ModelError(f"feature column {bad!r} is not {n} values") from None
            for j in self._transformed:
                out[:, j] = TRANSFORMS[self.numbers[self.names[j]]](out[:, j])
        j = k
        for name, column, vocabulary in zip(
            self.categories, strings, self.categories.values(), strict=True
        ):
            if np.shape(column) != (n,):
                raise ModelError(f"feature column {name!r} is not {n} values")
            for value in vocabulary:
                out[:, j] = column == value
                j += 1
        return out

    def get_state(self) -> dict[str, Any]:
        """Columns and transforms as lists of pairs (snapshots sort mapping keys; order matters)."""
        return {
            "numbers": [[name, transform] for name, transform in self.numbers.items()],
            "categories": [[name, list(values)] for name, values in self.categories.items()],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> FrameEncoder:
        try:
            numbers = {str(name): str(transform) for name, transform in state["numbers"]}
            categories = {str(name): list(values) for name, values in state["categories"]}
            return cls(numbers, categories)
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ModelError(f"invalid encoder state: {exc}") from exc

    def __repr__(self) -> str:
        return f"FrameEncoder({self.numbers!r}, {self.categories!r})"
