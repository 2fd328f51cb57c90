"""Gradient-boosted oblivious decision trees for a binary label, on histograms, in numba.

Owns `GradientBoostedTrees`: quantile binning, Newton boosting of oblivious trees on the
logistic loss with sample weights, missing values routed by a learnt direction, prediction on
raw values, and the plain state used for snapshots and pickles. The feedback learner refits it
on its store of labelled rows; nothing here knows about time or labels arriving late.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numba
import numpy as np

from riskstream.errors import ModelError

__all__ = ["GradientBoostedTrees"]

_STATE_FORMAT = "riskstream.models.gbdt.GradientBoostedTrees"
_STATE_VERSION = 2  # 2: oblivious trees (1 had node-wise trees)
#: Bin 0 holds missing values (NaN); bins 1..n_edges+1 hold the values between the edges.
_MISSING = 0


@numba.njit(cache=True, nogil=True)
def _bin_kernel(X, sorted_columns, edges, n_edges, codes):
    """Cut points of each column and the bin code of each value (0 for NaN).

    With at most `n_cuts + 1` distinct values a column is cut between each two consecutive
    ones (at their midpoint, in float32); otherwise at the values of rank `k * (m - 1) //
    (n_cuts + 1)`, `k = 1..n_cuts`, of its `m` sorted values (repeated cuts merged). A value
    `x` has code `1 + (number of cuts <= x)`, so `x < cut` is the left side of a split at it.
    `sorted_columns` is `X.T` sorted along its rows (numpy's SIMD sort is the fastest one).
    """
    n_rows, n_features = X.shape
    n_cuts = edges.shape[1]
    for f in range(n_features):
        values = sorted_columns[f]  # NaNs sort last
        m = n_rows
        while m > 0 and np.isnan(values[m - 1]):
            m -= 1
        if m == 0:
            n_edges[f] = 0
            for i in range(n_rows):
                codes[i, f] = _MISSING
            continue
        distinct = 1
        for i in range(1, m):
            if values[i] != values[i - 1]:
                distinct += 1
        k = 0
        if distinct <= n_cuts + 1:
            for i in range(1, m):
                if values[i] != values[i - 1]:
                    mid = np.float32((np.float64(values[i - 1]) + np.float64(values[i])) / 2.0)
                    if mid > values[i - 1] and (k == 0 or mid > edges[f, k - 1]):
                        edges[f, k] = mid
                        k += 1
        else:
            for j in range(1, n_cuts + 1):
                cut = values[(j * (m - 1)) // (n_cuts + 1)]
                if cut > values[0] and (k == 0 or cut > edges[f, k - 1]):
                    edges[f, k] = cut
                    k += 1
        n_edges[f] = k
        for i in range(n_rows):
            v = X[i, f]
            if np.isnan(v):
                codes[i, f] = _MISSING
                continue
            lo = 0
            hi = k
            while lo < hi:  # cuts <= v
                mid_index = (lo + hi) // 2
                if edges[f, mid_index] <= v:
                    lo = mid_index + 1
                else:
                    hi = mid_index
            codes[i, f] = lo + 1


@numba.njit(cache=True, nogil=True)
def _node_histogram(codes, rows, begin, end, grad, hess, columns, out):
    """Sum gradient and hessian per (feature, bin) over the rows `rows[begin:end]`.

    Only the features in `columns` are summed (the others are left as they were: nothing
    reads them).
    """
    for f in columns:
        out[f] = 0.0
    for j in range(begin, end):
        r = rows[j]
        g = grad[r]
        h = hess[r]
        row = codes[r]
        for f in columns:
            b = row[f]
            out[f, b, 0] += g
            out[f, b, 1] += h


@numba.njit(inline="always")
def _next_random(state):
    """splitmix64: the next state and a uniform float in [0, 1) from it."""
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, nogil=True)
def _level_split(hist, n_level, n_edges, columns, l2, min_child_weight, min_gain, gains):
    """Best (feature, code, missing_left) for every node of a level at once; feature -1 if none.

    An oblivious tree splits all the nodes of a level on one rule, so the gain of a rule is
    summed over the level's nodes: for each node, G_L^2/(H_L+l2) + G_R^2/(H_R+l2) -
    G^2/(H+l2) when both sides hold at least `min_child_weight` of hessian, else 0. A rule
    sends codes 1..s left and s+1.. right, and the missing bin to the side given.
    """
    gains[:] = 0.0
    for k in range(n_level):
        for f in columns:
            g_miss = hist[k, f, _MISSING, 0]
            h_miss = hist[k, f, _MISSING, 1]
            g_tot = g_miss
            h_tot = h_miss
            n_codes = n_edges[f] + 1
            for b in range(1, n_codes + 1):
                g_tot += hist[k, f, b, 0]
                h_tot += hist[k, f, b, 1]
            if h_tot < 2 * min_child_weight or h_tot + l2 <= 0.0:
                continue
            parent = g_tot * g_tot / (h_tot + l2)
            g_left = 0.0
            h_left = 0.0
            gain_right = 0.0  # the gains of the last rule, missing values right / left
            gain_left = 0.0
            for s in range(1, n_codes):  # s = n_codes would send every value left
                if hist[k, f, s, 1] == 0.0 and s > 1:  # an empty bin: the same sides as before
                    gains[f, s, 0] += gain_right
                    gains[f, s, 1] += gain_left
                    continue
                g_left += hist[k, f, s, 0]
                h_left += hist[k, f, s, 1]
                for missing_left in range(2):
                    gl = g_left + g_miss * missing_left
                    hl = h_left + h_miss * missing_left
                    gr = g_tot - gl
                    hr = h_tot - hl
                    gain = 0.0
                    if (
                        hl >= min_child_weight
                        and hr >= min_child_weight
                        and hl + l2 > 0.0  # an empty side and no penalty: no rule
                        and hr + l2 > 0.0
                    ):
                        gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent
                    if missing_left:
                        gain_left = gain
                    else:
                        gain_right = gain
                    gains[f, s, missing_left] += gain
    best_gain = min_gain
    best_f = -1
    best_s = 0
    best_missing_left = False
    for f in columns:
        for s in range(1, n_edges[f] + 1):
            for missing_left in range(2):
                if gains[f, s, missing_left] > best_gain:
                    best_gain = gains[f, s, missing_left]
                    best_f = f
                    best_s = s
                    best_missing_left = missing_left == 1
    return best_f, best_s, best_missing_left


@numba.njit(cache=True, nogil=True)
def _fit_kernel(
    codes,
    y,
    weight,
    n_edges,
    edges,
    n_trees,
    max_depth,
    learning_rate,
    l2,
    min_child_weight,
    min_gain,
    subsample,
    colsample,
    top_rate,
    seed,
    base,
    feature,
    threshold,
    missing_left,
    value,
):
    """Boost `n_trees` oblivious trees; fills `feature`, `threshold`, `missing_left` (shape
    (n_trees, max_depth)) and `value` (shape (n_trees, 2**max_depth)).

    Each tree is grown on a random share `subsample` of the rows and `colsample` of the
    features (drawn from a splitmix64 stream seeded by `seed`); with `top_rate` > 0 the rows
    are drawn as in GOSS: the share `top_rate` with the largest gradients, and of the others
    a share `subsample`, their gradients amplified to stand for all of them. The rows of a
    node are a contiguous range of `rows` (partitioned in place at each split, stably). A
    node's histogram is summed over its rows only for the root and for the smaller child of
    a split; the larger child's is the parent's minus the smaller one's. When no rule gains
    at some level, the remaining levels send everything left (threshold +inf). Leaf values come from
    the sampled rows; every row's raw score is then updated through the tree.
    """
    n_rows, n_features = codes.shape
    max_codes = edges.shape[1] + 2
    n_nodes = 2 ** (max_depth + 1) - 1
    raw = np.full(n_rows, base)
    grad = np.empty(n_rows)
    hess = np.empty(n_rows)
    rows = np.empty(n_rows, dtype=np.int64)
    spill = np.empty(n_rows, dtype=np.int64)
    begin = np.zeros(n_nodes, dtype=np.int64)
    end = np.zeros(n_nodes, dtype=np.int64)
    split = np.zeros(max(max_depth, 1), dtype=np.int64)
    # Histograms of a level's nodes, and of the next level's (the two buffers swap roles).
    hist = np.zeros((2 ** max(max_depth - 1, 0), n_features, max_codes, 2))
    child_hist = np.zeros_like(hist)
    gains = np.zeros((n_features, max_codes, 2))
    state = np.uint64(seed)
    n_columns = max(1, round(colsample * n_features))
    columns = np.arange(n_features)
    first_leaf = 2**max_depth - 1
    magnitude = np.empty(n_rows)
    for t in range(n_trees):
        for i in range(n_rows):
            p = 1.0 / (1.0 + np.exp(-raw[i]))
            grad[i] = weight[i] * (p - y[i])
            hess[i] = max(weight[i] * p * (1.0 - p), 1e-16)
        n_sampled = 0
        if top_rate > 0.0:  # GOSS: the rows with the largest gradients, and a share of the rest
            magnitude[:] = np.abs(grad)
            n_top = min(max(int(top_rate * n_rows), 1), n_rows)
            cut = np.partition(magnitude, n_rows - n_top)[n_rows - n_top]
            keep_rest = subsample  # the probability of keeping one of the others
            amplify = 1.0 / keep_rest
            for i in range(n_rows):
                if np.abs(grad[i]) < cut:
                    state, u = _next_random(state)
                    if u >= keep_rest:
                        continue
                    grad[i] *= amplify
                    hess[i] *= amplify
                rows[n_sampled] = i
                n_sampled += 1
        else:
            for i in range(n_rows):
                if subsample < 1.0:
                    state, u = _next_random(state)
                    if u >= subsample:
                        continue
                rows[n_sampled] = i
                n_sampled += 1
        if n_columns < n_features:  # a partial Fisher-Yates shuffle picks the columns
            for k in range(n_columns):
                state, u = _next_random(state)
                m = k + int(u * (n_features - k))
                columns[k], columns[m] = columns[m], columns[k]
        chosen = np.sort(columns[:n_columns])
        begin[0] = 0
        end[0] = n_sampled
        growing = max_depth > 0
        if growing:
            _node_histogram(codes, rows, 0, n_sampled, grad, hess, chosen, hist[0])
        for depth in range(max_depth):
            level_start = 2**depth - 1
            n_level = 2**depth
            f = -1
            s = 0
            miss_left = True
            if growing:
                f, s, miss_left = _level_split(
                    hist, n_level, n_edges, chosen, l2, min_child_weight, min_gain, gains
                )
                growing = f >= 0
            if growing:
                feature[t, depth] = f
                threshold[t, depth] = edges[f, s - 1]
                missing_left[t, depth] = miss_left
            else:  # no rule gains: everything goes left from here on
                feature[t, depth] = 0
                threshold[t, depth] = np.inf
                missing_left[t, depth] = True
            split[depth] = s
            for k in range(n_level):
                node = level_start + k
                lo = begin[node]
                hi = end[node]
                n_left = 0
                n_right = 0
                if growing:
                    for j in range(lo, hi):
                        r = rows[j]
                        c = codes[r, f]
                        if (c == _MISSING and miss_left) or (c != _MISSING and c <= s):
                            rows[lo + n_left] = r
                            n_left += 1
                        else:
                            spill[n_right] = r
                            n_right += 1
                    rows[lo + n_left : hi] = spill[:n_right]
                else:
                    n_left = hi - lo
                left = 2 * node + 1
                begin[left] = lo
                end[left] = lo + n_left
                begin[left + 1] = lo + n_left
                end[left + 1] = hi
                if growing and depth + 1 < max_depth:  # the children need histograms
                    small, large = (2 * k, 2 * k + 1) if n_left <= n_right else (2 * k + 1, 2 * k)
                    small_node = 2 * level_start + 1 + small
                    _node_histogram(
                        codes,
                        rows,
                        begin[small_node],
                        end[small_node],
                        grad,
                        hess,
                        chosen,
                        child_hist[small],
                    )
                    for col in chosen:  # the larger child's is the parent's minus the smaller's
                        child_hist[large, col] = hist[k, col] - child_hist[small, col]
            if growing and depth + 1 < max_depth:
                hist, child_hist = child_hist, hist
        for leaf in range(2**max_depth):
            node = first_leaf + leaf
            g = 0.0
            h = 0.0
            for j in range(begin[node], end[node]):
                g += grad[rows[j]]
                h += hess[rows[j]]
            value[t, leaf] = -learning_rate * g / (h + l2) if h + l2 > 0.0 else 0.0
        for i in range(n_rows):
            leaf = 0
            for depth in range(max_depth):
                c = codes[i, feature[t, depth]]
                right = (c > split[depth]) if c != _MISSING else not missing_left[t, depth]
                if threshold[t, depth] == np.inf:
                    right = False
                leaf = 2 * leaf + right
            raw[i] += value[t, leaf]


@numba.njit(cache=True, nogil=True)
def _predict_kernel(X, feature, threshold, missing_left, value, base, out):
    """Raw score (log-odds) of each row: base + the leaf values of every tree.

    An oblivious tree's leaf is the binary number of its `max_depth` comparisons, so a row
    costs `n_trees * max_depth` comparisons and no data-dependent branch.
    """
    n_trees, depth = feature.shape
    for i in range(X.shape[0]):
        x_i = X[i]
        s = base
        for t in range(n_trees):
            leaf = 0
            for d in range(depth):
                x = x_i[feature[t, d]]
                right = (x >= threshold[t, d]) | (np.isnan(x) & ~missing_left[t, d])
                leaf = 2 * leaf + right
            s += value[t, leaf]
        out[i] = s


class GradientBoostedTrees:
    """Gradient-boosted oblivious decision trees for a binary label (logistic loss), in numba.

    Each feature is cut into at most `max_bins - 2` quantile edges of its non-missing values;
    each tree is *oblivious* (as CatBoost's): all the nodes of a level split on the same rule,
    the one whose second-order gain (XGBoost's, with an L2 penalty `l2` on leaf values and at
    least `min_child_weight` of hessian on each side), summed over the level's nodes, is the
    largest. A missing value (NaN) has its own bin and goes, at each level, to the side where
    the gain is larger. Sample weights scale the gradients, so class imbalance is handled by
    weighting (the caller decides the weights).

    Why oblivious trees: a row's leaf is the binary number of `max_depth` comparisons, so
    predicting costs `n_trees * max_depth` comparisons without a data-dependent branch (about
    four times faster than walking ordinary trees of the same depth, measured), and a tree is
    `max_depth` rules plus `2**max_depth` leaf values. They fit as well on our data.

    Cost: fitting is `O(n_trees * max_depth * n_rows * n_features * subsample * colsample)`
    additions (one histogram per level and pair of siblings, the other by subtraction) plus
    `O(n_trees * 2**max_depth * n_features * max_bins)` for the split search. Values are
    compared as float32 (training data is cast once), so the same row always takes the same
    path. Deterministic: sums in a fixed order, sampling from a seeded stream.

    Parameters
    ----------
    n_trees
        Number of boosting rounds.
    max_depth
        Depth of each tree (a tree has at most `2**max_depth` leaves).
    learning_rate
        Shrinkage of each tree's leaf values.
    max_bins
        Bins per feature, the missing bin included (at most 255).
    l2
        L2 penalty on leaf values.
    min_child_weight
        Least sum of hessians (weighted `p(1-p)`) on each side of a split.
    min_gain
        Least gain for a split.
    subsample, colsample
        Share of the rows and of the features each tree is grown on (stochastic gradient
        boosting: faster, and often better on noisy labels).
    top_rate
        With `top_rate` > 0, rows are sampled as in LightGBM's GOSS: every tree sees the share
        `top_rate` of the rows with the largest gradients (the hard ones: positives, and
        negatives that look like them) and a share `subsample` of the others, whose gradients
        are amplified to stand for all. On rare-event data most rows are easy negatives, so
        this keeps nearly all the information for a fraction of the cost.
    seed
        Seed of the row and feature sampling (a splitmix64 stream: same seed, same trees).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3))
    >>> y = (X[:, 0] + X[:, 1] * X[:, 2] > 1.5).astype(np.uint8)
    >>> X[::10, 2] = np.nan
    >>> model = GradientBoostedTrees(n_trees=100, max_depth=3, learning_rate=0.3).fit(X, y)
    >>> p = model.predict_proba(X)
    >>> print(f"{y.mean():.3f} {p[y == 1].mean():.3f} {p[y == 0].mean():.3f}")
    0.121 0.842 0.022
    >>> X_new = rng.normal(size=(2000, 3))  # accuracy on new rows
    >>> y_new = X_new[:, 0] + X_new[:, 1] * X_new[:, 2] > 1.5
    >>> print(f"{((model.predict_proba(X_new) > 0.5) == y_new).mean():.3f}")
    0.973

    References
    ----------
    [^1]: Friedman, J.H., 2001. Greedy function approximation: a gradient boosting machine.
        Annals of Statistics, 29(5), 1189-1232.
    [^2]: Chen, T. and Guestrin, C., 2016. XGBoost: a scalable tree boosting system. KDD '16.
        https://arxiv.org/abs/1603.02754
    [^3]: Ke, G. et al., 2017. LightGBM: a highly efficient gradient boosting decision tree.
        NeurIPS 30 (histogram-based split finding).
    [^4]: Prokhorenkova, L. et al., 2018. CatBoost: unbiased boosting with categorical
        features. NeurIPS 31 (oblivious trees).
    [^5]: Ke et al. (LightGBM, above): gradient-based one-side sampling (GOSS).

    """

    def __init__(
        self,
        n_trees: int = 100,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        max_bins: int = 64,
        l2: float = 1.0,
        min_child_weight: float = 1.0,
        min_gain: float = 0.0,
        subsample: float = 1.0,
        colsample: float = 1.0,
        top_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.n_trees = n_trees
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.max_bins = max_bins
        self.l2 = l2
        self.min_child_weight = min_child_weight
        self.min_gain = min_gain
        self.subsample = subsample
        self.colsample = colsample
        self.top_rate = top_rate
        self.seed = seed
        self._check_params()
        self._n_features = 0
        self._base = 0.0
        self._fitted = False
        self._allocate(0)

    def _check_params(self) -> None:
        for name in ("n_trees", "max_depth", "max_bins", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise ModelError(f"{name} must be an integer, got {value!r}")
        if self.n_trees < 0 or not 0 <= self.max_depth <= 16 or not 3 <= self.max_bins <= 255:
            raise ModelError("need n_trees >= 0, 0 <= max_depth <= 16 and 3 <= max_bins <= 255")
        if not 0 <= self.seed < 2**64:
            raise ModelError(f"seed must be in [0, 2**64), got {self.seed!r}")
        for name in ("subsample", "colsample"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
                raise ModelError(f"{name} must be in (0, 1], got {value!r}")
        rate = self.top_rate
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise ModelError(f"top_rate must be in [0, 1), got {rate!r}")
        for name in ("learning_rate", "l2", "min_child_weight", "min_gain"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ModelError(f"{name} must be a number >= 0, got {value!r}")

    def _allocate(self, n_trees: int) -> None:
        depth = self.max_depth
        self._feature = np.zeros((n_trees, depth), dtype=np.int32)
        self._threshold = np.full((n_trees, depth), np.inf, dtype=np.float32)
        self._missing_left = np.ones((n_trees, depth), dtype=np.bool_)
        self._value = np.zeros((n_trees, 2**depth), dtype=np.float64)

    @property
    def fitted(self) -> bool:
        """Whether `fit` has run (an unfitted model predicts its prior, 0.5)."""
        return self._fitted

    # ------------------------------------------------------------------ fitting

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> GradientBoostedTrees:
        """Fit on rows `X` (NaN = missing), labels `y` in {0, 1} and optional weights.

        Starts from the weighted log-odds of `y`; replaces any earlier fit.
        """
        X32 = self._as_rows(X, fitting=True)
        n = X32.shape[0]
        y = np.asarray(y)
        if y.shape != (n,) or not np.isin(y, (0, 1)).all():
            raise ModelError(f"y must be {n} labels in {{0, 1}}")
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
            raise ModelError(f"sample_weight must be {n} finite weights >= 0")
        n_features = X32.shape[1]
        edges = np.full((n_features, self.max_bins - 2), np.inf, dtype=np.float32)
        n_edges = np.zeros(n_features, dtype=np.int64)
        codes = np.zeros(X32.shape, dtype=np.uint8)
        _bin_kernel(X32, np.sort(X32.T, axis=1), edges, n_edges, codes)
        y64 = y.astype(np.float64)
        w_pos = float(w @ y64)
        w_all = float(w.sum())
        if w_all <= 0:
            raise ModelError("sample weights sum to 0")
        prior = min(max(w_pos / w_all, 1e-6), 1 - 1e-6)
        self._base = float(np.log(prior / (1.0 - prior)))
        self._n_features = n_features
        self._allocate(self.n_trees)
        _fit_kernel(
            codes,
            y64,
            w,
            n_edges,
            edges,
            self.n_trees,
            self.max_depth,
            float(self.learning_rate),
            float(self.l2),
            float(self.min_child_weight),
            float(self.min_gain),
            float(self.subsample),
            float(self.colsample),
            float(self.top_rate),
            int(self.seed),
            self._base,
            self._feature,
            self._threshold,
            self._missing_left,
            self._value,
        )
        self._fitted = True
        return self

    # ------------------------------------------------------------------ predicting

    def _as_rows(self, X: np.ndarray, fitting: bool = False) -> np.ndarray:
        try:  # values beyond float32's range become +-inf: the outermost bins
            with np.errstate(over="ignore"):
                X32 = np.ascontiguousarray(X, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"X must be a 2-D array of numbers: {exc}") from None
        if X32.ndim != 2 or (not fitting and self._fitted and X32.shape[1] != self._n_features):
            raise ModelError(f"X must be 2-D with {self._n_features} columns, got {X32.shape}")
        if fitting and X32.shape[0] == 0:
            raise ModelError("cannot fit on 0 rows")
        return X32

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds of the label being 1) of each row; X is not modified."""
        X32 = self._as_rows(X)
        out = np.empty(X32.shape[0], dtype=np.float64)
        _predict_kernel(
            X32, self._feature, self._threshold, self._missing_left, self._value, self._base, out
        )
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the label being 1, per row."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(X)))

    # ------------------------------------------------------------------ state

    def get_params(self) -> dict[str, Any]:
        return {
            "n_trees": self.n_trees,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "max_bins": self.max_bins,
            "l2": self.l2,
            "min_child_weight": self.min_child_weight,
            "min_gain": self.min_gain,
            "subsample": self.subsample,
            "colsample": self.colsample,
            "top_rate": self.top_rate,
            "seed": self.seed,
        }

    def get_state(self) -> dict[str, Any]:
        """Parameters and trees as plain scalars and fixed-dtype little-endian arrays."""
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            **{k: _plain(v) for k, v in self.get_params().items()},
            "fitted": self._fitted,
            "n_features": self._n_features,
            "base": self._base,
            "feature": self._feature.astype("<i4"),
            "threshold": self._threshold.astype("<f4"),
            "missing_left": self._missing_left.astype(np.bool_),
            "value": self._value.astype("<f8"),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> GradientBoostedTrees:
        """Rebuild a model from `get_state()`."""
        if state.get("format") != _STATE_FORMAT or state.get("version") != _STATE_VERSION:
            raise ModelError(
                f"not a {_STATE_FORMAT} state of version {_STATE_VERSION}: "
                f"{state.get('format')!r} version {state.get('version')!r}"
            )
        try:
            self = cls(
                n_trees=int(state["n_trees"]),
                max_depth=int(state["max_depth"]),
                learning_rate=float(state["learning_rate"]),
                max_bins=int(state["max_bins"]),
                l2=float(state["l2"]),
                min_child_weight=float(state["min_child_weight"]),
                min_gain=float(state["min_gain"]),
                subsample=float(state["subsample"]),
                colsample=float(state["colsample"]),
                top_rate=float(state["top_rate"]),
                seed=int(state["seed"]),
            )
            self._fitted = bool(state["fitted"])
            self._n_features = int(state["n_features"])
            self._base = float(state["base"])
            self._feature = np.array(state["feature"], dtype=np.int32, order="C")
            self._threshold = np.array(state["threshold"], dtype=np.float32, order="C")
            self._missing_left = np.array(state["missing_left"], dtype=np.bool_, order="C")
            self._value = np.array(state["value"], dtype=np.float64, order="C")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid {_STATE_FORMAT} state: {exc}") from exc
        shapes = {a.shape for a in (self._feature, self._threshold, self._missing_left)}
        n_trees = self._value.shape[0]
        if shapes != {(n_trees, self.max_depth)} or self._value.shape != (
            n_trees,
            2**self.max_depth,
        ):
            raise ModelError(f"invalid {_STATE_FORMAT} state: tree arrays of the wrong shapes")
        if self._feature.size and self._feature.max() >= max(self._n_features, 1):
            raise ModelError(f"invalid {_STATE_FORMAT} state: a split on an unknown column")
        return self

    def __getstate__(self) -> dict[str, Any]:
        return self.get_state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(type(self).from_state(state).__dict__)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _plain(value: Any) -> int | float:
    return int(value) if isinstance(value, int | np.integer) else float(value)
