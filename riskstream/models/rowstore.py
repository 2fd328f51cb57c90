"""The feedback learner's memory: recent feature rows by tx id, waiting for their late labels.

Owns `RowStore`: rows are appended in arrival order with their event time, labels are attached
when they are released, and rows leave when they are older than the time to live or when the
store is full (oldest first). A label whose row has left, or never came, is counted and lost.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from riskstream.errors import ModelError

__all__ = ["RowStore", "TrainingRows"]

#: `label` of a row without a label yet.
UNLABELLED = -1


@dataclass
class TrainingRows:
    """Positions of the rows eligible for training at some time, by kind (see `RowStore`)."""

    positives: np.ndarray
    labelled_negatives: np.ndarray
    implicit_negatives: np.ndarray
    n_unlabelled: int


class RowStore:
    """Feature rows keyed by tx id, with their event time and label, bounded in size and age.

    Rows are kept in arrival order in float32 arrays that grow by doubling (to `max_rows` plus
    a half, so that dropping the oldest rows moves memory only now and then); a dict maps
    each tx id to its row. A label (`is_fraud`, `label_time`) is attached to its row; the
    latest label of a tx id wins. Rows leave the store when
    `evict(now)` finds them older than `ttl_ms` of event time, or when adding rows to a full
    store (the oldest go first). A label for a tx id that is not (or no longer) in the store
    cannot be learnt from: it is counted in `labels_missed` and dropped. A label that comes
    before its row (a driver that releases labels a little early, or partitions that run
    apart) waits, up to `max_early` of them and for at most `ttl_ms`, and is attached when the
    row comes.

    Memory: `4 * n_features + 25` bytes per row (up to 1.5 `max_rows` rows allocated) plus
    the dict entry of its tx id (about 100 bytes for a short string): about 0.6 kB a row for
    90 features, 600 MB for a million rows.

    Parameters
    ----------
    n_features
        Columns of a row.
    max_rows
        Most rows kept.
    ttl_ms
        Longest a row is kept, in event-time milliseconds.
    max_early
        Most labels kept waiting for their row.

    Examples
    --------
    >>> store = RowStore(n_features=2, max_rows=3, ttl_ms=1000)
    >>> store.add(np.array(["a", "b", "c"], dtype=object), np.array([0, 10, 20]),
    ...           np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    >>> store.label(np.array(["b", "zz"], dtype=object), np.array([True, False]),
    ...             np.array([500, 500]))
    >>> store.add(np.array(["d"], dtype=object), np.array([900]), np.array([[7.0, 8.0]]))
    >>> len(store), store.labels_applied, store.labels_waiting
    (3, 1, 1)
    >>> rows = store.training_rows(now=600, negative_after_ms=100)
    >>> store.rows(rows.positives).tolist(), store.rows(rows.implicit_negatives).tolist()
    ([[3.0, 4.0]], [[5.0, 6.0]])
    >>> store.evict(now=1501)
    >>> len(store), store.labels_missed  # the label of "zz" waited for its row in vain
    (1, 1)
    """

    def __init__(
        self,
        n_features: int,
        max_rows: int = 1_000_000,
        ttl_ms: int = 60 * 86_400_000,
        max_early: int = 100_000,
    ) -> None:
        if n_features < 1 or max_rows < 1 or ttl_ms <= 0 or max_early < 0:
            raise ModelError("RowStore needs n_features >= 1, max_rows >= 1 and ttl_ms > 0")
        self.n_features = n_features
        self.max_rows = int(max_rows)
        self.ttl_ms = int(ttl_ms)
        self.max_early = int(max_early)
        self._index: dict[str, int] = {}
        self._early: dict[str, tuple[bool, int]] = {}  # labels waiting for their row
        self._base = 0  # absolute number of the row at position 0
        self._start = 0  # first live position
        self._end = 0  # one past the last live position
        self._allocate(min(1024, self.max_rows))
        self.labels_applied = 0
        self.labels_missed = 0
        self.rows_evicted = 0

    def _allocate(self, capacity: int) -> None:
        self._X = np.empty((capacity, self.n_features), dtype=np.float32)
        self._ts = np.empty(capacity, dtype=np.int64)
        self._label = np.full(capacity, UNLABELLED, dtype=np.int8)
        self._label_time = np.zeros(capacity, dtype=np.int64)
        self._tx = np.empty(capacity, dtype=object)
        self._learnt = np.zeros(capacity, dtype=np.int8)

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def labels_waiting(self) -> int:
        """Labels that came before their row and wait for it."""
        return len(self._early)

    # ------------------------------------------------------------------ writing

    def add(self, tx_id: np.ndarray, ts: np.ndarray, X: np.ndarray) -> None:
        """Append rows (in arrival order); a tx id seen before now names its new row."""
        n = len(tx_id)
        if n == 0:
            return
        if X.shape != (n, self.n_features) or ts.shape != (n,):
            raise ModelError(f"RowStore.add: expected {n} rows of {self.n_features} features")
        if n > self.max_rows:  # only the newest max_rows can stay
            tx_id, ts, X = tx_id[-self.max_rows :], ts[-self.max_rows :], X[-self.max_rows :]
            n = self.max_rows
        self._make_room(n)
        at = slice(self._end, self._end + n)
        with np.errstate(over="ignore"):  # beyond float32's range: +-inf, as the model sees it
            self._X[at] = X
        self._ts[at] = ts
        self._label[at] = UNLABELLED
        self._label_time[at] = 0
        self._tx[at] = tx_id
        self._learnt[at] = 0
        first = self._base + self._end
        keys = tx_id.tolist()
        self._index.update(zip(keys, range(first, first + n), strict=True))
        self._end += n
        if self._early:
            early = self._early
            waiting = [(key, early.pop(key)) for key in keys if key in early]
            if waiting:
                self.label(
                    np.array([key for key, _ in waiting], dtype=object),
                    np.array([fraud for _, (fraud, _) in waiting], dtype=bool),
                    np.array([when for _, (_, when) in waiting], dtype=np.int64),
                )

    def _make_room(self, n: int) -> None:
        overflow = len(self) + n - self.max_rows
        if overflow > 0:
            self._drop_oldest(overflow)
        capacity = len(self._ts)
        if self._end + n <= capacity:
            return
        needed = len(self) + n
        full = self.max_rows + max(self.max_rows // 2, 1024)
        if needed > capacity // 2 and capacity < full:  # grow: amortised doubling
            self._move_live(min(max(2 * capacity, needed), full))
        else:  # full size: move the live rows to the front (every max_rows / 2 rows at most)
            self._move_live(capacity)

    def _move_live(self, capacity: int) -> None:
        """Put the live rows at position 0 of arrays of ``capacity`` rows (the same arrays
        when the size does not change: fresh ones would cost their page faults again)."""
        live = slice(self._start, self._end)
        m = self._end - self._start
        arrays = ("_X", "_ts", "_label", "_label_time", "_tx", "_learnt")
        if capacity == len(self._ts):
            for name in arrays:
                column = getattr(self, name)
                column[:m] = column[live].copy() if self._start < m else column[live]
        else:
            old = [getattr(self, name)[live] for name in arrays]
            self._allocate(capacity)
            for name, column in zip(arrays, old, strict=True):
                getattr(self, name)[:m] = column
        self._tx[m:] = None  # drop the references of moved-out ids
        self._base += self._start
        self._start, self._end = 0, m

    def _drop_oldest(self, n: int) -> None:
        gone = slice(self._start, self._start + n)
        first = self._base + self._start
        keys = self._tx[gone].tolist()
        index = self._index
        # Pop them all in one C-level pass; an id whose newer row is still live (added twice)
        # goes back with that row.
        popped = list(map(index.pop, keys, itertools.repeat(-1)))
        kept = np.flatnonzero(np.fromiter(popped, np.int64, n) > np.arange(first, first + n))
        for k in kept.tolist():
            if popped[k] >= first + n:
                index[keys[k]] = popped[k]
        self._tx[gone] = None
        self._start += n
        self.rows_evicted += n

    def evict(self, now: int) -> None:
        """Drop the rows older than `ttl_ms` at event time `now`, and labels waiting as long."""
        if self._early:
            stale = [k for k, (_, when) in self._early.items() if when < now - self.ttl_ms]
            for key in stale:
                del self._early[key]
            self.labels_missed += len(stale)
        live_ts = self._ts[self._start : self._end]
        # Rows arrive in event-time order up to small disorder: drop the old prefix.
        old = int(np.argmax(live_ts >= now - self.ttl_ms)) if len(live_ts) else 0
        if len(live_ts) and live_ts[-1] < now - self.ttl_ms:
            old = len(live_ts)
        if old:
            self._drop_oldest(old)

    def label(self, tx_id: np.ndarray, is_fraud: np.ndarray, label_time: np.ndarray) -> None:
        """Attach labels to their rows; labels of unknown tx ids are counted and dropped."""
        index = self._index
        offset = self._base
        found = np.fromiter(
            (index.get(key, -1) for key in tx_id.tolist()), dtype=np.int64, count=len(tx_id)
        )
        hit = found >= 0
        positions = found[hit] - offset
        is_fraud = np.asarray(is_fraud, dtype=bool)
        label_time = np.asarray(label_time, dtype=np.int64)
        self._label[positions] = is_fraud[hit]
        self._label_time[positions] = label_time[hit]
        self.labels_applied += int(hit.sum())
        for k in np.flatnonzero(~hit).tolist():
            if len(self._early) < self.max_early:
                self._early[tx_id[k]] = (bool(is_fraud[k]), int(label_time[k]))
            else:
                self.labels_missed += 1

    # ------------------------------------------------------------------ reading

    def training_rows(self, now: int, negative_after_ms: int) -> TrainingRows:
        """The rows a learner may use at event time `now`, as positions for `rows`.

        Positives and labelled negatives: a label with `label_time <= now`. Implicit negatives:
        no such label, and the transaction is at least `negative_after_ms` old (`ts <=
        now - negative_after_ms`): banks treat a payment nobody disputed for a while as
        genuine. Rows younger than that without a label are not used.
        """
        live = slice(self._start, self._end)
        label = self._label[live]
        known = (label != UNLABELLED) & (self._label_time[live] <= now)
        positions = np.arange(self._start, self._end)
        old_enough = self._ts[live] <= now - negative_after_ms
        return TrainingRows(
            positives=positions[known & (label == 1)],
            labelled_negatives=positions[known & (label == 0)],
            implicit_negatives=positions[~known & old_enough],
            n_unlabelled=int((~known).sum()),
        )

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The feature rows at `positions` (float32 copies)."""
        return self._X[positions]

    def timestamps(self, positions: np.ndarray) -> np.ndarray:
        return self._ts[positions]

    def learnt(self, positions: np.ndarray) -> np.ndarray:
        """What an incremental learner has learnt from each row: 0 nothing, 1 genuine, 2 fraud."""
        return self._learnt[positions]

    def mark_learnt(self, positions: np.ndarray, what: np.ndarray) -> None:
        self._learnt[positions] = what
