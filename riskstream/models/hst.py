"""Half-Space Trees over numpy columns, with numba kernels, scoring exactly as river's.

Owns `HalfSpaceTrees`: the tree layout (flat arrays), the score/learn kernels, the window swap,
the import from a river model and the plain state used for snapshots and pickles.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numba
import numpy as np

from riskstream.errors import ModelError

__all__ = ["HalfSpaceTrees"]

#: Identifies a state produced by `HalfSpaceTrees.get_state`; bump the version on any change.
_STATE_FORMAT = "riskstream.models.hst.HalfSpaceTrees"
_STATE_VERSION = 1
#: river's `make_padded_tree(padding=0.15)`: split points avoid the outer 15 % of a range.
_PADDING = 0.15
#: river's default range of a feature without explicit limits.
_DEFAULT_LIMITS = (0.0, 1.0)
#: Rows per block in the kernels: a block of X stays in cache while every tree walks it.
_BLOCK_ROWS = 1024
#: Scores are sums of integers held in float64 (as river does); they are exact below 2**53.
_MAX_EXACT = 2**53


_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U0 = np.uint64(0)


@numba.njit(inline="always")
def _step(x, tree, base, node, depth_pow, live, size_limit, score, learn):
    """One internal node of one walk: score it, learn it, go down; returns (child, score, live).

    `base + node` indexes the flat arrays (unsigned, so numba adds no negative-index check).
    The score adds `r_mass * 2**depth` while `live`: river stops a tree's walk after the first
    node whose `r_mass` is below `size_limit`. A NaN goes to the child with the larger `l_mass`
    (left on a tie), as river does for a key missing from x; that reads `l_mass` before this
    row is learnt below this node, for scoring and learning alike, as river does.
    """
    feature, threshold, l_mass, r_mass = tree
    k = base + node
    add = 0
    if score:
        r = r_mass[k]
        add = r * depth_pow * live
        live &= r >= size_limit
    if learn:
        l_mass[k] += 1
    value = x[np.uint64(feature[k])]
    left = _U2 * node + _U1
    if np.isnan(value):
        node = left + np.uint64(l_mass[base + left] < l_mass[base + left + _U1])
    else:
        node = left + np.uint64(not value < threshold[k])
    return node, add, live


@numba.njit(inline="always")
def _leaf(tree, base, node, depth_pow, live, score, learn):
    """The leaf that ends a walk: learn it and return its share of the score."""
    l_mass, r_mass = tree[2], tree[3]
    k = base + node
    if learn:
        l_mass[k] += 1
    if score:
        return r_mass[k] * depth_pow * live
    return 0


@numba.njit(inline="always")
def _swap(l_mass, r_mass, start, stop):
    """End of a window for the trees in [start, stop) of the flat arrays: r <- l, l <- 0."""
    r_mass[start:stop] = l_mass[start:stop]
    l_mass[start:stop] = 0


@numba.njit(inline="always")
def _walk(X, tree, n_trees, height, counter, window_size, size_limit, score, learn, out):
    """Score (summing into `out`) and/or learn every row of X in order, in every tree.

    Trees are independent and all swap windows at the same rows, so the loops run tree by tree
    over blocks of rows: a tree's arrays and a block of X stay in cache. Four trees walk in
    lock-step (a walk is a chain of dependent loads; four chains keep the core busy), the
    remaining one to three trees one at a time. `score` and `learn` are constants in each
    compiled kernel below, so the branches on them vanish. The sums are integers below 2**53,
    so summing them in float64 in any order is exact: river's sums, bit for bit.
    """
    n_rows = X.shape[0]
    n_nodes = 2 ** (height + 1) - 1
    l_mass, r_mass = tree[2], tree[3]
    for start in range(0, n_rows, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n_rows)
        t = 0
        while t < n_trees:
            group = 4 if n_trees - t >= 4 else 1
            b0 = np.uint64(t * n_nodes)
            b1 = b0 + np.uint64(n_nodes)
            b2 = b1 + np.uint64(n_nodes)
            b3 = b2 + np.uint64(n_nodes)
            count = counter
            for i in range(start, stop):
                x = X[i]
                p = 1
                n0 = n1 = n2 = n3 = _U0
                v0 = v1 = v2 = v3 = 1
                s = 0
                if group == 4:
                    for _ in range(height):
                        n0, a0, v0 = _step(x, tree, b0, n0, p, v0, size_limit, score, learn)
                        n1, a1, v1 = _step(x, tree, b1, n1, p, v1, size_limit, score, learn)
                        n2, a2, v2 = _step(x, tree, b2, n2, p, v2, size_limit, score, learn)
                        n3, a3, v3 = _step(x, tree, b3, n3, p, v3, size_limit, score, learn)
                        s += a0 + a1 + a2 + a3
                        p *= 2
                    s += _leaf(tree, b1, n1, p, v1, score, learn)
                    s += _leaf(tree, b2, n2, p, v2, score, learn)
                    s += _leaf(tree, b3, n3, p, v3, score, learn)
                else:
                    for _ in range(height):
                        n0, a0, v0 = _step(x, tree, b0, n0, p, v0, size_limit, score, learn)
                        s += a0
                        p *= 2
                s += _leaf(tree, b0, n0, p, v0, score, learn)
                if score:
                    out[i] += s
                if learn:
                    count += 1
                    if count == window_size:
                        _swap(l_mass, r_mass, t * n_nodes, (t + group) * n_nodes)
                        count = 0
            t += group
        if learn:
            counter = (counter + stop - start) % window_size


@numba.njit(inline="always")
def _finish(out, counter, first_window, window_size, max_score, learn):
    """Turn the sums in `out` into river's scores: `1 - sum / max_score`, high = anomalous.

    river's `score_one` returns 0 until its first window swap; with learning, row i is scored
    before the swap if `counter + i < window_size`.
    """
    for i in range(out.shape[0]):
        if first_window and (not learn or counter + i < window_size):
            out[i] = 0.0
        else:
            out[i] = 1.0 - out[i] / max_score


@numba.njit(cache=True, nogil=True)
def _score_learn_kernel(
    X, tree, n_trees, height, counter, first_window, window_size, max_score, out
):
    size_limit = 0.1 * window_size  # river's `size_limit`, the paper's constant
    _walk(X, tree, n_trees, height, counter, window_size, size_limit, True, True, out)
    _finish(out, counter, first_window, window_size, max_score, True)


@numba.njit(cache=True, nogil=True)
def _score_kernel(X, tree, n_trees, height, counter, first_window, window_size, max_score, out):
    size_limit = 0.1 * window_size
    _walk(X, tree, n_trees, height, counter, window_size, size_limit, True, False, out)
    _finish(out, counter, first_window, window_size, max_score, False)


@numba.njit(cache=True, nogil=True)
def _learn_kernel(X, tree, n_trees, height, counter, first_window, window_size, max_score, out):
    size_limit = 0.1 * window_size
    _walk(X, tree, n_trees, height, counter, window_size, size_limit, False, True, out)


def _grow(
    node: int,
    height: int,
    limits: dict[str, tuple[float, float]],
    column: Mapping[str, int],
    rng: random.Random,
    feature: np.ndarray,
    threshold: np.ndarray,
) -> None:
    """Fill one tree's split arrays exactly as river's `make_padded_tree` draws them.

    The same `rng` calls in the same order (feature weighted by its range, then the split point,
    then the left subtree, then the right), so a seed gives river's trees. Node `i` has children
    `2i+1` and `2i+2`.
    """
    if height == 0:
        return
    on = rng.choices(
        population=list(limits.keys()),
        weights=[limits[i][1] - limits[i][0] for i in limits],
    )[0]
    a, b = limits[on]
    at = rng.uniform(a + _PADDING * (b - a), b - _PADDING * (b - a))
    feature[node] = column[on]
    threshold[node] = at
    limits[on] = (a, at)
    _grow(2 * node + 1, height - 1, limits, column, rng, feature, threshold)
    limits[on] = (at, b)
    _grow(2 * node + 2, height - 1, limits, column, rng, feature, threshold)
    limits[on] = (a, b)


class HalfSpaceTrees:
    """Half-Space Trees (HST) over numpy arrays, scoring exactly as river's.

    A port of river's `anomaly.HalfSpaceTrees`: the same trees for the same `seed` and `limits`,
    the same window swap, the same scores to the last bit. Rows of `X` are events in order,
    columns are `feature_names`. High scores mean anomalies; scores are in [0, 1], and are 0
    for every event scored during the first window (before the first swap), as in river.

    Each tree has `2 ** (height + 1) - 1` nodes stored in flat arrays, node `i` having children
    `2i+1` and `2i+2`: split feature, split threshold, and the masses of the reference window
    (`r_mass`, used to score) and of the window being filled (`l_mass`). Every `window_size`
    learnt events the trees swap: `r_mass` takes `l_mass`, which restarts from 0. Scoring and
    learning a row cost `O(n_trees * height)`, a swap `O(n_trees * 2 ** height)`; memory is
    `32 * n_trees * 2 ** (height + 1)` bytes. Measured on one core (bench/bench_hst.py): about
    0.26 µs per event for 10 trees of height 8 (80 times river's `score_one` + `learn_one`),
    1.6 µs for 50 trees of height 10; a call costs about 2 µs more, so batch events. The numba
    kernels are compiled once per machine (about 7 s of CPU) and then loaded from numba's cache
    (under a second) at their first call in a process.

    Assumptions, as river's: each feature lies in its `limits` (values outside still score, as
    in river: they fall in the outermost half-spaces). Trees are grown when the model is built,
    from all `feature_names` (river grows them at its first `learn_one`, from the keys of that
    first `x`, in sorted order; the result is the same when those keys are `feature_names`).

    Missing values: a NaN is treated as river treats a key missing from `x`: at a split on that
    feature the walk goes down the child with the larger mass of the current window (`l_mass`),
    the left one on a tie, both to score and to learn. (river itself, given an explicit NaN,
    sends it right, since `nan < threshold` is false; we treat it as missing instead.)

    Randomness: the trees are drawn from a private `random.Random(seed)` (Python's Mersenne
    Twister, as river, never the global generator), so a seed gives river's trees; `seed=None`
    draws fresh entropy and is not replayable. After the trees are grown no randomness is used.

    Parameters
    ----------
    n_trees
        Number of trees.
    height
        Height of each tree: `height + 1` levels, `2 ** (height + 1) - 1` nodes.
    window_size
        Number of events per window: the masses used to score are those of the last full window.
    limits
        Range `(lo, hi)` of each feature, by name; features without one get `(0.0, 1.0)`.
    seed
        Random number seed for growing the trees.
    feature_names
        Names of the columns of `X`, in order.

    Examples
    --------

    >>> import numpy as np
    >>> from riskstream.models.hst import HalfSpaceTrees

    >>> rng = np.random.default_rng(7)
    >>> X = rng.normal(loc=[80.0, 14.0], scale=[15.0, 2.0], size=(600, 2))
    >>> X[-1] = [450.0, 3.0]  # a large amount at 3 a.m., beyond the limits of `amount`

    >>> hst = HalfSpaceTrees(
    ...     n_trees=10,
    ...     height=8,
    ...     window_size=250,
    ...     limits={"amount": (0.0, 200.0), "hour": (0.0, 24.0)},
    ...     seed=42,
    ...     feature_names=["amount", "hour"],
    ... )
    >>> scores = hst.score_learn_many(X)
    >>> print(scores[:250].max())  # the first window scores 0, as river
    0.0
    >>> print(f"{np.median(scores[250:-1]):.3f} {scores[-1]:.3f}")
    0.792 0.996

    The same model in river, fed the same events one dict at a time, gives the same scores:

    >>> from river import anomaly
    >>> river_hst = anomaly.HalfSpaceTrees(
    ...     n_trees=10, height=8, window_size=250,
    ...     limits={"amount": (0.0, 200.0), "hour": (0.0, 24.0)}, seed=42,
    ... )
    >>> river_scores = []
    >>> for amount, hour in X:
    ...     x = {"amount": amount, "hour": hour}
    ...     river_scores.append(river_hst.score_one(x))
    ...     river_hst.learn_one(x)
    >>> print(np.array_equal(scores, river_scores))
    True

    References
    ----------
    [^1]: Tan, S.C., Ting, K.M. and Liu, T.F., 2011. Fast anomaly detection for streaming data.
        In Twenty-Second International Joint Conference on Artificial Intelligence (IJCAI).
        https://www.ijcai.org/Proceedings/11/Papers/254.pdf
    [^2]: river, `river.anomaly.HalfSpaceTrees` (version 0.26).
        https://riverml.xyz/latest/api/anomaly/HalfSpaceTrees/

    """

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        limits: Mapping[str, tuple[float, float]] | None = None,
        seed: int | None = None,
        *,
        feature_names: Sequence[str],
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.limits = dict(limits) if limits is not None else None
        self.seed = seed
        self.feature_names = tuple(feature_names)
        self._check_params()
        self._grow_trees(random.Random(None if seed is None else int(seed)))

    # ------------------------------------------------------------------ building

    def _check_params(self) -> None:
        for name in ("n_trees", "height", "window_size"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise ModelError(f"{name} must be an integer, got {value!r}")
        if self.n_trees < 1 or self.window_size < 1 or self.height < 0:
            raise ModelError("n_trees and window_size must be >= 1 and height >= 0")
        names = self.feature_names
        if not names or len(set(names)) != len(names) or not all(isinstance(n, str) for n in names):
            raise ModelError(f"feature_names must be unique strings, at least one, got {names!r}")
        unknown = sorted(set(self.limits or ()) - set(names), key=str)
        if unknown:
            raise ModelError(f"limits name features not in feature_names: {unknown}")
        if self.seed is not None and (
            not isinstance(self.seed, int | np.integer) or isinstance(self.seed, bool)
        ):
            raise ModelError(f"seed must be an integer or None, got {self.seed!r}")
        self._limits = np.empty((len(names), 2), dtype=np.float64)
        for j, name in enumerate(names):
            pair = (self.limits or {}).get(name, _DEFAULT_LIMITS)
            try:
                lo, hi = pair
                self._limits[j] = (float(lo), float(hi))
            except (TypeError, ValueError):
                raise ModelError(
                    f"limits of {name!r} must be a pair (lo, hi), got {pair!r}"
                ) from None
            lo, hi = self._limits[j]
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise ModelError(f"limits of {name!r} must be finite with lo < hi, got {pair!r}")
        self._max_score = self.n_trees * self.window_size * (2 ** (self.height + 1) - 1)
        if self._max_score >= _MAX_EXACT:
            raise ModelError("n_trees * window_size * 2 ** (height + 1) must stay below 2 ** 53")

    def _allocate(self) -> None:
        n_nodes = 2 ** (self.height + 1) - 1
        shape = (self.n_trees, n_nodes)
        self._feature = np.full(shape, -1, dtype=np.int64)
        self._threshold = np.full(shape, np.nan, dtype=np.float64)
        self._l_mass = np.zeros(shape, dtype=np.int64)
        self._r_mass = np.zeros(shape, dtype=np.int64)
        self._flatten()
        self._counter = 0
        self._first_window = True

    def _flatten(self) -> None:
        # Flat views of the node arrays, for the kernels (which update the masses in place).
        self._tree = (
            self._feature.reshape(-1),
            self._threshold.reshape(-1),
            self._l_mass.reshape(-1),
            self._r_mass.reshape(-1),
        )

    def _grow_trees(self, rng: random.Random) -> None:
        self._allocate()
        order = sorted(self.feature_names)  # river grows from `sorted(x)`
        column = {name: j for j, name in enumerate(self.feature_names)}
        for t in range(self.n_trees):
            limits = {name: tuple(map(float, self._limits[column[name]])) for name in order}
            _grow(0, self.height, limits, column, rng, self._feature[t], self._threshold[t])

    @classmethod
    def from_river(cls, model: Any, feature_names: Sequence[str]) -> HalfSpaceTrees:
        """Copy a river `anomaly.HalfSpaceTrees`: trees, masses, window counter.

        From then on both score identically, event for event. A river model that has not
        learnt yet has no trees: they are grown here from a copy of its random state, as river
        will grow them at its first `learn_one` if that first `x` has the keys `feature_names`.

        Parameters
        ----------
        model
            A river `anomaly.HalfSpaceTrees`, built with explicit `limits`.
        feature_names
            Names of the columns of the `X` this model will be given; every split feature of
            the river trees must be among them.

        """
        from river.anomaly import HalfSpaceTrees as RiverHST
        from river.tree.padded import PaddedBranch

        if not isinstance(model, RiverHST):
            raise ModelError(f"expected river.anomaly.HalfSpaceTrees, got {type(model).__name__}")
        names = tuple(feature_names)
        self = cls.__new__(cls)
        self.n_trees = model.n_trees
        self.height = model.height
        self.window_size = model.window_size
        self.limits = {k: tuple(v) for k, v in model.limits.items() if k in names}
        self.seed = model.seed
        self.feature_names = names
        self._check_params()
        if not model.trees:
            rng = random.Random()
            rng.setstate(model.rng.getstate())
            self._grow_trees(rng)
            return self

        self._allocate()
        column = {name: j for j, name in enumerate(names)}
        for t, root in enumerate(model.trees):
            stack = [(root, 0, 0)]
            while stack:
                node, i, depth = stack.pop()
                self._l_mass[t, i] = node.l_mass
                self._r_mass[t, i] = node.r_mass
                if depth == self.height:
                    if isinstance(node, PaddedBranch):
                        raise ModelError(f"river tree {t} is deeper than height={self.height}")
                    continue
                if not isinstance(node, PaddedBranch):
                    raise ModelError(f"river tree {t} has a leaf above depth {self.height}")
                if node.feature not in column:
                    raise ModelError(f"river tree {t} splits on {node.feature!r}, not in names")
                self._feature[t, i] = column[node.feature]
                self._threshold[t, i] = node.threshold
                left, right = node.children
                stack.append((right, 2 * i + 2, depth + 1))
                stack.append((left, 2 * i + 1, depth + 1))
        self._counter = int(model.counter)
        self._first_window = bool(model._first_window)
        return self

    def clone(self) -> HalfSpaceTrees:
        """A new model with the same parameters and nothing learnt (as river's `clone`).

        With a seed, its trees are the ones this model started with.
        """
        return type(self)(  # a seed of None draws fresh trees, as river's clone would
            n_trees=self.n_trees,
            height=self.height,
            window_size=self.window_size,
            limits=self.limits,
            seed=self.seed,
            feature_names=self.feature_names,
        )

    # ------------------------------------------------------------------ scoring

    def _as_rows(self, X: np.ndarray) -> np.ndarray:
        # A copy only if X is not already C-ordered float64; X itself is never written to.
        try:
            X = np.ascontiguousarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"X must be a 2-D array of numbers: {exc}") from None
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ModelError(
                f"X must be 2-D with {len(self.feature_names)} columns "
                f"({', '.join(self.feature_names)}), got shape {X.shape}"
            )
        return X

    def _run(self, X: np.ndarray, kernel: Any, score: bool, learn: bool) -> np.ndarray:
        X = self._as_rows(X)
        n = X.shape[0]
        out = np.zeros(n if score else 0, dtype=np.float64)
        counter = self._counter
        kernel(
            X,
            self._tree,
            self.n_trees,
            self.height,
            counter,
            self._first_window,
            self.window_size,
            float(self._max_score),
            out,
        )
        if learn:
            self._counter = (counter + n) % self.window_size
            self._first_window = self._first_window and counter + n < self.window_size
        return out

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        """Score each row with the model as it stands, then learn it, row after row.

        Exactly river's `score_one(x)` then `learn_one(x)` for each row in order, window swaps
        included. Returns one float64 score per row; X is not modified.
        """
        return self._run(X, _score_learn_kernel, score=True, learn=True)

    def score_many(self, X: np.ndarray) -> np.ndarray:
        """Score each row with the model as it stands; learn nothing (a frozen snapshot)."""
        return self._run(X, _score_kernel, score=True, learn=False)

    def learn_many(self, X: np.ndarray) -> None:
        """Learn each row in order, window swaps included, as river's `learn_one` per row."""
        self._run(X, _learn_kernel, score=False, learn=True)

    # ------------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Everything the model is, as numpy arrays and plain scalars (copies).

        Arrays are C-contiguous and little-endian with fixed dtypes, so equal models give equal
        bytes. Keys: `format`, `version`, the constructor's parameters (`limits` resolved to a
        `(n_features, 2)` array in `feature_names` order; `seed` may be None), the trees
        (`feature`, `threshold`, `l_mass`, `r_mass`, shape `(n_trees, 2 ** (height + 1) - 1)`;
        leaves have feature -1 and threshold NaN), `counter` and `first_window`.
        """
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "n_trees": int(self.n_trees),
            "height": int(self.height),
            "window_size": int(self.window_size),
            "seed": None if self.seed is None else int(self.seed),
            "feature_names": np.array(self.feature_names, dtype=np.str_),
            "limits": self._limits.astype("<f8", copy=True),
            "feature": self._feature.astype("<i8", copy=True),
            "threshold": self._threshold.astype("<f8", copy=True),
            "l_mass": self._l_mass.astype("<i8", copy=True),
            "r_mass": self._r_mass.astype("<i8", copy=True),
            "counter": int(self._counter),
            "first_window": bool(self._first_window),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> HalfSpaceTrees:
        """Rebuild a model from `get_state()`; it continues exactly where the original was."""
        self = cls.__new__(cls)
        self._set_state(state)
        return self

    def _set_state(self, state: Mapping[str, Any]) -> None:
        if state.get("format") != _STATE_FORMAT or state.get("version") != _STATE_VERSION:
            raise ModelError(
                f"not a {_STATE_FORMAT} state of version {_STATE_VERSION}: "
                f"{state.get('format')!r} version {state.get('version')!r}"
            )
        try:
            self.n_trees = int(state["n_trees"])
            self.height = int(state["height"])
            self.window_size = int(state["window_size"])
            self.seed = None if state["seed"] is None else int(state["seed"])
            self.feature_names = tuple(str(n) for n in state["feature_names"])
            limits = np.asarray(state["limits"], dtype=np.float64)
            self.limits = {
                n: (float(lo), float(hi))
                for n, (lo, hi) in zip(self.feature_names, limits, strict=True)
            }
            self._check_params()
            shape = (self.n_trees, 2 ** (self.height + 1) - 1)
            arrays = {}
            for key, dtype in (
                ("feature", np.int64),
                ("threshold", np.float64),
                ("l_mass", np.int64),
                ("r_mass", np.int64),
            ):
                arrays[key] = np.array(state[key], dtype=dtype, order="C", copy=True)
                if arrays[key].shape != shape:
                    raise ModelError(f"state[{key!r}] has shape {arrays[key].shape}, not {shape}")
            counter = int(state["counter"])
            first_window = bool(state["first_window"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid {_STATE_FORMAT} state: {exc}") from exc
        n_features = len(self.feature_names)
        internal = arrays["feature"][:, : 2**self.height - 1]
        if internal.size and (internal.min() < 0 or internal.max() >= n_features):
            raise ModelError("state['feature'] refers to a column outside feature_names")
        if not 0 <= counter < self.window_size:
            raise ModelError(f"state['counter'] = {counter} is outside [0, window_size)")
        self._feature = arrays["feature"]
        self._threshold = arrays["threshold"]
        self._l_mass = arrays["l_mass"]
        self._r_mass = arrays["r_mass"]
        self._flatten()
        self._counter = counter
        self._first_window = first_window

    def __getstate__(self) -> dict[str, Any]:
        return self.get_state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._set_state(state)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_trees={self.n_trees}, height={self.height}, "
            f"window_size={self.window_size}, limits={self.limits!r}, seed={self.seed!r}, "
            f"feature_names={list(self.feature_names)!r})"
        )
