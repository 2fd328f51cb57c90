"""The feature stage of the Engine: turns a `TxBatch` into a frame, one column per catalog name.

Per micro-batch: the string ids of every entity are interned once (codes per row), the
profiles they name are read from the store in one request, the numba kernels of
`riskstream.features.kernels` walk the rows in order (features from the state *before* each
transaction, then the update), and the changed profiles are written back in one request,
after all computation. Labels reach the stage through `FeatureStage.apply_labels` only once
their ``label_time`` has passed in event time (the Engine sees to that); they feed the merchant
and device fraud rates.

`FeatureStage.last_replayed` marks the rows of the last batch whose transaction the customer's
profile had already applied (a replay after a crash): their features come from the current
state and nothing was updated; a worker re-emits the stored decision for them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from riskstream.batch import TxBatch
from riskstream.errors import ConfigError, StoreError
from riskstream.features import kernels as K
from riskstream.features.catalog import FeatureCatalog, FeatureType
from riskstream.features.hashing import Interned, hash_strings, intern
from riskstream.features.store import (
    DEFAULT_LABEL_HORIZON_MS,
    KnownRecords,
    ProfileStore,
    TxRefs,
    WriteConflict,
    open_store,
)

__all__ = ["DueLabels", "FeatureStage", "LabelBatch", "build_feature_stage"]

_MS_PER_HOUR = 3_600_000
_LABELLED = ("device", "merchant")  # the kinds whose records fold in fraud labels
_ENTITY_FIELDS = {
    "customer": "customer_id",
    "card": "card_id",
    "device": "device_id",
    "merchant": "merchant_id",
    "payee": "payee_id",
}
_FEATURES = {
    "customer": K.CUSTOMER_FEATURES,
    "card": K.CARD_FEATURES,
    "device": K.DEVICE_FEATURES,
    "merchant": K.MERCHANT_FEATURES,
    "payee": K.PAYEE_FEATURES,
}


class LabelBatch:
    """Labels released to the stages: ``tx_id``, ``is_fraud`` and ``label_time`` columns."""

    def __init__(self, tx_id: np.ndarray, is_fraud: np.ndarray, label_time: np.ndarray) -> None:
        self.tx_id = tx_id
        self.is_fraud = is_fraud
        self.label_time = label_time

    def __len__(self) -> int:
        return len(self.tx_id)


@dataclass
class DueLabels:
    """The labels that become due while a batch is scored, and where each one becomes due.

    ``labels`` are in ``label_time`` order; ``due[i]`` is how many of them are due for row
    ``i`` (``label_time`` <= row ``i``'s watermark), so row ``i`` sees exactly those. Handing
    them to the stage with the batch, rather than cutting the batch at every label, keeps
    batches large however many labels arrive.
    """

    labels: LabelBatch
    due: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class _Prepared:
    """A batch as the kernels read it: interned ids, hashes and numeric columns."""

    n: int
    ts: np.ndarray
    amount: np.ndarray
    cents: np.ndarray
    ttype: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    tx: Interned
    entities: dict[str, Interned]
    country_h: np.ndarray
    labels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class _LabelRefs:
    """Fraud labels due in a batch: times, tx hashes, due counts per row, entity ids."""

    times: np.ndarray
    txh: np.ndarray
    due: np.ndarray
    ids: dict[str, np.ndarray]


@dataclass
class _Result:
    out: dict[str, np.ndarray]
    dup: dict[str, np.ndarray]
    touched: dict[str, np.ndarray]


class FeatureStage:
    """Computes the feature frame of a batch and keeps the profiles it reads up to date.

    Parameters
    ----------
    catalog
        The names (and types) the frame must provide.
    store
        Where profiles live; a fresh `riskstream.features.store.MemoryStore` when omitted.
    max_attempts
        Reads and recomputations of one batch when other writers keep changing its profiles
        (optimistic concurrency) before `riskstream.errors.StoreError` is raised.

    Examples
    --------
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> stage = FeatureStage(FeatureCatalog.default())
    >>> def batch(ids, ts, amounts):
    ...     n = len(ids)
    ...     none = np.full(n, None, dtype=object)
    ...     return TxBatch(
    ...         offset=np.arange(n), tx_id=np.array(ids, dtype=object),
    ...         customer_id=np.full(n, "c1", dtype=object), amount=np.array(amounts),
    ...         currency=np.full(n, "EUR", dtype=object), timestamp=np.array(ts),
    ...         card_id=none, merchant_id=none, mcc=none, channel=none, country=none,
    ...         device_id=none, ip=none, payee_id=none, type=none,
    ...         lat=np.full(n, np.nan), lon=np.full(n, np.nan))
    >>> frame = stage.compute(batch(["t1", "t2", "t3"], [0, 60_000, 120_000], [5.0, 7.5, 9.0]))
    >>> frame["customer.tx_count_10m"].tolist(), frame["customer.amount_sum_24h"].tolist()
    ([0.0, 1.0, 2.0], [0.0, 5.0, 12.5])
    >>> frame["card.tx_count_1h"].tolist()  # no card: the missing value
    [nan, nan, nan]
    >>> _ = stage.compute(batch(["t2"], [60_000], [7.5]))  # a replay changes nothing
    >>> stage.last_replayed.tolist()
    [True]
    """

    def __init__(
        self,
        catalog: FeatureCatalog,
        store: ProfileStore | None = None,
        max_attempts: int = 32,
    ) -> None:
        self.catalog = catalog
        self.store = store if store is not None else open_store("memory://")
        self.max_attempts = max_attempts
        self.last_replayed = np.zeros(0, dtype=bool)
        self.stats: dict[str, int] = {
            "batches": 0,
            "rows": 0,
            "replayed_rows": 0,
            "conflicts": 0,
            "labels": 0,
            "fraud_labels_applied": 0,
            "labels_unmatched": 0,
        }
        self._names = [name for name in catalog]
        self._bool = {n for n in self._names if catalog.type_of(n) is FeatureType.BOOL}

    @property
    def labels_seen(self) -> int:
        """Labels received so far (released by the Engine)."""
        return self.stats["labels"]

    # -- transactions ---------------------------------------------------------------------------

    def compute(self, batch: TxBatch, labels: DueLabels | None = None) -> dict[str, np.ndarray]:
        """The frame of ``batch``: for every catalog name, one column (see the catalog module).

        ``labels`` become visible row by row, each from the row at which it is due. Afterwards
        `last_replayed` marks the rows the customer's profile had already applied.
        """
        n = len(batch)
        prep = _prepare(batch, self._label_entities(batch, labels))
        result = self._apply(prep)
        replayed = result.dup["customer"]
        self.last_replayed = replayed
        self.stats["batches"] += 1
        self.stats["rows"] += n
        self.stats["replayed_rows"] += int(replayed.sum())
        return self._frame(batch, prep, result)

    def _apply(self, prep: _Prepared) -> _Result:
        """Read, compute, write; on a write conflict read again and recompute what is left.

        A retry reads (and watches) only the profiles not committed yet: those committed are
        handed to the store as known, so another writer touching them afterwards does not
        make this batch conflict again.
        """
        requests = prep.entities
        final: _Result | None = None
        done = {kind: np.zeros(len(it), dtype=bool) for kind, it in requests.items()}
        known: dict[str, KnownRecords] | None = None
        ref_rows: np.ndarray | None = None
        for attempt in range(self.max_attempts):
            session = self.store.read(requests, known)
            try:
                result = _run_kernels(prep, session.records)
                if ref_rows is None:
                    ref_rows = _ref_rows(prep, result)
                changed = {kind: result.touched[kind] & ~done[kind] for kind in requests}
                refs = (
                    TxRefs(
                        ref_rows,
                        prep.ts,
                        prep.tx,
                        prep.entities["merchant"],
                        prep.entities["device"],
                    )
                    if len(ref_rows)
                    else None
                )
                self.store.write(session, changed, refs)
            except WriteConflict as conflict:
                self.stats["conflicts"] += 1
                final = _merge(final, result, prep, conflict.committed, done)
                # the kernels updated the records in place: the committed ones are current
                known = {k: KnownRecords(session.records[k], done[k].copy()) for k in done}
                _back_off(attempt)
                continue
            except BaseException:
                self.store.release(session)
                raise
            everything = {kind: np.ones(len(it), dtype=bool) for kind, it in requests.items()}
            return _merge(final, result, prep, everything, done)
        raise StoreError(
            f"profile store {self.store.url}: other writers changed this batch's profiles "
            f"{self.max_attempts} times in a row; batch not (entirely) applied, replaying it "
            "is safe"
        )

    def _frame(self, batch: TxBatch, prep: _Prepared, result: _Result) -> dict[str, np.ndarray]:
        computed: dict[str, np.ndarray] = dict(batch.columns())
        computed["hour"] = ((batch.timestamp // _MS_PER_HOUR) % 24).astype(np.float64)
        for kind, names in _FEATURES.items():
            out = result.out[kind]
            for k, name in enumerate(names):
                computed[name] = out[k] > 0.5 if name in K.BOOL_FEATURES else out[k]
        # tx_id always: the feedback learner keys its rows (and their late labels) by it
        frame: dict[str, np.ndarray] = {"tx_id": batch.tx_id}
        for name in self._names:
            column = computed.get(name)
            frame[name] = (
                column if column is not None else _missing(self.catalog.type_of(name), prep.n)
            )
        return frame

    # -- labels ---------------------------------------------------------------------------------

    def _label_entities(self, batch: TxBatch, due: DueLabels | None) -> _LabelRefs | None:
        """The fraud labels of ``due`` with the merchant and device of their transaction.

        A labelled transaction is looked up in the store's transaction references, or in
        ``batch`` itself when it is part of it (its reference is written with the batch).
        """
        if due is None or len(due) == 0:
            return None
        labels = due.labels
        self.stats["labels"] += len(labels)
        fraud = np.asarray(labels.is_fraud, dtype=bool)
        if not fraud.any():
            return None
        counts = np.concatenate([[0], np.cumsum(fraud)])
        times = np.asarray(labels.label_time, dtype=np.int64)[fraud]
        tx = intern(np.asarray(labels.tx_id, dtype=object)[fraud])
        merchants, devices = self.store.find_tx_refs(tx, times)
        unknown = np.flatnonzero(np.equal(merchants, None) & np.equal(devices, None))
        if len(unknown):
            rows = _rows_of(hash_strings(batch.tx_id), tx.row_hash[unknown])
            inside = rows >= 0
            merchants[unknown[inside]] = batch.merchant_id[rows[inside]]
            devices[unknown[inside]] = batch.device_id[rows[inside]]
        matched = np.not_equal(merchants, None) | np.not_equal(devices, None)
        self.stats["labels_unmatched"] += int((~matched).sum())
        self.stats["fraud_labels_applied"] += int(matched.sum())
        return _LabelRefs(
            times, tx.row_hash, counts[due.due], {"merchant": merchants, "device": devices}
        )

    def apply_labels(self, labels: LabelBatch) -> None:
        """Fold released fraud labels into the merchant and device profiles (once each)."""
        self.stats["labels"] += len(labels)
        fraud = np.asarray(labels.is_fraud, dtype=bool)
        if not fraud.any():
            return
        times = np.asarray(labels.label_time, dtype=np.int64)[fraud]
        order = np.argsort(times, kind="stable")
        times = times[order]
        tx = intern(np.asarray(labels.tx_id, dtype=object)[fraud][order])
        merchants, devices = self.store.find_tx_refs(tx, times)
        matched = np.not_equal(merchants, None) | np.not_equal(devices, None)
        self.stats["labels_unmatched"] += int((~matched).sum())
        requests = {"merchant": intern(merchants), "device": intern(devices)}
        for attempt in range(self.max_attempts):
            session = self.store.read(requests)
            try:
                touched = {}
                for kind, it in requests.items():
                    touched[kind] = np.zeros(len(it), dtype=bool)
                    recs = session.records[kind]
                    K.label_kernel(recs, it.codes, times, tx.row_hash, touched[kind])
                self.store.write(session, touched)
            except WriteConflict:
                self.stats["conflicts"] += 1
                _back_off(attempt)
                continue
            except BaseException:
                self.store.release(session)
                raise
            self.stats["fraud_labels_applied"] += int(matched.sum())
            return
        raise StoreError(f"profile store {self.store.url}: labels not applied (conflicts)")

    def flush(self) -> None:
        """Wait until the store acknowledged every profile write (before committing offsets)."""
        self.store.flush()

    def close(self) -> None:
        """Close the profile store (after waiting for its writes)."""
        self.store.flush()
        self.store.close()


# --- helpers ----------------------------------------------------------------------------------


_JITTER = random.Random()  # wall-clock pacing only: never touches a decision


def _back_off(attempt: int) -> None:
    """Sleep a random 0 .. 2^attempt ms (at most 64) before retrying a conflicted write, so
    two workers that keep updating the same hot profiles stop colliding in lockstep."""
    time.sleep(_JITTER.uniform(0.0, min(2.0**attempt, 64.0)) / 1000.0)


def _prepare(batch: TxBatch, labels: _LabelRefs | None) -> _Prepared:
    n = len(batch)
    amount = np.asarray(batch.amount, dtype=np.float64)
    finite = np.where(np.isfinite(amount), amount, 0.0)
    ttype = np.zeros(n, dtype=np.int8)
    entities, label_args = _intern_with_labels(batch, labels)
    types = intern(batch.type)
    if len(types):
        codes = np.array([K.TX_TYPE_CODES.get(t, 0) for t in types.ids.tolist()], dtype=np.int8)
        present = types.codes >= 0
        ttype[present] = codes[types.codes[present]]
    return _Prepared(
        n=n,
        ts=np.asarray(batch.timestamp, dtype=np.int64),
        amount=finite,
        cents=np.round(finite * 100.0).astype(np.int64),
        ttype=ttype,
        lat=np.asarray(batch.lat, dtype=np.float64),
        lon=np.asarray(batch.lon, dtype=np.float64),
        tx=intern(batch.tx_id),
        entities=entities,
        country_h=hash_strings(batch.country),
        labels=label_args,
    )


def _intern_with_labels(
    batch: TxBatch, labels: _LabelRefs | None
) -> tuple[dict[str, Interned], dict[str, tuple[np.ndarray, ...]]]:
    """Entities of the rows (and of the labels' transactions: read and written with them),
    and each labelled kind's kernel argument (codes, times, tx hashes, due counts per row)."""
    n = len(batch)
    entities: dict[str, Interned] = {}
    label_args: dict[str, tuple[np.ndarray, ...]] = {}
    for kind, name in _ENTITY_FIELDS.items():
        column = getattr(batch, name)
        if labels is None or kind not in labels.ids:
            entities[kind] = intern(column)
            if kind in _LABELLED:
                label_args[kind] = _no_labels(n)
            continue
        both = intern(np.concatenate([np.asarray(column, dtype=object), labels.ids[kind]]))
        entities[kind] = replace(both, codes=both.codes[:n], row_hash=both.row_hash[:n])
        label_args[kind] = (both.codes[n:], labels.times, labels.txh, labels.due)
    return entities, label_args


def _no_labels(n: int) -> tuple[np.ndarray, ...]:
    empty = np.zeros(0, dtype=np.int64)
    return (empty, empty, np.zeros(0, dtype=np.uint64), np.zeros(n, dtype=np.int64))


def _rows_of(row_hashes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each hash in ``wanted``, a row of ``row_hashes`` holding it (-1 when none)."""
    order = np.argsort(row_hashes, kind="stable")
    ordered = row_hashes[order]
    pos = np.minimum(np.searchsorted(ordered, wanted), max(len(ordered) - 1, 0))
    if len(ordered) == 0:
        return np.full(len(wanted), -1, dtype=np.int64)
    return np.where(ordered[pos] == wanted, order[pos], -1)


def _run_kernels(prep: _Prepared, records: Mapping[str, np.ndarray]) -> _Result:
    n = prep.n
    ent = prep.entities
    out = {kind: np.empty((len(names), n)) for kind, names in _FEATURES.items()}
    dup = {kind: np.zeros(n, dtype=bool) for kind in _FEATURES}
    touched = {kind: np.zeros(len(ent[kind]), dtype=bool) for kind in _FEATURES}
    h = {kind: ent[kind].row_hash for kind in ent}
    txh = prep.tx.row_hash
    K.customer_kernel(
        records["customer"],
        ent["customer"].codes,
        prep.ts,
        prep.amount,
        prep.cents,
        txh,
        prep.ttype,
        prep.lat,
        prep.lon,
        h["device"],
        prep.country_h,
        h["payee"],
        h["merchant"],
        out["customer"],
        dup["customer"],
        touched["customer"],
    )
    K.card_kernel(
        records["card"],
        ent["card"].codes,
        prep.ts,
        prep.amount,
        prep.cents,
        txh,
        prep.lat,
        prep.lon,
        h["merchant"],
        out["card"],
        dup["card"],
        touched["card"],
    )
    K.device_kernel(
        records["device"],
        ent["device"].codes,
        prep.ts,
        txh,
        h["customer"],
        h["card"],
        prep.labels["device"],
        out["device"],
        dup["device"],
        touched["device"],
    )
    K.merchant_kernel(
        records["merchant"],
        ent["merchant"].codes,
        prep.ts,
        prep.amount,
        prep.cents,
        txh,
        prep.labels["merchant"],
        out["merchant"],
        dup["merchant"],
        touched["merchant"],
    )
    K.payee_kernel(
        records["payee"],
        ent["payee"].codes,
        prep.ts,
        prep.cents,
        txh,
        h["customer"],
        out["payee"],
        dup["payee"],
        touched["payee"],
    )
    return _Result(out, dup, touched)


def _ref_rows(prep: _Prepared, result: _Result) -> np.ndarray:
    """Rows whose transaction reference is written: new ones with a merchant or a device."""
    has = (prep.entities["merchant"].codes >= 0) | (prep.entities["device"].codes >= 0)
    return np.flatnonzero(has & ~result.dup["customer"])


def _merge(
    final: _Result | None,
    result: _Result,
    prep: _Prepared,
    committed: Mapping[str, np.ndarray],
    done: dict[str, np.ndarray],
) -> _Result:
    """Keep, for rows whose entity was just committed, this attempt's features."""
    if final is None and all(committed[kind].all() for kind in prep.entities):
        return result  # the common case: everything committed at the first attempt
    if final is None:
        final = _Result(
            {k: np.full_like(v, np.nan) for k, v in result.out.items()},
            {k: np.zeros_like(v) for k, v in result.dup.items()},
            {k: np.zeros_like(v) for k, v in result.touched.items()},
        )
        first = True
    else:
        first = False
    for kind, it in prep.entities.items():
        newly = committed.get(kind, np.zeros(len(it), dtype=bool)) & ~done[kind]
        rows = np.zeros(prep.n, dtype=bool)
        present = it.codes >= 0
        rows[present] = newly[it.codes[present]]
        if first:
            rows |= ~present  # rows without this entity: the missing values, once
        final.out[kind][:, rows] = result.out[kind][:, rows]
        final.dup[kind][rows] = result.dup[kind][rows]
        done[kind] |= newly
    return final


def _missing(ftype: FeatureType, n: int) -> np.ndarray:
    if ftype is FeatureType.NUMBER:
        return np.full(n, np.nan)
    if ftype is FeatureType.BOOL:
        return np.zeros(n, dtype=bool)
    if ftype is FeatureType.TIME:
        return np.zeros(n, dtype=np.int64)
    return np.full(n, None, dtype=object)


def build_feature_stage(config: Mapping[str, Any], catalog: FeatureCatalog) -> FeatureStage:
    """The feature stage the Engine uses, as ``config["features"]`` asks.

    Keys (all optional): ``store`` (URL, default ``memory://``), ``key_prefix`` (``rs``),
    ``buckets`` (hash-tag buckets; unset: the layout recorded under the prefix, else 1 for one
    Redis with a single writer and 16 for a cluster or optimistic concurrency), ``concurrency``
    (``single_writer`` for one Redis, ``optimistic`` for a cluster), ``cache_entries``
    (500,000 with a single writer), ``write_behind`` (false), ``socket_timeout_s`` (5),
    ``label_horizon_days`` (90), ``max_attempts`` (32).
    """
    section = config.get("features") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("config: 'features' must be a mapping")
    url = section.get("store") or "memory://"
    options: dict[str, Any] = {
        "label_horizon_ms": int(
            float(section.get("label_horizon_days", DEFAULT_LABEL_HORIZON_MS / 86_400_000))
            * 86_400_000
        )
    }
    if not str(url).startswith("memory"):
        options["prefix"] = str(section.get("key_prefix", "rs"))
        if section.get("buckets"):
            options["buckets"] = int(section["buckets"])
        if section.get("concurrency"):
            options["concurrency"] = str(section["concurrency"])
        if section.get("cache_entries") is not None:
            options["cache_entries"] = int(section["cache_entries"])
        if section.get("write_behind"):
            options["write_behind"] = True
        options["socket_timeout"] = float(section.get("socket_timeout_s", 5.0))
    store = open_store(str(url), **options)
    return FeatureStage(catalog, store, max_attempts=int(section.get("max_attempts", 32)))
