"""The numba kernels: one per entity, each walks a batch's rows in order over columns.

For every row, a kernel reads the entity's record *before* the transaction (the features) and
then folds the transaction in (the update), so two transactions of one entity in a batch see
each other in order. A row whose transaction the record has already applied (idempotency ring
hit, or event time at or below the ring's floor) gets features from the current state and
changes nothing; ``dup[i]`` says so. ``touched[e]`` marks the entities whose record changed.

Inputs are the batch columns (event time ``ts`` in ms, ``amount``, integer ``cents``, the tx id
hash ``txh``, the type code, location, and the hashes of the other entities of the row, 0 when
missing) and the entity's records gathered for the batch (``recs[codes[i]]`` is row ``i``'s
entity, code -1 when the row has none: its features are the missing values). Outputs go to
``out[feature, row]`` in the order of the ``*_FEATURES`` tuples below, bools as 0.0/1.0.

Cost: about 0.1-0.3 microsecond per row and entity (see bench/bench_features.py).
"""

from __future__ import annotations

import numba
import numpy as np

from riskstream.features.windows import (
    NEVER,
    U4MAX,
    W1H_G,
    W7D_G,
    W10M_G,
    W24H_G,
    W30D_G,
    add_u2,
    add_u4,
    advance,
    h32,
    haversine_km,
    idem_add,
    idem_entry,
    idem_seen,
    month_index,
    mru_find,
    mru_touch,
    ring_fsum,
    ring_max,
    ring_sum,
    seen_count,
    seen_find,
    seen_touch,
    slot_of,
    span,
)

__all__ = [
    "BOOL_FEATURES",
    "CARD_FEATURES",
    "CUSTOMER_FEATURES",
    "DEVICE_FEATURES",
    "MERCHANT_FEATURES",
    "PAYEE_FEATURES",
    "TX_TYPE_CODES",
    "card_kernel",
    "customer_kernel",
    "device_kernel",
    "label_kernel",
    "merchant_kernel",
    "payee_kernel",
]

TX_TYPE_CODES = {"purchase": 0, "withdrawal": 1, "transfer": 2, "deposit": 3, "refund": 4}
"""Type codes the kernels read; a missing or unknown type is a purchase (0)."""
_DEPOSIT = 3
_REFUND = 4

SMALL_AMOUNT = 5.0
"""Card-testing signal: amounts below this count as small."""
HOME_RADIUS_KM = 50.0
HOME_MIN_WEIGHT = 2.9
"""Home is known after about three located transactions (weights decay by 0.5% per update)."""
MIN_SPEED_HOURS = 1.0 / 60.0
"""Travel speed divides by at least one minute, so two places at once give a large finite speed."""
TAU_30D_MS = 30.0 * 86_400_000.0
_CUSTOMER_ALPHA = 0.05
_CUSTOMER_MIN_HISTORY = 5
_MERCHANT_ALPHA = 0.01
_MERCHANT_MIN_HISTORY = 20
_HOUR_MIN_HISTORY = 5
_MS_PER_DAY = 86_400_000.0
_SPAN_7D = 7 * 86_400_000
_SPAN_24H = 86_400_000
_SPAN_1H = 3_600_000
_SPAN_30D = 30 * 86_400_000

CUSTOMER_FEATURES = (
    "customer.tx_count_10m",
    "customer.tx_count_1h",
    "customer.tx_count_24h",
    "customer.tx_count_7d",
    "customer.tx_count_30d",
    "customer.amount_sum_24h",
    "customer.amount_sum_7d",
    "customer.amount_sum_30d",
    "customer.amount_mean_24h",
    "customer.amount_mean_7d",
    "customer.amount_mean_30d",
    "customer.amount_max_30d",
    "customer.amount_std_30d",
    "customer.tx_count_total",
    "customer.seconds_since_last",
    "customer.days_since_first",
    "customer.amount_mean",
    "customer.amount_zscore",
    "customer.amount_ratio",
    "customer.hour_probability",
    "customer.distance_from_home_km",
    "customer.distance_from_prev_km",
    "customer.travel_speed_kmh",
    "customer.is_new_device",
    "customer.is_new_country",
    "customer.is_new_payee",
    "customer.is_new_merchant",
    "customer.distinct_devices_30d",
    "customer.distinct_countries_7d",
    "customer.distinct_payees_7d",
    "customer.deposit_sum_month_0",
    "customer.deposit_sum_month_1",
    "customer.deposit_sum_month_2",
)
CARD_FEATURES = (
    "card.tx_count_10m",
    "card.tx_count_1h",
    "card.tx_count_24h",
    "card.amount_sum_24h",
    "card.small_tx_count_1h",
    "card.distinct_merchants_1h",
    "card.distinct_merchants_24h",
    "card.tx_count_total",
    "card.seconds_since_last",
    "card.days_since_first",
    "card.distance_from_prev_km",
    "card.travel_speed_kmh",
)
DEVICE_FEATURES = (
    "device.tx_count_1h",
    "device.tx_count_24h",
    "device.distinct_customers_24h",
    "device.distinct_customers_30d",
    "device.distinct_cards_24h",
    "device.tx_count_total",
    "device.seconds_since_last",
    "device.days_since_first",
    "device.fraud_count",
    "device.fraud_rate",
)
MERCHANT_FEATURES = (
    "merchant.tx_count_1h",
    "merchant.tx_count_24h",
    "merchant.amount_sum_24h",
    "merchant.amount_mean_24h",
    "merchant.amount_max_24h",
    "merchant.amount_std_24h",
    "merchant.small_tx_count_1h",
    "merchant.small_tx_ratio_1h",
    "merchant.amount_zscore",
    "merchant.tx_count_total",
    "merchant.days_since_first",
    "merchant.fraud_count",
    "merchant.fraud_rate",
)
PAYEE_FEATURES = (
    "payee.tx_count_24h",
    "payee.amount_sum_24h",
    "payee.tx_count_7d",
    "payee.amount_sum_7d",
    "payee.distinct_customers_7d",
    "payee.tx_count_total",
    "payee.seconds_since_last",
    "payee.days_since_first",
)
BOOL_FEATURES = frozenset(
    {
        "customer.is_new_device",
        "customer.is_new_country",
        "customer.is_new_payee",
        "customer.is_new_merchant",
    }
)

_NAN = np.nan


# --- shared pieces ----------------------------------------------------------------------------


@numba.njit(inline="always")
def _missing_row(out: np.ndarray, i: int) -> None:
    for f in range(out.shape[0]):
        out[f, i] = _NAN


@numba.njit(inline="always")
def _since(t: int, ref: int, scale: float) -> float:
    if ref == NEVER:
        return _NAN
    return max(t - ref, 0) / scale


@numba.njit(inline="always")
def _mean(total: float, n: float) -> float:
    return total / n if n > 0 else _NAN


@numba.njit(inline="always")
def _std(n: float, total: float, squares: float) -> float:
    if n < 2:
        return _NAN
    mean = total / n
    return np.sqrt(max(squares / n - mean * mean, 0.0))


@numba.njit(inline="always")
def _located(lat: float, lon: float) -> bool:
    return np.isfinite(lat) and np.isfinite(lon)


@numba.njit(inline="always")
def _decayed(value: float, since: int, now: int) -> float:
    if since == NEVER:
        return value
    return value * np.exp(-max(now - since, 0) / TAU_30D_MS)


@numba.njit(inline="always")
def _fold_count(value: float, since: int, t: int) -> float:
    """Add one event at ``t`` to an exponentially decayed count kept at ``since``."""
    if since == NEVER:
        return 1.0
    if t >= since:
        return value * np.exp(-(t - since) / TAU_30D_MS) + 1.0
    return value + np.exp(-(since - t) / TAU_30D_MS)


@numba.njit(inline="always")
def _header_update(r, t: int, new_last: int, entry: np.uint64) -> None:
    r.last_ts = new_last
    if r.first_ts == NEVER or t < r.first_ts:
        r.first_ts = t
    r.n_tx = min(int(r.n_tx) + 1, U4MAX)
    r.flags |= 1
    r.floor = idem_add(r.floor, r.ring, entry)


@numba.njit(inline="always")
def _travel(r, t: int, la: float, lo: float, out: np.ndarray, fd: int, i: int) -> None:
    """Distance (out[fd]) and speed (out[fd + 1]) from the previous located transaction."""
    if r.prev_loc_ts == NEVER or not _located(la, lo):
        out[fd, i] = _NAN
        out[fd + 1, i] = _NAN
        return
    d = haversine_km(float(r.prev_lat), float(r.prev_lon), la, lo)
    hours = max(abs(t - r.prev_loc_ts) / 3_600_000.0, MIN_SPEED_HOURS)
    out[fd, i] = d
    out[fd + 1, i] = d / hours


@numba.njit(inline="always")
def _travel_update(r, t: int, la: float, lo: float) -> None:
    if _located(la, lo) and (r.prev_loc_ts == NEVER or t >= r.prev_loc_ts):
        r.prev_lat = la
        r.prev_lon = lo
        r.prev_loc_ts = t


# --- customer ---------------------------------------------------------------------------------


@numba.njit(cache=True)
def customer_kernel(
    recs: np.ndarray,
    codes: np.ndarray,
    ts: np.ndarray,
    amount: np.ndarray,
    cents: np.ndarray,
    txh: np.ndarray,
    ttype: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    device_h: np.ndarray,
    country_h: np.ndarray,
    payee_h: np.ndarray,
    merchant_h: np.ndarray,
    out: np.ndarray,
    dup: np.ndarray,
    touched: np.ndarray,
) -> None:
    """Customer features (`CUSTOMER_FEATURES`) and updates; see the module docstring."""
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0:
            _missing_row(out, i)
            dup[i] = False
            continue
        r = recs[c]
        t = ts[i]
        a = amount[i]
        la = lat[i]
        lo_ = lon[i]
        kind = ttype[i]
        last = r.last_ts
        now = t if (last == NEVER or t > last) else last
        entry = idem_entry(t, txh[i])
        seen = idem_seen(r.floor, r.ring, t, entry)
        dup[i] = seen

        # --- windows --------------------------------------------------------------------
        lo, hi = span(last, now, W10M_G, 5)
        out[0, i] = ring_sum(r.w10m_n, lo, hi)
        lo, hi = span(last, now, W1H_G, 6)
        out[1, i] = ring_sum(r.w1h_n, lo, hi)
        lo, hi = span(last, now, W24H_G, 12)
        n24 = ring_sum(r.w24h_n, lo, hi)
        s24 = ring_sum(r.w24h_s, lo, hi) / 100.0
        lo, hi = span(last, now, W7D_G, 7)
        n7 = ring_sum(r.w7d_n, lo, hi)
        s7 = ring_sum(r.w7d_s, lo, hi) / 100.0
        lo, hi = span(last, now, W30D_G, 6)
        n30 = ring_sum(r.w30d_n, lo, hi)
        s30 = ring_sum(r.w30d_s, lo, hi) / 100.0
        q30 = ring_fsum(r.w30d_q, lo, hi)
        x30 = ring_max(r.w30d_x, lo, hi) / 100.0
        out[2, i] = n24
        out[3, i] = n7
        out[4, i] = n30
        out[5, i] = s24
        out[6, i] = s7
        out[7, i] = s30
        out[8, i] = _mean(s24, n24)
        out[9, i] = _mean(s7, n7)
        out[10, i] = _mean(s30, n30)
        out[11, i] = x30 if n30 > 0 else _NAN
        out[12, i] = _std(n30, s30, q30)
        out[13, i] = float(r.n_tx)
        out[14, i] = _since(t, last, 1000.0)
        out[15, i] = _since(t, r.first_ts, _MS_PER_DAY)

        # --- habits ---------------------------------------------------------------------
        spend = kind != _DEPOSIT and kind != _REFUND
        log_a = np.log1p(a)
        if r.n_spend > 0:
            out[16, i] = r.amount_mean
        else:
            out[16, i] = _NAN
        std = np.sqrt(float(r.log_var))
        if spend and r.n_spend >= _CUSTOMER_MIN_HISTORY and std > 1e-6:
            out[17, i] = (log_a - r.log_mean) / std
        else:
            out[17, i] = _NAN
        if spend and r.n_spend > 0 and r.amount_mean > 0:
            out[18, i] = a / r.amount_mean
        else:
            out[18, i] = _NAN
        hour = (t // 3_600_000) % 24
        total_h = 0
        for b in range(24):
            total_h += r.hours[b]
        if total_h >= _HOUR_MIN_HISTORY:
            out[19, i] = (r.hours[hour] + 1.0) / (total_h + 24.0)
        else:
            out[19, i] = _NAN

        # --- places ---------------------------------------------------------------------
        located = _located(la, lo_)
        home = 0 if r.home_w[0] >= r.home_w[1] else 1
        if located and r.home_w[home] >= HOME_MIN_WEIGHT:
            out[20, i] = haversine_km(float(r.home_lat[home]), float(r.home_lon[home]), la, lo_)
        else:
            out[20, i] = _NAN
        _travel(r, t, la, lo_, out, 21, i)

        # --- first time seen, distinct counts --------------------------------------------
        dh = device_h[i]
        ch = country_h[i]
        ph = payee_h[i]
        mh = merchant_h[i]
        out[23, i] = 1.0 if dh != 0 and seen_find(r.devices, h32(dh)) < 0 else 0.0
        out[24, i] = 1.0 if ch != 0 and seen_find(r.countries, h32(ch)) < 0 else 0.0
        out[25, i] = 1.0 if ph != 0 and seen_find(r.payees, h32(ph)) < 0 else 0.0
        m32 = np.uint32(h32(mh))
        out[26, i] = 1.0 if mh != 0 and mru_find(r.merchants, m32) < 0 else 0.0
        out[27, i] = seen_count(r.devices, now, _SPAN_30D)
        out[28, i] = seen_count(r.countries, now, _SPAN_7D)
        out[29, i] = seen_count(r.payees, now, _SPAN_7D)

        # --- calendar-month deposits ------------------------------------------------------
        m_now = month_index(now)
        back = m_now - month_index(t) if kind == _DEPOSIT and not seen else -1
        for k in range(3):  # unlike the other features, these include this deposit
            src = k - (m_now - r.month) if r.month != -2147483648 else -1
            total = int(r.deposits[src]) if 0 <= src < 3 else 0
            if k == back:
                total = min(total + cents[i], U4MAX)
            out[30 + k, i] = total / 100.0

        if seen:
            continue

        # --- update -----------------------------------------------------------------------
        touched[c] = True
        cv = cents[i]
        advance(r.w10m_n, last, now, W10M_G)
        advance(r.w1h_n, last, now, W1H_G)
        advance(r.w24h_n, last, now, W24H_G)
        advance(r.w24h_s, last, now, W24H_G)
        advance(r.w7d_n, last, now, W7D_G)
        advance(r.w7d_s, last, now, W7D_G)
        advance(r.w30d_n, last, now, W30D_G)
        advance(r.w30d_s, last, now, W30D_G)
        advance(r.w30d_q, last, now, W30D_G)
        advance(r.w30d_x, last, now, W30D_G)
        s = slot_of(t, now, W10M_G, 5)
        if s >= 0:
            add_u2(r.w10m_n, s, 1)
        s = slot_of(t, now, W1H_G, 6)
        if s >= 0:
            add_u2(r.w1h_n, s, 1)
        s = slot_of(t, now, W24H_G, 12)
        if s >= 0:
            add_u2(r.w24h_n, s, 1)
            add_u4(r.w24h_s, s, cv)
        s = slot_of(t, now, W7D_G, 7)
        if s >= 0:
            add_u2(r.w7d_n, s, 1)
            add_u4(r.w7d_s, s, cv)
        s = slot_of(t, now, W30D_G, 6)
        if s >= 0:
            add_u2(r.w30d_n, s, 1)
            add_u4(r.w30d_s, s, cv)
            r.w30d_q[s] += a * a
            if cv > r.w30d_x[s]:
                r.w30d_x[s] = min(cv, U4MAX)
        _header_update(r, t, now, entry)

        if spend:
            if r.n_spend == 0:
                r.amount_mean = a
                r.log_mean = log_a
                r.log_var = 0.0
            else:
                r.amount_mean += _CUSTOMER_ALPHA * (a - r.amount_mean)
                diff = log_a - r.log_mean
                r.log_mean += _CUSTOMER_ALPHA * diff
                r.log_var = (1.0 - _CUSTOMER_ALPHA) * (r.log_var + _CUSTOMER_ALPHA * diff * diff)
            r.n_spend = min(int(r.n_spend) + 1, U4MAX)
        if kind != _DEPOSIT:
            if r.hours[hour] >= 255:
                for b in range(24):
                    r.hours[b] = r.hours[b] >> 1
            r.hours[hour] += 1

        if located:
            _home_update(r, la, lo_)
        _travel_update(r, t, la, lo_)

        if dh != 0:
            seen_touch(r.devices, h32(dh), t)
        if ch != 0:
            seen_touch(r.countries, h32(ch), t)
        if ph != 0:
            seen_touch(r.payees, h32(ph), t)
        if mh != 0:
            mru_touch(r.merchants, m32)

        if kind == _DEPOSIT:
            m = month_index(t)
            if r.month == -2147483648:
                r.month = m
            if m > r.month:
                shift = m - r.month
                for k in range(2, -1, -1):
                    r.deposits[k] = r.deposits[k - shift] if k - shift >= 0 else 0
                r.month = m
            back = r.month - m
            if back < 3:
                add_u4(r.deposits, back, cv)


@numba.njit(inline="always")
def _home_update(r, la: float, lo: float) -> None:
    """Two location candidates with decaying weights; the heavier one is home."""
    best = -1
    best_d = np.inf
    for j in range(2):
        if r.home_w[j] > 0:
            d = haversine_km(float(r.home_lat[j]), float(r.home_lon[j]), la, lo)
            if d < best_d:
                best_d = d
                best = j
    r.home_w[0] *= 0.995
    r.home_w[1] *= 0.995
    if best >= 0 and best_d <= HOME_RADIUS_KM:
        w = min(r.home_w[best] + 1.0, 200.0)
        r.home_lat[best] += (la - r.home_lat[best]) / min(w, 50.0)
        r.home_lon[best] += (lo - r.home_lon[best]) / min(w, 50.0)
        r.home_w[best] = w
    else:
        j = 0 if r.home_w[0] <= r.home_w[1] else 1
        r.home_lat[j] = la
        r.home_lon[j] = lo
        r.home_w[j] = 1.0


# --- card -------------------------------------------------------------------------------------


@numba.njit(cache=True)
def card_kernel(
    recs: np.ndarray,
    codes: np.ndarray,
    ts: np.ndarray,
    amount: np.ndarray,
    cents: np.ndarray,
    txh: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    merchant_h: np.ndarray,
    out: np.ndarray,
    dup: np.ndarray,
    touched: np.ndarray,
) -> None:
    """Card features (`CARD_FEATURES`) and updates: velocity, card testing, travel."""
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0:
            _missing_row(out, i)
            dup[i] = False
            continue
        r = recs[c]
        t = ts[i]
        a = amount[i]
        last = r.last_ts
        now = t if (last == NEVER or t > last) else last
        entry = idem_entry(t, txh[i])
        seen = idem_seen(r.floor, r.ring, t, entry)
        dup[i] = seen
        lo, hi = span(last, now, W10M_G, 5)
        out[0, i] = ring_sum(r.w10m_n, lo, hi)
        lo, hi = span(last, now, W1H_G, 6)
        out[1, i] = ring_sum(r.w1h_n, lo, hi)
        out[4, i] = ring_sum(r.w1h_small, lo, hi)
        lo, hi = span(last, now, W24H_G, 12)
        out[2, i] = ring_sum(r.w24h_n, lo, hi)
        out[3, i] = ring_sum(r.w24h_s, lo, hi) / 100.0
        out[5, i] = seen_count(r.merchants, now, _SPAN_1H)
        out[6, i] = seen_count(r.merchants, now, _SPAN_24H)
        out[7, i] = float(r.n_tx)
        out[8, i] = _since(t, last, 1000.0)
        out[9, i] = _since(t, r.first_ts, _MS_PER_DAY)
        _travel(r, t, lat[i], lon[i], out, 10, i)
        if seen:
            continue
        touched[c] = True
        advance(r.w10m_n, last, now, W10M_G)
        advance(r.w1h_n, last, now, W1H_G)
        advance(r.w1h_small, last, now, W1H_G)
        advance(r.w24h_n, last, now, W24H_G)
        advance(r.w24h_s, last, now, W24H_G)
        s = slot_of(t, now, W10M_G, 5)
        if s >= 0:
            add_u2(r.w10m_n, s, 1)
        s = slot_of(t, now, W1H_G, 6)
        if s >= 0:
            add_u2(r.w1h_n, s, 1)
            if a < SMALL_AMOUNT:
                add_u2(r.w1h_small, s, 1)
        s = slot_of(t, now, W24H_G, 12)
        if s >= 0:
            add_u2(r.w24h_n, s, 1)
            add_u4(r.w24h_s, s, cents[i])
        _header_update(r, t, now, entry)
        _travel_update(r, t, lat[i], lon[i])
        if merchant_h[i] != 0:
            seen_touch(r.merchants, h32(merchant_h[i]), t)


# --- device -----------------------------------------------------------------------------------


@numba.njit(inline="always")
def _fraud_features(r, now: int, out: np.ndarray, f: int, i: int) -> None:
    """Label-fed fraud count (out[f]) and rate (out[f + 1]), decayed to ``now``."""
    fraud = _decayed(r.fraud_ew, r.fraud_ts, now)
    out[f, i] = fraud
    txs = _decayed(r.tx_ew, r.last_ts, now) if r.last_ts != NEVER else 0.0
    out[f + 1, i] = min(fraud / txs, 1.0) if txs > 1e-9 else _NAN


@numba.njit(cache=True)
def device_kernel(
    recs: np.ndarray,
    codes: np.ndarray,
    ts: np.ndarray,
    txh: np.ndarray,
    customer_h: np.ndarray,
    card_h: np.ndarray,
    labels: tuple,
    out: np.ndarray,
    dup: np.ndarray,
    touched: np.ndarray,
) -> None:
    """Device features (`DEVICE_FEATURES`) and updates: sharing across customers, fraud rate.

    ``labels`` = (codes, label_time, txh, due): fraud labels folded in before row ``i`` up to
    ``due[i]`` of them (see `label_kernel`), so a label is seen exactly from its label_time on.
    """
    applied = 0
    for i in range(codes.shape[0]):
        applied = _labels_until(recs, labels, labels[3][i], applied, touched)
        c = codes[i]
        if c < 0:
            _missing_row(out, i)
            dup[i] = False
            continue
        r = recs[c]
        t = ts[i]
        last = r.last_ts
        now = t if (last == NEVER or t > last) else last
        entry = idem_entry(t, txh[i])
        seen = idem_seen(r.floor, r.ring, t, entry)
        dup[i] = seen
        lo, hi = span(last, now, W1H_G, 6)
        out[0, i] = ring_sum(r.w1h_n, lo, hi)
        lo, hi = span(last, now, W24H_G, 12)
        out[1, i] = ring_sum(r.w24h_n, lo, hi)
        out[2, i] = seen_count(r.customers, now, _SPAN_24H)
        out[3, i] = seen_count(r.customers, now, _SPAN_30D)
        out[4, i] = seen_count(r.cards, now, _SPAN_24H)
        out[5, i] = float(r.n_tx)
        out[6, i] = _since(t, last, 1000.0)
        out[7, i] = _since(t, r.first_ts, _MS_PER_DAY)
        _fraud_features(r, now, out, 8, i)
        if seen:
            continue
        touched[c] = True
        advance(r.w1h_n, last, now, W1H_G)
        advance(r.w24h_n, last, now, W24H_G)
        s = slot_of(t, now, W1H_G, 6)
        if s >= 0:
            add_u4(r.w1h_n, s, 1)
        s = slot_of(t, now, W24H_G, 12)
        if s >= 0:
            add_u4(r.w24h_n, s, 1)
        r.tx_ew = _fold_count(r.tx_ew, last, t)
        _header_update(r, t, now, entry)
        if customer_h[i] != 0:
            seen_touch(r.customers, h32(customer_h[i]), t)
        if card_h[i] != 0:
            seen_touch(r.cards, h32(card_h[i]), t)
    _labels_until(recs, labels, labels[0].shape[0], applied, touched)


# --- merchant ---------------------------------------------------------------------------------


@numba.njit(cache=True)
def merchant_kernel(
    recs: np.ndarray,
    codes: np.ndarray,
    ts: np.ndarray,
    amount: np.ndarray,
    cents: np.ndarray,
    txh: np.ndarray,
    labels: tuple,
    out: np.ndarray,
    dup: np.ndarray,
    touched: np.ndarray,
) -> None:
    """Merchant features (`MERCHANT_FEATURES`) and updates: volume, card testing, fraud rate.

    ``labels`` as for `device_kernel`.
    """
    applied = 0
    for i in range(codes.shape[0]):
        applied = _labels_until(recs, labels, labels[3][i], applied, touched)
        c = codes[i]
        if c < 0:
            _missing_row(out, i)
            dup[i] = False
            continue
        r = recs[c]
        t = ts[i]
        a = amount[i]
        last = r.last_ts
        now = t if (last == NEVER or t > last) else last
        entry = idem_entry(t, txh[i])
        seen = idem_seen(r.floor, r.ring, t, entry)
        dup[i] = seen
        lo, hi = span(last, now, W1H_G, 6)
        n1 = ring_sum(r.w1h_n, lo, hi)
        small = ring_sum(r.w1h_small, lo, hi)
        out[0, i] = n1
        out[6, i] = small
        out[7, i] = small / n1 if n1 > 0 else _NAN
        lo, hi = span(last, now, W24H_G, 12)
        n24 = ring_sum(r.w24h_n, lo, hi)
        s24 = ring_sum(r.w24h_s, lo, hi) / 100.0
        out[1, i] = n24
        out[2, i] = s24
        out[3, i] = _mean(s24, n24)
        out[4, i] = ring_max(r.w24h_x, lo, hi) if n24 > 0 else _NAN
        out[5, i] = _std(n24, s24, ring_fsum(r.w24h_q, lo, hi))
        log_a = np.log1p(a)
        std = np.sqrt(float(r.log_var))
        if r.n_amount >= _MERCHANT_MIN_HISTORY and std > 1e-6:
            out[8, i] = (log_a - r.log_mean) / std
        else:
            out[8, i] = _NAN
        out[9, i] = float(r.n_tx)
        out[10, i] = _since(t, r.first_ts, _MS_PER_DAY)
        _fraud_features(r, now, out, 11, i)
        if seen:
            continue
        touched[c] = True
        advance(r.w1h_n, last, now, W1H_G)
        advance(r.w1h_small, last, now, W1H_G)
        advance(r.w24h_n, last, now, W24H_G)
        advance(r.w24h_s, last, now, W24H_G)
        advance(r.w24h_q, last, now, W24H_G)
        advance(r.w24h_x, last, now, W24H_G)
        s = slot_of(t, now, W1H_G, 6)
        if s >= 0:
            add_u4(r.w1h_n, s, 1)
            if a < SMALL_AMOUNT:
                add_u4(r.w1h_small, s, 1)
        s = slot_of(t, now, W24H_G, 12)
        if s >= 0:
            add_u4(r.w24h_n, s, 1)
            r.w24h_s[s] += np.uint64(cents[i])
            r.w24h_q[s] += a * a
            if a > r.w24h_x[s]:
                r.w24h_x[s] = a
        if r.n_amount == 0:
            r.log_mean = log_a
            r.log_var = 0.0
        else:
            diff = log_a - r.log_mean
            r.log_mean += _MERCHANT_ALPHA * diff
            r.log_var = (1.0 - _MERCHANT_ALPHA) * (r.log_var + _MERCHANT_ALPHA * diff * diff)
        r.n_amount = min(int(r.n_amount) + 1, U4MAX)
        r.tx_ew = _fold_count(r.tx_ew, last, t)
        _header_update(r, t, now, entry)
    _labels_until(recs, labels, labels[0].shape[0], applied, touched)


# --- payee ------------------------------------------------------------------------------------


@numba.njit(cache=True)
def payee_kernel(
    recs: np.ndarray,
    codes: np.ndarray,
    ts: np.ndarray,
    cents: np.ndarray,
    txh: np.ndarray,
    customer_h: np.ndarray,
    out: np.ndarray,
    dup: np.ndarray,
    touched: np.ndarray,
) -> None:
    """Payee features (`PAYEE_FEATURES`) and updates: money in, number of distinct senders."""
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0:
            _missing_row(out, i)
            dup[i] = False
            continue
        r = recs[c]
        t = ts[i]
        last = r.last_ts
        now = t if (last == NEVER or t > last) else last
        entry = idem_entry(t, txh[i])
        seen = idem_seen(r.floor, r.ring, t, entry)
        dup[i] = seen
        lo, hi = span(last, now, W24H_G, 12)
        out[0, i] = ring_sum(r.w24h_n, lo, hi)
        out[1, i] = ring_sum(r.w24h_s, lo, hi) / 100.0
        lo, hi = span(last, now, W7D_G, 7)
        out[2, i] = ring_sum(r.w7d_n, lo, hi)
        out[3, i] = ring_sum(r.w7d_s, lo, hi) / 100.0
        out[4, i] = seen_count(r.customers, now, _SPAN_7D)
        out[5, i] = float(r.n_tx)
        out[6, i] = _since(t, last, 1000.0)
        out[7, i] = _since(t, r.first_ts, _MS_PER_DAY)
        if seen:
            continue
        touched[c] = True
        advance(r.w24h_n, last, now, W24H_G)
        advance(r.w24h_s, last, now, W24H_G)
        advance(r.w7d_n, last, now, W7D_G)
        advance(r.w7d_s, last, now, W7D_G)
        s = slot_of(t, now, W24H_G, 12)
        if s >= 0:
            add_u2(r.w24h_n, s, 1)
            add_u4(r.w24h_s, s, cents[i])
        s = slot_of(t, now, W7D_G, 7)
        if s >= 0:
            add_u2(r.w7d_n, s, 1)
            add_u4(r.w7d_s, s, cents[i])
        _header_update(r, t, now, entry)
        if customer_h[i] != 0:
            seen_touch(r.customers, h32(customer_h[i]), t)


# --- labels -----------------------------------------------------------------------------------


@numba.njit(inline="always")
def _fold_label(recs: np.ndarray, c: int, lt: int, txh: np.uint64, touched: np.ndarray) -> None:
    """One fraud label into record ``c``, once: its idempotency ring and floor (on label time)
    make a label released twice (a worker restarted) count once."""
    r = recs[c]
    entry = idem_entry(lt, txh)
    if idem_seen(r.label_floor, r.label_ring, lt, entry):
        return
    r.label_floor = idem_add(r.label_floor, r.label_ring, entry)
    r.fraud_ew = _fold_count(r.fraud_ew, r.fraud_ts, lt)
    if r.fraud_ts == NEVER or lt > r.fraud_ts:
        r.fraud_ts = lt
    touched[c] = True


@numba.njit(inline="always")
def _labels_until(recs: np.ndarray, labels: tuple, due: int, applied: int, touched) -> int:
    """Fold labels ``applied`` .. ``due`` - 1 of ``labels`` (codes, times, txh, due); the new
    count of applied labels."""
    codes, times, txh = labels[0], labels[1], labels[2]
    for j in range(applied, due):
        if codes[j] >= 0:
            _fold_label(recs, codes[j], times[j], txh[j], touched)
    return max(applied, due)


@numba.njit(cache=True)
def label_kernel(
    recs: np.ndarray,
    codes: np.ndarray,
    label_time: np.ndarray,
    txh: np.ndarray,
    touched: np.ndarray,
) -> None:
    """Fold fraud labels (in label-time order) into device or merchant records, once each."""
    for j in range(codes.shape[0]):
        if codes[j] >= 0:
            _fold_label(recs, codes[j], label_time[j], txh[j], touched)
