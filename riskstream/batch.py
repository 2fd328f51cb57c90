"""The columnar micro-batch every stage works on: one numpy array per transaction field.

A `TxBatch` holds only valid transactions (the decoder sends the rest to the dead-letter
output). String fields are object arrays of ``str`` with ``None`` for a missing optional field;
numbers are float64 with NaN for missing; the event time is int64 epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

__all__ = ["OPTIONAL_STRING_FIELDS", "REQUIRED_FIELDS", "TX_TYPES", "DeadLetter", "TxBatch"]

REQUIRED_FIELDS: tuple[str, ...] = ("tx_id", "customer_id", "amount", "currency", "timestamp")
OPTIONAL_STRING_FIELDS: tuple[str, ...] = (
    "card_id",
    "merchant_id",
    "mcc",
    "channel",
    "country",
    "device_id",
    "ip",
    "payee_id",
    "type",
)
TX_TYPES: frozenset[str] = frozenset({"purchase", "withdrawal", "transfer", "deposit", "refund"})


@dataclass
class DeadLetter:
    """An input record that could not become a transaction, kept with its original bytes."""

    offset: int
    reason: str
    raw: bytes
    detail: str = ""

    def to_json_dict(self) -> dict[str, object]:
        """The dead-letter record: ``raw`` when the bytes are UTF-8, else ``raw_b64``."""
        record: dict[str, object] = {"reason": self.reason, "offset": self.offset}
        try:
            record["raw"] = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            import base64

            record["raw_b64"] = base64.b64encode(self.raw).decode("ascii")
        if self.detail:
            record["detail"] = self.detail
        return record


@dataclass
class TxBatch:
    """A micro-batch of valid transactions, in input order, as columns.

    ``offset`` is the position of each record in its source (line index of a file, Kafka
    offset of a topic) and ``ingest_ns`` the monotonic clock reading when the batch was read
    (used only for the latency figure, never for a decision).
    """

    offset: np.ndarray
    tx_id: np.ndarray
    customer_id: np.ndarray
    amount: np.ndarray
    currency: np.ndarray
    timestamp: np.ndarray
    card_id: np.ndarray
    merchant_id: np.ndarray
    mcc: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    device_id: np.ndarray
    ip: np.ndarray
    payee_id: np.ndarray
    type: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    ingest_ns: int = 0

    def __len__(self) -> int:
        return len(self.tx_id)

    @classmethod
    def empty(cls) -> TxBatch:
        obj = np.empty(0, dtype=object)
        columns = {}
        for f in fields(cls):
            if f.name == "ingest_ns":
                continue
            if f.name in ("amount", "lat", "lon"):
                columns[f.name] = np.empty(0, dtype=np.float64)
            elif f.name in ("offset", "timestamp"):
                columns[f.name] = np.empty(0, dtype=np.int64)
            else:
                columns[f.name] = obj.copy()
        return cls(**columns)

    def take(self, index: np.ndarray) -> TxBatch:
        """A new batch with the rows at ``index`` (boolean mask or integer positions)."""
        columns = {
            f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "ingest_ns"
        }
        return TxBatch(**columns, ingest_ns=self.ingest_ns)

    def columns(self) -> dict[str, np.ndarray]:
        """The field columns by name (the transaction part of a feature frame)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ingest_ns"}
