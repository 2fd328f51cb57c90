"""The running quantile that calibrates the anomaly score: ranks, decay, and determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from riskstream.models.quantile import RunningQuantile

HOUR = 3_600_000


def feed(scores: list[np.ndarray], cuts: np.ndarray) -> RunningQuantile:
    """Each hour's scores in pieces cut at `cuts`, then a decay and a freeze (a rotation)."""
    q = RunningQuantile(n_bins=1024, half_life_ms=3 * HOUR, min_count=10)
    for hour in scores:
        bounds = [0, *sorted(int(c) % (len(hour) + 1) for c in cuts), len(hour)]
        for start, stop in itertools.pairwise(bounds):
            q.update(hour[start:stop])
        q.decay(HOUR)
        q.freeze()
    return q


@pytest.mark.parametrize("seed", range(5))
def test_the_state_does_not_depend_on_how_scores_were_batched(seed: int) -> None:
    """Same scores between the same rotations: the same counts, bit for bit (snapshot ids).

    Adding each batch's integer counts to decayed (fractional) counts would round differently
    for different batchings, about once in a hundred additions.
    """
    rng = np.random.default_rng(seed)
    scores = [rng.beta(8, 2, size=int(rng.integers(50, 400))) for _ in range(200)]
    whole = feed(scores, np.array([], dtype=np.int64)).get_state()
    cut = feed(scores, rng.integers(0, 400, size=30)).get_state()
    assert whole["counts"].tobytes() == cut["counts"].tobytes()
    assert whole["frozen_counts"].tobytes() == cut["frozen_counts"].tobytes()


def test_ranks_follow_the_frozen_histogram_and_decay_halves_it() -> None:
    q = RunningQuantile(n_bins=100, half_life_ms=HOUR, min_count=10)
    q.update(np.linspace(0.0, 0.999, 1000))
    assert np.isnan(q.rank(np.array([0.5]))).all()  # counted, not frozen yet
    q.freeze()
    assert np.allclose(q.rank(np.array([0.255, 0.755])), [0.255, 0.755], atol=0.01)
    q.decay(HOUR)
    assert q.total == 500.0
