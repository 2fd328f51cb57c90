"""The feature stage of the Engine: turns a `TxBatch` into a frame, one column per catalog name.

The frame holds the transaction's own fields, derived fields (``hour``) and the profile
features of its entities, each computed from the profile state *before* the transaction and
then folded in. Labels reach the stage through `apply_labels` only once their ``label_time``
has passed in event time (the Engine sees to that).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from riskstream.batch import TxBatch
from riskstream.features.basic import CUSTOMER_BASIC_DTYPE, customer_basic_kernel
from riskstream.features.catalog import FeatureCatalog, FeatureType

__all__ = ["FeatureStage", "LabelBatch", "build_feature_stage"]

_MS_PER_HOUR = 3_600_000
_BASIC_OUTPUTS = (
    "customer.tx_count_1h",
    "customer.tx_count_24h",
    "customer.amount_mean",
    "customer.amount_zscore",
    "customer.amount_ratio",
    "customer.seconds_since_last",
    "customer.tx_count_total",
)


class LabelBatch:
    """Labels released to the stages: ``tx_id``, ``is_fraud`` and ``label_time`` columns."""

    def __init__(self, tx_id: np.ndarray, is_fraud: np.ndarray, label_time: np.ndarray) -> None:
        self.tx_id = tx_id
        self.is_fraud = is_fraud
        self.label_time = label_time

    def __len__(self) -> int:
        return len(self.tx_id)


class _MemoryCustomerProfiles:
    """In-process customer profiles: an id -> row index and one structured array."""

    def __init__(self, capacity: int = 1024) -> None:
        self.index: dict[str, int] = {}
        self.records = np.zeros(capacity, dtype=CUSTOMER_BASIC_DTYPE)
        self.records["last_ts"] = -1

    def rows_for(self, ids: np.ndarray) -> np.ndarray:
        index = self.index
        rows = np.fromiter(
            (index.setdefault(key, len(index)) for key in ids.tolist()),
            dtype=np.int64,
            count=len(ids),
        )
        if len(index) > len(self.records):
            grown = np.zeros(max(len(index), 2 * len(self.records)), dtype=CUSTOMER_BASIC_DTYPE)
            grown["last_ts"] = -1
            grown[: len(self.records)] = self.records
            self.records = grown
        return rows


class FeatureStage:
    """Computes the feature frame of a batch and keeps the profiles it reads up to date.

    Parameters
    ----------
    catalog
        The names (and types) the frame must provide.
    """

    def __init__(self, catalog: FeatureCatalog) -> None:
        self.catalog = catalog
        self._customers = _MemoryCustomerProfiles()
        self.labels_seen = 0

    def compute(self, batch: TxBatch) -> dict[str, np.ndarray]:
        frame: dict[str, np.ndarray] = dict(batch.columns())
        frame["hour"] = ((batch.timestamp // _MS_PER_HOUR) % 24).astype(np.float64)
        frame.update(self._customer_basic(batch))
        return {name: frame[name] for name in self.catalog if name in frame} | _missing_columns(
            self.catalog, frame, len(batch)
        )

    def apply_labels(self, labels: LabelBatch) -> None:
        """Label-fed features arrive with the features issue; for now labels are counted."""
        self.labels_seen += len(labels)

    def _customer_basic(self, batch: TxBatch) -> dict[str, np.ndarray]:
        profiles = self._customers
        rows = profiles.rows_for(batch.customer_id)
        out = np.empty((len(batch), len(_BASIC_OUTPUTS)), dtype=np.float64)
        rec = profiles.records
        customer_basic_kernel(
            rows,
            batch.timestamp,
            batch.amount,
            rec["last_ts"],
            rec["count_1h"],
            rec["count_24h"],
            rec["amount_mean"],
            rec["log_mean"],
            rec["log_var"],
            rec["n"],
            out,
        )
        return {name: np.ascontiguousarray(out[:, k]) for k, name in enumerate(_BASIC_OUTPUTS)}


def build_feature_stage(config: Mapping[str, object], catalog: FeatureCatalog) -> FeatureStage:
    """The feature stage the Engine uses, as the config asks (store, windows, ...)."""
    return FeatureStage(catalog)


def _missing_columns(
    catalog: FeatureCatalog, frame: Mapping[str, np.ndarray], n: int
) -> dict[str, np.ndarray]:
    """Catalog names this stage cannot compute get their type's missing value."""
    missing: dict[str, np.ndarray] = {}
    for name in catalog:
        if name in frame:
            continue
        ftype = catalog.type_of(name)
        if ftype is FeatureType.NUMBER:
            missing[name] = np.full(n, np.nan)
        elif ftype is FeatureType.BOOL:
            missing[name] = np.zeros(n, dtype=bool)
        elif ftype is FeatureType.TIME:
            missing[name] = np.zeros(n, dtype=np.int64)
        else:
            missing[name] = np.full(n, None, dtype=object)
    return missing
