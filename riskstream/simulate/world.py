"""The simulated bank's world: customers with habits, their cards, devices, payees and trips, and
the merchants they pay. Built once per run, vectorised; everything else draws from it.

Habits are per customer, so an engine can learn them: a home city and location, a personal
hour-of-day profile (local time), a lognormal amount distribution, a channel mix, a few usual
nearby stores, online shops and ATMs, 1-3 cards, 1-2 devices (each with a usual IP), 1-4 payees,
1-3 usual travel countries and the trips taken there, a salary (or irregular deposits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskstream.simulate import catalog as C
from riskstream.simulate._util import haversine_km, jitter_km, zipf_cdf

__all__ = ["World", "build_world"]

#: Trips are laid out in slots of this many days: at most one trip per slot.
TRIP_SLOT_DAYS = 30
N_USUAL_STORES = 10
N_USUAL_ONLINE = 4
N_USUAL_ATMS = 2
#: Share of customers who deposit > 20,000 in every calendar month (the marketing rule's targets).
BIG_DEPOSITOR_SHARE = 0.03

_BASE_HOURS = np.array(
    [0.3, 0.15, 0.1, 0.08, 0.08, 0.15, 0.6, 1.5, 2.5, 3.0, 3.5, 4.0,
     5.0, 4.5, 3.8, 3.8, 4.2, 5.0, 5.5, 5.0, 4.0, 3.0, 1.8, 0.9]
)  # fmt: skip
#: Mean channel mix of card and transfer activity: pos, ecom, atm, transfer.
_CHANNEL_MIX = np.array([0.58, 0.27, 0.08, 0.07])


@dataclass(eq=False)
class World:
    """Customers, merchants and their relations; all arrays indexed by entity index.

    Built by `build_world`; read by the genuine generator and the fraud scenarios. Per-customer
    arrays have length ``customers``; ``card_start[c]:card_start[c]+n_cards[c]`` are customer
    ``c``'s cards (same for devices and payees); trips are ``(customers, slots)`` arrays in days
    since the start (``trip_city == -1``: no trip in that slot).
    """

    customers: int
    days: int
    start_ms: int
    # customers
    home_city: np.ndarray
    home_country: np.ndarray
    home_lat: np.ndarray
    home_lon: np.ndarray
    tz: np.ndarray
    lang: np.ndarray
    rate: np.ndarray
    hour_p: np.ndarray
    hour_cdf: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    channel_cdf: np.ndarray
    card_start: np.ndarray
    n_cards: np.ndarray
    device_start: np.ndarray
    n_devices: np.ndarray
    device_ip: np.ndarray
    payee_start: np.ndarray
    n_payees: np.ndarray
    employer: np.ndarray
    salary: np.ndarray
    payday: np.ndarray
    irregular: np.ndarray
    family: np.ndarray
    usual_store: np.ndarray
    usual_online: np.ndarray
    usual_atm: np.ndarray
    travel: np.ndarray
    n_travel: np.ndarray
    trip_start: np.ndarray
    trip_end: np.ndarray
    trip_city: np.ndarray
    big_depositors: np.ndarray
    # merchants
    m_kind: np.ndarray
    m_city: np.ndarray
    m_country: np.ndarray
    m_lat: np.ndarray
    m_lon: np.ndarray
    m_mcc_row: np.ndarray
    m_prefix: np.ndarray
    m_word: np.ndarray
    city_kind_start: np.ndarray
    city_kind_count: np.ndarray
    online_start: int
    n_online: int
    online_cdf: np.ndarray
    # totals and token keys
    n_cards_total: int
    n_devices_total: int
    n_payees_total: int
    n_employers: int
    token_salt: int

    @property
    def n_merchants(self) -> int:
        return int(self.m_kind.shape[0])

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.days * 86_400_000

    def trip_at(self, customer: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For (customer, day since start) pairs: the trip city (-1 at home) and travel-day flag.

        A travel day is the day before a trip starts or the day it ends: the customer is in
        transit, so makes no card-present payment that day.
        """
        day = np.asarray(day, dtype=np.int64)
        slot = np.clip(day // TRIP_SLOT_DAYS, 0, self.trip_start.shape[1] - 1)
        ts = self.trip_start[customer, slot]
        te = self.trip_end[customer, slot]
        city = self.trip_city[customer, slot]
        has = city >= 0
        inside = has & (day >= ts) & (day < te)
        travel = has & ((day == ts - 1) | (day == te))
        return np.where(inside, city, -1), travel

    def random_merchant(self, rng: np.random.Generator, city: np.ndarray, kind: int) -> np.ndarray:
        """A uniformly random merchant of ``kind`` (store or ATM) in each given city."""
        start = self.city_kind_start[city, kind]
        count = self.city_kind_count[city, kind]
        return start + (rng.random(np.shape(city)) * count).astype(np.int64)

    def random_online(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` online merchants drawn by popularity (a Zipf law over the online catalogue)."""
        return self.online_start + np.searchsorted(self.online_cdf, rng.random(n), side="right")


def _city_counts(customers: int) -> tuple[np.ndarray, np.ndarray]:
    """Stores and ATMs per city: home cities scale with the bank, foreign ones serve travellers."""
    home_total = max(300, customers // 2)
    w = C.CITY_HOME_W / C.CITY_HOME_W.sum()
    stores = np.where(
        C.CITY_HOME_W > 0,
        np.maximum(20, np.round(home_total * w)),
        max(15, home_total // 50),
    ).astype(np.int64)
    atms = np.maximum(3, stores // 8)
    return stores, atms


def build_world(customers: int, days: int, start_ms: int, rng: np.random.Generator) -> World:
    """Draw the customers, merchants and their relations for a run.

    Parameters
    ----------
    customers
        Number of customers (>= 1).
    days
        Length of the simulated period in days (>= 1); trips are laid out over it.
    start_ms
        Start of the period, ms since the epoch (midnight UTC).
    rng
        The generator to draw from (the only source of randomness).

    Examples
    --------
    >>> w = build_world(50, 30, 0, np.random.default_rng(1))
    >>> w.customers, int(w.n_cards.min()) >= 1, w.usual_store.shape
    (50, True, (50, 10))

    """
    n = int(customers)
    n_cities = len(C.CITIES)

    # -- merchants: per city its stores then its ATMs, then all online shops ------------------
    stores, atms = _city_counts(n)
    per_city = stores + atms
    city_kind_start = np.zeros((n_cities, 3), dtype=np.int64)
    city_kind_count = np.zeros((n_cities, 3), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_city)[:-1]])
    city_kind_start[:, C.STORE] = offsets
    city_kind_start[:, C.ATM_KIND] = offsets + stores
    city_kind_count[:, C.STORE] = stores
    city_kind_count[:, C.ATM_KIND] = atms
    n_phys = int(per_city.sum())
    n_online = max(40, n // 25)
    online_start = n_phys
    m_city = np.repeat(np.arange(n_cities), per_city)
    m_kind = np.concatenate(
        [np.repeat([C.STORE, C.ATM_KIND], [s, a]) for s, a in zip(stores, atms, strict=True)]
    ).astype(np.int8)
    ecom_w = C.COUNTRY_ECOM_W / C.COUNTRY_ECOM_W.sum()
    online_country = rng.choice(len(C.COUNTRIES), size=n_online, p=ecom_w)
    m_city = np.concatenate([m_city, C.COUNTRY_HQ_CITY[online_country]]).astype(np.int16)
    m_kind = np.concatenate([m_kind, np.full(n_online, C.ONLINE, dtype=np.int8)])
    m_country = C.CITY_COUNTRY[m_city]
    m_lat, m_lon = jitter_km(
        rng, C.CITY_LAT[m_city], C.CITY_LON[m_city], C.CITY_RADIUS_KM[m_city] / 2.0
    )
    # MCC row per merchant: by weight within its kind
    m_mcc_row = np.empty(m_kind.shape[0], dtype=np.int16)
    for kind in (C.STORE, C.ATM_KIND, C.ONLINE):
        rows = np.flatnonzero(kind == C.MCC_KIND)
        sel = m_kind == kind
        p = C.MCC_WEIGHT[rows] / C.MCC_WEIGHT[rows].sum()
        m_mcc_row[sel] = rows[rng.choice(rows.shape[0], size=int(sel.sum()), p=p)]
    m_prefix = rng.integers(0, len(C.NAME_PREFIXES), m_kind.shape[0]).astype(np.int16)
    m_word = rng.integers(0, 1 << 15, m_kind.shape[0]).astype(np.int16)
    online_cdf = zipf_cdf(n_online, 0.9)

    # -- customers: home, habits -----------------------------------------------------------------
    home_w = C.CITY_HOME_W / C.CITY_HOME_W.sum()
    home_city = rng.choice(n_cities, size=n, p=home_w).astype(np.int16)
    home_country = C.CITY_COUNTRY[home_city]
    home_lat, home_lon = jitter_km(
        rng, C.CITY_LAT[home_city], C.CITY_LON[home_city], C.CITY_RADIUS_KM[home_city] / 2.5
    )
    tz = C.COUNTRY_TZ[home_country]
    lang = (rng.random(n) < 0.08).astype(np.int8)  # 1: zh
    rate = np.clip(np.exp(rng.normal(np.log(2.8), 0.35, n)), 0.3, 10.0)

    shift = np.clip(np.round(rng.normal(0.0, 1.2, n)), -3, 3).astype(np.int64)
    shift += np.where(rng.random(n) < 0.04, 4, 0)  # night owls
    gamma = rng.uniform(1.0, 1.8, n)
    idx = (np.arange(24)[None, :] - shift[:, None]) % 24
    hour_p = _BASE_HOURS[idx] ** gamma[:, None] * rng.gamma(4.0, 0.25, (n, 24))
    hour_p /= hour_p.sum(axis=1, keepdims=True)
    hour_cdf = np.cumsum(hour_p, axis=1)
    hour_cdf[:, -1] = 1.0

    mu = rng.normal(np.log(22.0), 0.45, n)
    sigma = rng.uniform(0.55, 0.95, n)
    mix = rng.dirichlet(40.0 * _CHANNEL_MIX, n)
    channel_cdf = np.cumsum(mix, axis=1)
    channel_cdf[:, -1] = 1.0

    n_cards = rng.choice(np.array([1, 2, 3]), size=n, p=[0.55, 0.35, 0.10])
    card_start = np.concatenate([[0], np.cumsum(n_cards)[:-1]])
    n_devices = rng.choice(np.array([1, 2]), size=n, p=[0.6, 0.4])
    device_start = np.concatenate([[0], np.cumsum(n_devices)[:-1]])
    n_dev_total = int(n_devices.sum())
    dev_owner = np.repeat(np.arange(n), n_devices)
    device_ip = (C.COUNTRY_IP8[home_country[dev_owner]] << np.uint32(24)) | rng.integers(
        1 << 16, 1 << 24, n_dev_total
    ).astype(np.uint32)
    n_employers = max(3, n // 40)
    n_payees = rng.integers(1, 5, n)
    payee_start = n_employers + np.concatenate([[0], np.cumsum(n_payees)[:-1]])
    n_payees_total = n_employers + int(n_payees.sum())

    big = np.sort(rng.choice(n, size=max(1, round(BIG_DEPOSITOR_SHARE * n)), replace=False))
    has_salary = rng.random(n) < 0.85
    has_salary[big] = True
    salary_eur = np.clip(np.exp(rng.normal(np.log(2800.0), 0.35, n)), 900.0, 9000.0)
    salary = np.where(has_salary, np.round(salary_eur * 100), 0).astype(np.int64)
    employer = np.where(has_salary, rng.integers(0, n_employers, n), -1)
    payday = rng.choice(np.array([1, 25, 26, 27, 28]), size=n)
    irregular = ~has_salary
    family = rng.random(n) < 0.3

    # -- usual merchants: the nearest of a random sample in the home city ------------------------
    hotel = C.MCC_CODE[m_mcc_row] == 7011  # locals do not shop at hotels
    usual_store = _nearest(rng, home_city, home_lat, home_lon, C.STORE, 30, N_USUAL_STORES,
                           city_kind_start, city_kind_count, m_lat, m_lon, hotel)  # fmt: skip
    usual_atm = _nearest(rng, home_city, home_lat, home_lon, C.ATM_KIND, 6, N_USUAL_ATMS,
                         city_kind_start, city_kind_count, m_lat, m_lon)  # fmt: skip
    usual_online = online_start + np.searchsorted(
        online_cdf, rng.random((n, N_USUAL_ONLINE)), side="right"
    )

    # -- travel: 1-3 usual destination countries (Gumbel top-k), trips in 30-day slots ----------
    w = np.broadcast_to(C.COUNTRY_TRAVEL_W, (n, len(C.COUNTRIES))).copy()
    w[np.arange(n), home_country] = 0.0
    keys = np.log(np.maximum(w, 1e-300)) + rng.gumbel(size=w.shape)
    travel = np.argsort(-keys, axis=1)[:, :3].astype(np.int16)
    cn = C.COUNTRY_CODES.index("CN")
    travel[lang == 1, 0] = cn
    n_travel = rng.integers(1, 4, n)
    travel[np.arange(3)[None, :] >= n_travel[:, None]] = -1

    slots = -(-days // TRIP_SLOT_DAYS)
    p_trip = rng.beta(1.3, 7.0, n)
    has_trip = rng.random((n, slots)) < p_trip[:, None]
    dur = rng.choice(np.arange(2, 11), size=(n, slots), p=_trip_duration_p())
    lo = np.arange(slots)[None, :] * TRIP_SLOT_DAYS + 1
    hi = lo + TRIP_SLOT_DAYS - dur - 2  # leaves the return travel day inside the slot
    trip_start = lo + (rng.random((n, slots)) * (hi - lo + 1)).astype(np.int64)
    trip_end = trip_start + dur
    pick = (rng.random((n, slots)) * n_travel[:, None]).astype(np.int64)
    dest_country = travel[np.arange(n)[:, None], pick]
    first, count = _country_cities()
    dest_city = first[dest_country] + (rng.random((n, slots)) * count[dest_country]).astype(
        np.int64
    )
    trip_city = np.where(has_trip, dest_city, -1).astype(np.int16)

    return World(
        customers=n,
        days=int(days),
        start_ms=int(start_ms),
        home_city=home_city,
        home_country=home_country,
        home_lat=home_lat,
        home_lon=home_lon,
        tz=tz,
        lang=lang,
        rate=rate,
        hour_p=hour_p,
        hour_cdf=hour_cdf,
        mu=mu,
        sigma=sigma,
        channel_cdf=channel_cdf,
        card_start=card_start.astype(np.int64),
        n_cards=n_cards.astype(np.int64),
        device_start=device_start.astype(np.int64),
        n_devices=n_devices.astype(np.int64),
        device_ip=device_ip,
        payee_start=payee_start.astype(np.int64),
        n_payees=n_payees.astype(np.int64),
        employer=employer.astype(np.int64),
        salary=salary,
        payday=payday.astype(np.int64),
        irregular=irregular,
        family=family,
        usual_store=usual_store,
        usual_online=usual_online.astype(np.int64),
        usual_atm=usual_atm,
        travel=travel,
        n_travel=n_travel.astype(np.int64),
        trip_start=trip_start.astype(np.int64),
        trip_end=trip_end.astype(np.int64),
        trip_city=trip_city,
        big_depositors=big.astype(np.int64),
        m_kind=m_kind,
        m_city=m_city,
        m_country=m_country,
        m_lat=m_lat,
        m_lon=m_lon,
        m_mcc_row=m_mcc_row,
        m_prefix=m_prefix,
        m_word=m_word,
        city_kind_start=city_kind_start,
        city_kind_count=city_kind_count,
        online_start=int(online_start),
        n_online=int(n_online),
        online_cdf=online_cdf,
        n_cards_total=int(n_cards.sum()),
        n_devices_total=n_dev_total,
        n_payees_total=n_payees_total,
        n_employers=int(n_employers),
        token_salt=int(rng.integers(0, 1 << 32)),
    )


def _trip_duration_p() -> np.ndarray:
    w = 1.0 / np.arange(1, 10) ** 0.7
    return w / w.sum()


def _country_cities() -> tuple[np.ndarray, np.ndarray]:
    """First city index and number of cities per country (cities are grouped by country)."""
    n = len(C.COUNTRIES)
    first = np.full(n, -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for i, country in enumerate(C.CITY_COUNTRY.tolist()):
        if first[country] < 0:
            first[country] = i
        elif first[country] + count[country] != i:
            raise AssertionError("catalog.CITIES must be grouped by country")
        count[country] += 1
    return first, count


def _nearest(
    rng: np.random.Generator,
    city: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    kind: int,
    candidates: int,
    keep: int,
    start: np.ndarray,
    count: np.ndarray,
    m_lat: np.ndarray,
    m_lon: np.ndarray,
    avoid: np.ndarray | None = None,
) -> np.ndarray:
    """For each customer, the ``keep`` nearest of ``candidates`` random merchants of a kind
    (merchants flagged in ``avoid`` come last)."""
    n = city.shape[0]
    cand = start[city, kind][:, None] + (
        rng.random((n, candidates)) * count[city, kind][:, None]
    ).astype(np.int64)
    d = haversine_km(lat[:, None], lon[:, None], m_lat[cand], m_lon[cand])
    if avoid is not None:
        d = np.where(avoid[cand], np.inf, d)
    order = np.argsort(d, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(cand, order, axis=1)
