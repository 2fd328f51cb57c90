"""The deny list a NO reply feeds: blocked cards (by card hash) and held customers, with the
event time from which each block holds, for later decisions to read.

A NO reply writes one entry per card of the denied transactions (``kind: card``,
``card_hash`` = SHA-256 of the card id, masked ``card``) or, for a transaction without a
card, a ``kind: customer`` hold; see `riskstream.alerts.manager`. The entries live in the
task store (``card_blocks.jsonl`` of a directory store, the ``blocks`` list of the Redis one).
`DenyList.blocked_cards` answers, for a batch, which rows use a card blocked at or before the
row's event time, on columns (hashing each distinct card id once), so a feature stage can
expose it (for instance as ``card.blocked``) and a rule can block on it.

Examples
--------
>>> import numpy as np
>>> from riskstream.alerts.tasks import card_hash
>>> deny = DenyList([{"kind": "card", "card_hash": card_hash("card_ab"), "customer_id": "cu1",
...                   "blocked_at": "2026-01-01T00:02:00.000Z"}])
>>> cards = np.array(["card_ab", "card_ab", "card_cd", None], dtype=object)
>>> times = np.array([1767225600000, 1767225720000, 1767225720000, 1767225720000])
>>> deny.blocked_cards(cards, times).tolist()
[False, True, False, False]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskstream.alerts.store import TaskStore
from riskstream.alerts.tasks import card_hash, parse_time
from riskstream.errors import AlertError

__all__ = ["DenyList"]

_NEVER = np.iinfo(np.int64).max


class DenyList:
    """Blocked cards and held customers, each from an event time on.

    Parameters
    ----------
    entries
        Block records as a NO reply writes them.
    """

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        self.cards: dict[str, int] = {}
        self.customers: dict[str, int] = {}
        for entry in entries:
            since = parse_time(entry["blocked_at"])
            if entry.get("kind", "card") == "card" and entry.get("card_hash"):
                key = str(entry["card_hash"])
                self.cards[key] = min(since, self.cards.get(key, since))
            elif entry.get("customer_id"):
                key = str(entry["customer_id"])
                self.customers[key] = min(since, self.customers.get(key, since))

    @classmethod
    def load(cls, path: str | Path) -> DenyList:
        """From a ``card_blocks.jsonl`` file."""
        lines = Path(path).read_bytes().splitlines()
        return cls(orjson.loads(line) for line in lines if line.strip())

    @classmethod
    def from_store(cls, store: TaskStore) -> DenyList:
        return cls(store.blocks())

    @classmethod
    def open(cls, spec: str | Path, redis_prefix: str = "rs:{sms}:") -> DenyList:
        """The deny list at ``spec``: a ``card_blocks.jsonl`` file, a task-store directory
        (its ``card_blocks.jsonl``; none yet: empty) or a Redis task store (``redis://...``).

        Read only: a directory store is read without taking its lock, so a running `run` or
        `sms reply` may keep writing it.
        """
        text = str(spec)
        if text.startswith(("redis://", "rediss://", "unix://")):
            from riskstream.alerts.redis_store import RedisTaskStore

            store = RedisTaskStore(text, prefix=redis_prefix)
            try:
                return cls.from_store(store)
            finally:
                store.close()
        path = Path(text)
        if path.is_dir():
            path = path / "card_blocks.jsonl"
            if not path.exists():
                return cls([])
        try:
            return cls.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # orjson's errors: ValueError
            raise AlertError(
                f"deny list {path}: {exc!r}; expected the card_blocks.jsonl that "
                "`riskstream sms reply` writes"
            ) from None

    def __len__(self) -> int:
        return len(self.cards) + len(self.customers)

    def blocked_cards(self, card_ids: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """For each row, whether its card was blocked at or before its event time."""
        out = np.zeros(len(card_ids), dtype=bool)
        if not self.cards or len(card_ids) == 0:
            return out
        present = np.flatnonzero(card_ids != None)  # noqa: E711 (object array)
        if present.size == 0:
            return out
        unique, inverse = np.unique(card_ids[present].astype(str), return_inverse=True)
        since = np.array([self.cards.get(card_hash(c), _NEVER) for c in unique.tolist()])
        out[present] = np.asarray(timestamps)[present] >= since[inverse]
        return out

    def held_customers(self, customer_ids: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """For each row, whether its customer was put on hold at or before its event time."""
        if not self.customers or len(customer_ids) == 0:
            return np.zeros(len(customer_ids), dtype=bool)
        unique, inverse = np.unique(customer_ids.astype(str), return_inverse=True)
        since = np.array([self.customers.get(c, _NEVER) for c in unique.tolist()])
        return np.asarray(timestamps) >= since[inverse]
