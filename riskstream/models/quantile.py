"""The running empirical quantile of a score: where a new score ranks among recent ones.

Owns `RunningQuantile`, a histogram of recent scores that decays with event time; it turns a
raw anomaly score, whose scale drifts as the model relearns, into a rank in [0, 1] whose
meaning ("higher than 99.7 % of recent transactions") stays the same from day to day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from riskstream.errors import ModelError

__all__ = ["RunningQuantile"]

_STATE_FORMAT = "riskstream.models.quantile.RunningQuantile"
_STATE_VERSION = 1


class RunningQuantile:
    """The rank of a score among recent scores, from a histogram with event-time decay.

    Scores are counted in `n_bins` equal bins over `[lo, hi]` (a score outside falls in the
    first or last bin). `decay(elapsed_ms)` multiplies every count by
    `0.5 ** (elapsed_ms / half_life_ms)`, so the histogram describes roughly the last few
    half-lives. `rank(x)` is the mid-rank of `x`: the weight of the counted scores in lower bins
    plus half the weight in its own bin, over the total, in [0, 1]; NaN while the total weight
    is below `min_count` (too few scores to rank against) and for a NaN score.

    Cost: `update` and `rank` are `O(n)` numpy passes for n scores (`rank` reads a cumulative
    sum that `freeze` computes once); memory is `n_bins` float64. Resolution: scores closer
    than `(hi - lo) / n_bins` get the same rank.

    Parameters
    ----------
    n_bins
        Number of histogram bins.
    lo, hi
        Range of the scores (Half-Space Trees scores are in [0, 1]).
    half_life_ms
        Half-life of a counted score, in event-time milliseconds.
    min_count
        Least total weight before `rank` returns numbers.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> q = RunningQuantile(n_bins=1000, min_count=100)
    >>> q.update(rng.beta(8, 2, size=5000))
    >>> q.freeze()
    >>> q.rank(np.array([0.5, 0.8, 0.99, np.nan])).round(3).tolist()
    [0.021, 0.435, 0.996, nan]
    >>> q.decay(q.half_life_ms)
    >>> print(q.total)
    2500.0

    References
    ----------
    [^1]: Hyndman, R.J. and Fan, Y., 1996. Sample quantiles in statistical packages. The
        American Statistician, 50(4), 361-365 (mid-ranks of a step distribution).

    """

    def __init__(
        self,
        n_bins: int = 4096,
        lo: float = 0.0,
        hi: float = 1.0,
        half_life_ms: int = 7 * 86_400_000,
        min_count: float = 1000.0,
    ) -> None:
        self.n_bins = n_bins
        self.lo = lo
        self.hi = hi
        self.half_life_ms = half_life_ms
        self.min_count = min_count
        if not isinstance(n_bins, int) or n_bins < 2:
            raise ModelError(f"n_bins must be an integer >= 2, got {n_bins!r}")
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ModelError(f"need finite lo < hi, got {lo!r}, {hi!r}")
        if not half_life_ms > 0 or not min_count >= 0:
            raise ModelError("half_life_ms must be > 0 and min_count >= 0")
        self._counts = np.zeros(n_bins, dtype=np.float64)
        # Scores counted since the last decay or freeze, as exact integers: added to the
        # decayed counts only then, so the sums do not depend on how the scores were batched.
        self._fresh = np.zeros(n_bins, dtype=np.int64)
        self._below = np.zeros(n_bins, dtype=np.float64)  # frozen: weight below each bin
        self._frozen_counts = np.zeros(n_bins, dtype=np.float64)
        self._frozen_total = 0.0

    @property
    def total(self) -> float:
        """Total weight counted (decayed)."""
        return float(self._folded().sum())

    def _folded(self) -> np.ndarray:
        return self._counts + self._fresh if self._fresh.any() else self._counts

    def _fold(self) -> None:
        self._counts = self._folded()
        self._fresh[:] = 0

    def _bins(self, x: np.ndarray) -> np.ndarray:
        scaled = (x - self.lo) * (self.n_bins / (self.hi - self.lo))
        scaled[~(scaled >= 0.0)] = 0.0  # below the range, and NaN (ranked apart)
        np.minimum(scaled, self.n_bins - 1, out=scaled)
        return scaled.astype(np.int64)

    def update(self, x: np.ndarray) -> None:
        """Count the (non-NaN) scores `x`; `rank` sees them after the next `freeze`."""
        x = np.asarray(x, dtype=np.float64)
        x = x[~np.isnan(x)]
        self._fresh += np.bincount(self._bins(x), minlength=self.n_bins)

    def decay(self, elapsed_ms: float) -> None:
        """Age the counts by `elapsed_ms` of event time."""
        if elapsed_ms > 0:
            self._fold()
            self._counts *= 0.5 ** (elapsed_ms / self.half_life_ms)

    def freeze(self) -> None:
        """Make `rank` use the counts as they are now (a frozen snapshot of the histogram)."""
        self._fold()
        self._set_frozen(self._counts.copy())

    def _set_frozen(self, frozen: np.ndarray) -> None:
        cumulative = np.cumsum(frozen)
        self._frozen_counts = frozen
        self._below = cumulative - frozen
        self._frozen_total = float(cumulative[-1])  # the same sum as the ranks', so rank <= 1

    @property
    def ready(self) -> bool:
        """Whether the frozen histogram holds at least `min_count`."""
        return self._frozen_total >= self.min_count and self._frozen_total > 0

    def rank(self, x: np.ndarray) -> np.ndarray:
        """Mid-rank in [0, 1] of each score among the frozen counts (NaN: not ready / NaN)."""
        x = np.asarray(x, dtype=np.float64)
        if not self.ready:
            return np.full(x.shape, np.nan)
        b = self._bins(x)
        out = (self._below[b] + 0.5 * self._frozen_counts[b]) / self._frozen_total
        out[np.isnan(x)] = np.nan
        return out

    # ------------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Parameters, live counts and frozen counts (plain scalars and float64 arrays)."""
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "n_bins": int(self.n_bins),
            "lo": float(self.lo),
            "hi": float(self.hi),
            "half_life_ms": float(self.half_life_ms),
            "min_count": float(self.min_count),
            "counts": self._folded().astype("<f8"),
            "frozen_counts": self._frozen_counts.astype("<f8"),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunningQuantile:
        if state.get("format") != _STATE_FORMAT or state.get("version") != _STATE_VERSION:
            raise ModelError(
                f"not a {_STATE_FORMAT} state of version {_STATE_VERSION}: "
                f"{state.get('format')!r} version {state.get('version')!r}"
            )
        try:
            self = cls(
                int(state["n_bins"]),
                float(state["lo"]),
                float(state["hi"]),
                float(state["half_life_ms"]),
                float(state["min_count"]),
            )
            counts = np.array(state["counts"], dtype=np.float64)
            frozen = np.array(state["frozen_counts"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid {_STATE_FORMAT} state: {exc}") from exc
        if counts.shape != (self.n_bins,) or frozen.shape != (self.n_bins,):
            raise ModelError(f"invalid {_STATE_FORMAT} state: counts of the wrong shape")
        self._counts = counts
        self._set_frozen(frozen)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return self.get_state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(type(self).from_state(state).__dict__)

    def __repr__(self) -> str:
        return (
            f"RunningQuantile(n_bins={self.n_bins}, lo={self.lo}, hi={self.hi}, "
            f"half_life_ms={self.half_life_ms}, min_count={self.min_count})"
        )
