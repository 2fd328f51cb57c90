"""Transactions as columns: one numpy array per field, integer codes instead of strings.

This is the in-memory form the simulator builds, sorts and writes; `riskstream.simulate.generate`
returns it so benchmarks and tests can skip the JSONL round trip. Strings are produced only by
the writer: codes index the tables of `riskstream.simulate.catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

__all__ = ["Transactions"]

#: field -> (dtype, fill value for "absent")
_SCHEMA: dict[str, tuple[type, int]] = {
    "ts": (np.int64, 0),
    "customer": (np.int32, 0),
    "amount": (np.int64, 0),
    "currency": (np.int8, 0),
    "type": (np.int8, 0),
    "channel": (np.int8, 0),
    "card": (np.int32, -1),
    "merchant": (np.int32, -1),
    "mcc": (np.int16, -1),
    "country": (np.int16, -1),
    "lat": (np.int32, 0),
    "lon": (np.int32, 0),
    "device": (np.int32, -1),
    "ip": (np.uint32, 0),
    "payee": (np.int32, -1),
    "fraud": (np.int8, 0),
    "incident": (np.int32, -1),
}


@dataclass(eq=False)
class Transactions:
    """A batch of transactions, one array per field, all of the same length.

    Parameters
    ----------
    ts
        Event time, milliseconds since the Unix epoch (UTC).
    customer
        Customer index (`customer_id` is ``"cu%06d" % customer``).
    amount
        Amount in cents of ``currency`` (always >= 0; ``type`` gives the direction).
    currency
        Index into `catalog.CURRENCIES`.
    type
        Index into `catalog.TYPES`.
    channel
        Index into `catalog.CHANNELS`.
    card
        Card index (-1: none); written as an opaque token.
    merchant
        Merchant index (-1: none).
    mcc
        Merchant category code as an integer (-1: none).
    country
        Index into `catalog.COUNTRIES` (-1: none).
    lat
        Latitude in 1e-5 degrees; written only for card-present channels (pos, atm).
    lon
        Longitude in 1e-5 degrees; as ``lat``.
    device
        Device index (-1: none); written as an opaque token.
    ip
        IPv4 address as an integer (0: none).
    payee
        Counterparty index (-1: none).
    fraud
        0 for genuine, else the scenario code (index into `catalog.FRAUD_TYPES`).
    incident
        Fraud incident index (-1 for genuine): transactions of one attack share it.

    Examples
    --------
    >>> t = Transactions.new(2, ts=[5, 3], amount=[100, 250])
    >>> len(t), t.card.tolist()
    (2, [-1, -1])
    >>> Transactions.concat([t, t.take(np.array([1]))]).ts.tolist()
    [5, 3, 3]

    """

    ts: np.ndarray
    customer: np.ndarray
    amount: np.ndarray
    currency: np.ndarray
    type: np.ndarray
    channel: np.ndarray
    card: np.ndarray
    merchant: np.ndarray
    mcc: np.ndarray
    country: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    device: np.ndarray
    ip: np.ndarray
    payee: np.ndarray
    fraud: np.ndarray
    incident: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def new(cls, n: int, **columns: Any) -> Transactions:
        """Build ``n`` transactions from the given columns; the others get their "absent" value.

        A scalar column value is broadcast to length ``n``.
        """
        unknown = set(columns) - set(_SCHEMA)
        if unknown:
            raise TypeError(f"unknown transaction fields: {sorted(unknown)}")
        out: dict[str, np.ndarray] = {}
        for name, (dtype, fill) in _SCHEMA.items():
            if name in columns:
                arr = np.asarray(columns[name])
                arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr
                if arr.shape != (n,):
                    raise ValueError(f"column {name!r} has shape {arr.shape}, expected ({n},)")
                out[name] = np.ascontiguousarray(arr, dtype=dtype)
            else:
                out[name] = np.full(n, fill, dtype=dtype)
        return cls(**out)

    @classmethod
    def concat(cls, parts: list[Transactions]) -> Transactions:
        """Concatenate batches in the given order."""
        if not parts:
            return cls.new(0)
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    @classmethod
    def merge(cls, a: Transactions, b: Transactions) -> Transactions:
        """Merge two batches sorted by ``ts`` into one sorted batch; on equal ``ts``, ``a``'s
        rows come first (stable, deterministic).

        >>> a, b = Transactions.new(3, ts=[1, 5, 9]), Transactions.new(2, ts=[5, 7], amount=1)
        >>> m = Transactions.merge(a, b)
        >>> m.ts.tolist(), m.amount.tolist()
        ([1, 5, 5, 7, 9], [0, 0, 1, 1, 0])
        """
        n, k = len(a), len(b)
        at = np.searchsorted(a.ts, b.ts, side="right") + np.arange(k)
        from_b = np.zeros(n + k, dtype=bool)
        from_b[at] = True
        out = {}
        for f in fields(cls):
            x, y = getattr(a, f.name), getattr(b, f.name)
            col = np.empty(n + k, dtype=x.dtype)
            col[~from_b] = x
            col[at] = y
            out[f.name] = col
        return cls(**out)

    def sorted(self) -> Transactions:
        """The rows in ``ts`` order (stable: ties keep their order)."""
        order = np.argsort(self.ts, kind="stable")
        return self.take(order)

    def take(self, index: np.ndarray) -> Transactions:
        """The rows at ``index`` (an integer or boolean array), as a new batch."""
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def columns(self) -> dict[str, np.ndarray]:
        """The arrays by field name (no copies)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
