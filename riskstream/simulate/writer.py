"""Writing a simulation to disk: transactions.jsonl (numba formatter, in chunks), labels.jsonl,
contacts.jsonl, merchants.jsonl and manifest.json. Output is a pure function of the simulation:
same simulation, same bytes."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson

from riskstream.simulate import catalog as C
from riskstream.simulate._util import iso_strings
from riskstream.simulate.columns import Transactions
from riskstream.simulate.labels import Labels
from riskstream.simulate.world import World

__all__ = [
    "Progress",
    "contact_rows",
    "id_widths",
    "merchant_rows",
    "write_jsonl",
    "write_labels",
    "write_transactions",
]

#: ``progress(stage, done, total)``, called as work advances.
Progress = Callable[[str, int, int], None]
CHUNK_ROWS = 1 << 15
#: Formatting threads: at most two (the simulator shares the machine with its consumers).
WORKERS = max(1, min(2, os.cpu_count() or 1))
DEVICE_SALT_XOR = 0x5BD1E995


def id_widths(world: World, t: Transactions | None = None) -> tuple[int, int, int]:
    """Digits of customer, merchant and payee numbers: at least 6, 6 and 7, more if needed."""

    def digits(largest: int, least: int) -> int:
        return max(least, len(str(max(largest, 0))))

    payee = int(t.payee.max()) if t is not None and len(t) else world.n_payees_total
    return digits(world.customers - 1, 6), digits(world.n_merchants - 1, 6), digits(payee, 7)


def _table(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(s) for s in names)
    table = np.zeros((len(names), width), dtype=np.uint8)
    for i, s in enumerate(names):
        table[i, : len(s)] = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
    return table, np.array([len(s) for s in names], dtype=np.int64)


def write_transactions(
    path: Path,
    t: Transactions,
    world: World,
    progress: Progress | None = None,
    workers: int = WORKERS,
) -> int:
    """Write time-sorted transactions as JSON lines; ``tx_id`` number = position. Returns bytes.

    The formatter is a numba kernel (imported here, so `generate` alone never loads numba); its
    first compilation takes a few seconds and is cached in ``__pycache__`` afterwards. Chunks of
    rows are formatted by ``workers`` threads (the kernel releases the GIL) and written in
    order, so the bytes do not depend on ``workers``.
    """
    from riskstream.simulate import _jsonl

    cust_w, merch_w, payee_w = id_widths(world, t)
    cur, _ = _table(C.CURRENCY_CODES)
    cty, _ = _table(C.COUNTRY_CODES)
    types, type_lens = _table(C.TYPES)
    chans, chan_lens = _table(C.CHANNELS)
    geo = np.array([c in ("pos", "atm") for c in C.CHANNELS], dtype=np.bool_)
    card_salt = world.token_salt
    dev_salt = world.token_salt ^ DEVICE_SALT_XOR
    n = len(t)
    rows = min(n, CHUNK_ROWS)

    def fmt(buf: np.ndarray, lo: int) -> int:
        s = slice(lo, min(n, lo + CHUNK_ROWS))
        return _jsonl.format_chunk(
            buf, lo, t.ts[s], t.customer[s], t.amount[s], t.currency[s], t.type[s],
            t.channel[s], t.card[s], t.merchant[s], t.mcc[s], t.country[s], t.lat[s],
            t.lon[s], t.device[s], t.ip[s], t.payee[s], cur, cty, types, type_lens, chans,
            chan_lens, geo, cust_w, merch_w, payee_w, card_salt, dev_salt,
        )  # fmt: skip

    workers = max(1, min(workers, -(-n // CHUNK_ROWS))) if n else 1
    free = [np.empty(rows * _jsonl.MAX_LINE + 1, dtype=np.uint8) for _ in range(workers + 1)]
    pending: deque[tuple[Future[int], np.ndarray, int]] = deque()
    written = 0
    with open(path, "wb") as f, ThreadPoolExecutor(workers) as pool:

        def drain() -> None:
            nonlocal written
            fut, buf, hi = pending.popleft()
            used = fut.result()
            f.write(memoryview(buf)[:used])
            free.append(buf)
            written += used
            if progress is not None:
                progress("write", hi, n)

        for lo in range(0, n, CHUNK_ROWS):
            if len(pending) == workers:
                drain()
            buf = free.pop()
            pending.append((pool.submit(fmt, buf, lo), buf, min(n, lo + CHUNK_ROWS)))
        while pending:
            drain()
    return written


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Write small tables (labels, contacts, merchants) with orjson, one object a line."""
    with open(path, "wb") as f:
        f.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def write_labels(path: Path, labels: Labels) -> None:
    """labels.jsonl: tx_id, is_fraud, fraud_type (null when genuine), label_time; by label_time."""
    times = iso_strings(labels.label_time)
    names = [None, *C.FRAUD_TYPES[1:]]
    rows = [
        {"tx_id": f"tx{tx:011d}", "is_fraud": f > 0, "fraud_type": names[f], "label_time": lt}
        for tx, f, lt in zip(labels.tx.tolist(), labels.fraud.tolist(), times, strict=True)
    ]
    write_jsonl(path, rows)


def contact_rows(world: World) -> list[dict]:
    """The customer contact store: customer_id, phone (E.164, synthetic), language, display_name.

    Phone numbers are built from the home country's mobile prefix and a bijection of the
    customer number (unique within a country); Chinese-speaking customers have a +86 number
    30% of the time. They are synthetic: never dial or text them outside a test sender.
    """
    rng = np.random.default_rng(world.token_salt)
    n = world.customers
    cust_w = id_widths(world)[0]
    cn = C.COUNTRY_CODES.index("CN")
    country = np.where((world.lang == 1) & (rng.random(n) < 0.3), cn, world.home_country)
    a = rng.integers(0, len(C.FIRST_NAMES_EN), n)
    b = rng.integers(0, len(C.LAST_NAMES_EN), n)
    g1 = rng.integers(0, len(C.GIVEN_ZH), n)
    g2 = rng.integers(-len(C.GIVEN_ZH), len(C.GIVEN_ZH), n)  # < 0: one-character given name
    sz = rng.integers(0, len(C.SURNAMES_ZH), n)
    salt = int(rng.integers(0, 10**6))
    rows = []
    for c in range(n):
        prefix, lead, digits = C.COUNTRIES[int(country[c])][6:9]
        r = digits - len(lead)
        local = (c * 7_654_321 + salt) % 10**r
        if world.lang[c] == 1:
            name = (
                C.SURNAMES_ZH[sz[c]] + C.GIVEN_ZH[g1[c]] + (C.GIVEN_ZH[g2[c]] if g2[c] >= 0 else "")
            )
        else:
            name = f"{C.FIRST_NAMES_EN[a[c]]} {C.LAST_NAMES_EN[b[c]]}"
        rows.append(
            {
                "customer_id": f"cu{c:0{cust_w}d}",
                "phone": f"{prefix}{lead}{local:0{r}d}",
                "language": "zh" if world.lang[c] == 1 else "en",
                "display_name": name,
            }
        )
    return rows


def merchant_rows(world: World) -> list[dict]:
    """merchant_id, name, mcc, kind (store, atm, online), city, country, lat, lon."""
    merch_w = id_widths(world)[1]
    kinds = ("store", "atm", "online")
    rows = []
    for m in range(world.n_merchants):
        row = int(world.m_mcc_row[m])
        mcc, _k, _w, _f, words = C.MCCS[row]
        city = int(world.m_city[m])
        word = words[world.m_word[m] % len(words)]
        rows.append(
            {
                "merchant_id": f"me{m:0{merch_w}d}",
                "name": f"{C.NAME_PREFIXES[world.m_prefix[m]]} {word}",
                "mcc": mcc,
                "kind": kinds[int(world.m_kind[m])],
                "city": C.CITY_NAMES[city],
                "country": C.COUNTRY_CODES[int(world.m_country[m])],
                "lat": round(float(world.m_lat[m]), 5),
                "lon": round(float(world.m_lon[m]), 5),
            }
        )
    return rows
