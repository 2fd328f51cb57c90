"""HalfSpaceTrees: score-equal to river's, deterministic, snapshots and pickles that continue."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import anomaly

from riskstream.errors import ModelError
from riskstream.models import HalfSpaceTrees

# Columns deliberately not in sorted order: trees are grown from the sorted names, as river does.
NAMES = ["hour", "amount", "velocity", "dist"]
LIMITS = {"amount": (0.0, 200.0), "hour": (0.0, 24.0), "velocity": (0.0, 10.0), "dist": (-5, 5)}


def make_stream(n: int, seed: int = 0, nan_rate: float = 0.0) -> np.ndarray:
    """Events with drift, outliers and values outside LIMITS (and NaNs if asked)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / n
    hour = (9.0 + 6.0 * t + rng.normal(0.0, 2.0, n)) % 24.0  # drifts later in the day
    amount = 40.0 + 60.0 * t + rng.gamma(2.0, 10.0, n)  # drifts up, heavy tail past 200
    velocity = rng.poisson(2.0 + 3.0 * (t > 0.5), n).astype(float)  # a step change
    dist = rng.normal(0.0, 1.0 + t, n)
    X = np.column_stack([hour, amount, velocity, dist])
    outliers = rng.random(n) < 0.01
    X[outliers] *= rng.choice([-3.0, 5.0, 20.0], size=(outliers.sum(), 1))
    X[rng.random(n) < 0.002, 1] = 1e6  # far beyond the limits
    if nan_rate:
        # Row 0 keeps every key: river grows its trees from the keys of its first x.
        X[1:][rng.random((n - 1, X.shape[1])) < nan_rate] = np.nan
    return X


def river_run(model: anomaly.HalfSpaceTrees, X: np.ndarray, learn: bool = True) -> np.ndarray:
    """river's score_one (then learn_one) per row; a NaN is a key absent from x."""
    out = np.empty(len(X))
    for i, row in enumerate(X.tolist()):
        x = {name: v for name, v in zip(NAMES, row, strict=True) if v == v}
        out[i] = model.score_one(x)
        if learn:
            model.learn_one(x)
    return out


def river_hst(n_trees: int, height: int, window_size: int, seed: int) -> anomaly.HalfSpaceTrees:
    return anomaly.HalfSpaceTrees(
        n_trees=n_trees, height=height, window_size=window_size, limits=LIMITS, seed=seed
    )


def ours(n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int = 1):
    return HalfSpaceTrees(
        n_trees=n_trees,
        height=height,
        window_size=window_size,
        limits=LIMITS,
        seed=seed,
        feature_names=NAMES,
    )


def in_batches(model: HalfSpaceTrees, X: np.ndarray, sizes: list[int]) -> np.ndarray:
    """score_learn_many over consecutive batches of the given sizes (the rest in one batch)."""
    out, start = [], 0
    for size in [*sizes, len(X)]:
        out.append(model.score_learn_many(X[start : start + size]))
        start += size
    return np.concatenate(out)


def assert_same_state(a: HalfSpaceTrees, b: HalfSpaceTrees) -> None:
    sa, sb = a.get_state(), b.get_state()
    assert sa.keys() == sb.keys()
    for key in sa:
        if isinstance(sa[key], np.ndarray):
            np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)
        else:
            assert sa[key] == sb[key], key


def state_digest(model: HalfSpaceTrees) -> str:
    h = hashlib.sha256()
    for key, value in sorted(model.get_state().items()):
        h.update(key.encode())
        h.update(value.tobytes() if isinstance(value, np.ndarray) else repr(value).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------- equality with river


@pytest.mark.parametrize(
    ("n_trees", "height", "window_size", "n_events"),
    [(10, 8, 250, 20_000), (25, 6, 100, 20_000), (3, 10, 1000, 20_000)],
)
def test_scores_equal_river_over_a_drifting_stream(n_trees, height, window_size, n_events):
    X = make_stream(n_events, seed=n_trees)
    expected = river_run(river_hst(n_trees, height, window_size, seed=7), X)

    got = ours(n_trees, height, window_size, seed=7).score_learn_many(X)

    assert got.dtype == np.float64 and got.shape == (n_events,)
    assert np.abs(got - expected).max() <= 1e-9
    np.testing.assert_array_equal(got, expected)  # in fact bit for bit
    assert np.all(got[:window_size] == 0.0)  # river scores 0 before its first swap
    assert np.all((got >= 0.0) & (got <= 1.0))
    assert got[window_size:].std() > 0.01  # the stream is not trivially scored


def test_batch_boundaries_do_not_matter():
    X = make_stream(6000, seed=3)
    whole = ours(window_size=100).score_learn_many(X)
    sizes = [1, 1, 7, 99, 100, 1, 250, 1023, 1025, 2048, 3]
    np.testing.assert_array_equal(in_batches(ours(window_size=100), X, sizes), whole)
    np.testing.assert_array_equal(river_run(river_hst(10, 8, 100, seed=1), X), whole)


def test_nan_is_treated_as_a_key_missing_from_x():
    X = make_stream(5000, seed=5, nan_rate=0.05)
    expected = river_run(river_hst(10, 6, 100, seed=2), X)
    got = in_batches(ours(10, 6, 100, seed=2), X, [1, 50, 777])
    np.testing.assert_array_equal(got, expected)


def test_from_river_copies_a_model_that_has_learnt():
    X = make_stream(4000, seed=11)
    river_model = river_hst(10, 8, 250, seed=None)  # unseeded: only a copy can match it
    river_run(river_model, X[:1130])
    model = HalfSpaceTrees.from_river(river_model, NAMES)
    assert model.get_state()["counter"] == 1130 % 250

    np.testing.assert_array_equal(
        model.score_many(X[1130:]), river_run(river_model, X[1130:], False)
    )
    got = model.score_learn_many(X[1130:])
    np.testing.assert_array_equal(got, river_run(river_model, X[1130:]))


def test_from_river_mid_first_window_and_before_learning():
    X = make_stream(1000, seed=12)
    fresh = river_hst(5, 5, 300, seed=9)
    # Not learnt yet: the trees are grown from a copy of river's random state.
    assert_same_state(HalfSpaceTrees.from_river(fresh, NAMES), ours(5, 5, 300, seed=9))
    river_run(fresh, X[:120])
    model = HalfSpaceTrees.from_river(fresh, NAMES)
    got = model.score_learn_many(X[120:])
    np.testing.assert_array_equal(got, river_run(fresh, X[120:]))
    assert np.all(got[:180] == 0.0) and np.all(got[180:] > 0.0)


def test_from_river_rejects_splits_on_unknown_columns():
    river_model = river_hst(3, 4, 50, seed=1)
    river_model.learn_one(dict(zip(NAMES, make_stream(1)[0].tolist(), strict=True)))
    with pytest.raises(ModelError, match="not in"):
        HalfSpaceTrees.from_river(river_model, ["amount", "hour"])


@settings(max_examples=40, deadline=None)
@given(
    n_trees=st.integers(1, 4),
    height=st.integers(0, 5),
    window_size=st.integers(1, 30),
    seed=st.integers(0, 2**32),
    n_events=st.integers(0, 150),
    nan_rate=st.sampled_from([0.0, 0.2]),
    cut=st.integers(0, 150),
)
def test_small_models_equal_river(n_trees, height, window_size, seed, n_events, nan_rate, cut):
    X = make_stream(n_events + 2, seed=seed % 1000, nan_rate=nan_rate)
    expected = river_run(river_hst(n_trees, height, window_size, seed=seed), X)
    got = in_batches(ours(n_trees, height, window_size, seed=seed), X, [cut])
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------- determinism and state


def test_same_seed_same_model_other_seed_other_trees():
    X = make_stream(2000, seed=4)
    a, b, c = ours(seed=5), ours(seed=5), ours(seed=6)
    assert state_digest(a) == state_digest(b) != state_digest(c)
    np.testing.assert_array_equal(a.score_learn_many(X), b.score_learn_many(X))
    assert state_digest(a) == state_digest(b)


def test_column_order_does_not_change_the_trees():
    X = make_stream(1500, seed=8)
    order = [2, 0, 3, 1]
    shuffled = HalfSpaceTrees(
        limits=LIMITS, seed=1, feature_names=[NAMES[j] for j in order], window_size=100
    )
    np.testing.assert_array_equal(
        shuffled.score_learn_many(X[:, order]), ours(window_size=100).score_learn_many(X)
    )


@pytest.mark.parametrize("how", ["state", "pickle"])
def test_round_trip_continues_identically(how):
    X = make_stream(3000, seed=9, nan_rate=0.01)
    model = ours(window_size=200)
    model.score_learn_many(X[:1111])
    if how == "state":
        state = model.get_state()
        copy = HalfSpaceTrees.from_state(state)
        assert all(v.flags.c_contiguous for v in state.values() if isinstance(v, np.ndarray))
    else:
        copy = pickle.loads(pickle.dumps(model))
    assert_same_state(copy, model)
    assert state_digest(copy) == state_digest(model)
    np.testing.assert_array_equal(copy.score_learn_many(X[1111:]), model.score_learn_many(X[1111:]))
    assert_same_state(copy, model)


def test_state_is_a_copy():
    model = ours()
    state = model.get_state()
    state["l_mass"][:] = 99
    assert model.get_state()["l_mass"].max() == 0
    restored = HalfSpaceTrees.from_state(state)
    state["l_mass"][:] = 0
    assert restored.get_state()["l_mass"].min() == 99


def test_bad_states_are_refused():
    state = ours(3, 3, 10).get_state()
    with pytest.raises(ModelError, match="version"):
        HalfSpaceTrees.from_state({**state, "version": 99})
    with pytest.raises(ModelError, match="shape"):
        HalfSpaceTrees.from_state({**state, "l_mass": state["l_mass"][:, :3]})
    with pytest.raises(ModelError, match="counter"):
        HalfSpaceTrees.from_state({**state, "counter": 10})
    with pytest.raises(ModelError, match="invalid"):
        HalfSpaceTrees.from_state({k: v for k, v in state.items() if k != "r_mass"})


def test_clone_starts_afresh_with_the_same_trees():
    model = ours(window_size=50)
    initial = model.get_state()
    model.learn_many(make_stream(500))
    clone = model.clone()
    assert repr(clone) == repr(model)
    assert_same_state(clone, HalfSpaceTrees.from_state(initial))


# ---------------------------------------------------------------------- the three entry points


def test_score_many_learns_nothing_and_learn_many_learns_like_score_learn_many():
    X = make_stream(1500, seed=10)
    model = ours(window_size=100)
    model.learn_many(X[:1000])
    before = state_digest(model)
    frozen = model.score_many(X[1000:])
    assert state_digest(model) == before
    np.testing.assert_array_equal(model.score_many(X[1000:]), frozen)

    reference = ours(window_size=100)
    reference.score_learn_many(X[:1000])
    assert state_digest(reference) == before
    river_model = river_hst(10, 8, 100, seed=1)
    river_run(river_model, X[:1000])
    np.testing.assert_array_equal(frozen, river_run(river_model, X[1000:], learn=False))


def test_first_window_scores_zero_even_without_learning():
    model = ours(window_size=100)
    model.learn_many(make_stream(99))
    assert np.all(model.score_many(make_stream(10, seed=1)) == 0.0)
    model.learn_many(make_stream(1))
    assert np.all(model.score_many(make_stream(10, seed=1)) > 0.0)


def test_inputs_are_left_unchanged_and_other_layouts_accepted():
    X = make_stream(700, seed=6, nan_rate=0.02)
    expected = ours(window_size=100).score_learn_many(X)
    for variant in (np.asfortranarray(X), X.tolist()):
        np.testing.assert_array_equal(ours(window_size=100).score_learn_many(variant), expected)
    frozen = X.copy()
    frozen.setflags(write=False)
    np.testing.assert_array_equal(ours(window_size=100).score_learn_many(frozen), expected)
    np.testing.assert_array_equal(frozen, X)


def test_empty_batches_and_bad_shapes():
    model = ours()
    assert model.score_learn_many(np.empty((0, 4))).shape == (0,)
    assert model.score_many(np.empty((0, 4))).shape == (0,)
    assert state_digest(model) == state_digest(ours())
    with pytest.raises(ModelError, match="4 columns"):
        model.score_learn_many(np.zeros((3, 3)))
    with pytest.raises(ModelError, match="4 columns"):
        model.score_many(np.zeros(4))
    with pytest.raises(ModelError, match="numbers"):
        model.learn_many([["a", "b", "c", "d"]])


def test_bad_parameters_are_refused():
    with pytest.raises(ModelError, match="not in feature_names"):
        HalfSpaceTrees(limits={"amout": (0, 1)}, feature_names=["amount"])
    with pytest.raises(ModelError, match="lo < hi"):
        HalfSpaceTrees(limits={"amount": (1, 1)}, feature_names=["amount"])
    with pytest.raises(ModelError, match="unique"):
        HalfSpaceTrees(feature_names=["a", "a"])
    with pytest.raises(ModelError, match=">= 1"):
        HalfSpaceTrees(window_size=0, feature_names=["a"])
    with pytest.raises(ModelError, match="pair"):
        HalfSpaceTrees(limits={"a": 3.0}, feature_names=["a"])
    with pytest.raises(ModelError, match="seed"):
        HalfSpaceTrees(seed="42", feature_names=["a"])
    with pytest.raises(ModelError, match="strings"):
        HalfSpaceTrees(feature_names=[1, 2])
    assert_same_state(
        HalfSpaceTrees(seed=np.int64(3), feature_names=["a"]),
        HalfSpaceTrees(seed=3, feature_names=["a"]),
    )
