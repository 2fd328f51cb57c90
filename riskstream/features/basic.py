"""The foundation's customer features: decayed velocity counts and the customer's amount habit.

One numba kernel walks the batch in order, reading each customer's state before the
transaction (the feature) and then folding the transaction in (the update), so two
transactions of the same customer in one batch see each other in order.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["CUSTOMER_BASIC_DTYPE", "customer_basic_kernel"]

CUSTOMER_BASIC_DTYPE = np.dtype(
    [
        ("last_ts", np.int64),  # event time of the last transaction, ms; -1 = never
        ("count_1h", np.float64),  # decayed count, time constant 1 h, at last_ts
        ("count_24h", np.float64),  # decayed count, time constant 24 h, at last_ts
        ("amount_mean", np.float64),  # EWMA of amount
        ("log_mean", np.float64),  # EWMA of log1p(amount)
        ("log_var", np.float64),  # EW variance of log1p(amount)
        ("n", np.int64),  # transactions folded in
    ]
)

_TAU_1H_MS = 3_600_000.0
_TAU_24H_MS = 86_400_000.0
_ALPHA = 0.05
_MIN_HISTORY = 5


@numba.njit(cache=True)
def customer_basic_kernel(
    rows: np.ndarray,
    ts: np.ndarray,
    amount: np.ndarray,
    last_ts: np.ndarray,
    count_1h: np.ndarray,
    count_24h: np.ndarray,
    amount_mean: np.ndarray,
    log_mean: np.ndarray,
    log_var: np.ndarray,
    n_seen: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out[:, k]`` with features 0..6 and update the state columns in place.

    Output columns: count_1h, count_24h, amount_mean, amount_zscore, amount_ratio,
    seconds_since_last, tx_count_total. Time never runs backwards for a profile: an
    out-of-order event is counted at the profile's latest time.
    """
    for i in range(rows.shape[0]):
        r = rows[i]
        t = ts[i]
        a = amount[i]
        la = np.log1p(a)
        if last_ts[r] < 0:
            out[i, 0] = 0.0
            out[i, 1] = 0.0
            out[i, 2] = np.nan
            out[i, 3] = np.nan
            out[i, 4] = np.nan
            out[i, 5] = np.nan
            out[i, 6] = 0.0
            last_ts[r] = t
            count_1h[r] = 1.0
            count_24h[r] = 1.0
            amount_mean[r] = a
            log_mean[r] = la
            log_var[r] = 0.0
            n_seen[r] = 1
            continue
        dt = max(t - last_ts[r], 0)
        c1 = count_1h[r] * np.exp(-dt / _TAU_1H_MS)
        c24 = count_24h[r] * np.exp(-dt / _TAU_24H_MS)
        out[i, 0] = c1
        out[i, 1] = c24
        out[i, 2] = amount_mean[r]
        std = np.sqrt(log_var[r])
        if n_seen[r] >= _MIN_HISTORY and std > 1e-9:
            out[i, 3] = (la - log_mean[r]) / std
        else:
            out[i, 3] = np.nan
        out[i, 4] = a / amount_mean[r] if amount_mean[r] > 0 else np.nan
        out[i, 5] = dt / 1000.0
        out[i, 6] = float(n_seen[r])
        last_ts[r] = max(t, last_ts[r])
        count_1h[r] = c1 + 1.0
        count_24h[r] = c24 + 1.0
        amount_mean[r] += _ALPHA * (a - amount_mean[r])
        diff = la - log_mean[r]
        log_mean[r] += _ALPHA * diff
        log_var[r] = (1.0 - _ALPHA) * (log_var[r] + _ALPHA * diff * diff)
        n_seen[r] += 1
