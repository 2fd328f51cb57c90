"""The customer contact store and the merchant directory the SMS texts are written from.

Both are JSON-lines files written by the simulator (``contacts.jsonl``: customer_id, phone in
E.164, language, display_name; ``merchants.jsonl``: merchant_id, name, ...) or exported by the
bank. The full phone number is handed out by `ContactStore.phone` only, which only a sender
calls; everything else asks for the language or the masked number.

Examples
--------
>>> contacts = ContactStore({"cu1": {"phone": "+4915000847647", "language": "zh"}})
>>> contacts.language("cu1"), contacts.masked_phone("cu1"), contacts.language("cu9")
('zh', '+49*********47', None)
>>> contacts.customer_for_phone("+49 1500 0847647")
'cu1'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from riskstream.alerts.masking import get_logger, mask_phone
from riskstream.errors import ConfigError

__all__ = ["ContactStore", "MerchantDirectory", "read_table"]

log = get_logger(__name__)


def read_table(path: str | Path, key: str) -> dict[str, dict[str, Any]]:
    """A JSON-lines file as ``{row[key]: row}``; bad lines are counted and skipped."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    rows: dict[str, dict[str, Any]] = {}
    bad = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
            rows[str(row[key])] = row
        except (orjson.JSONDecodeError, KeyError, TypeError):
            bad += 1
    if bad:
        log.warning("%s: %d invalid lines skipped", path, bad)
    return rows


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


class ContactStore:
    """Customers' phone numbers and languages, by customer id.

    Parameters
    ----------
    rows
        ``{customer_id: {"phone": ..., "language": ...}}``.
    """

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        self.rows = rows
        self._by_digits: dict[str, str] | None = None

    @classmethod
    def load(cls, path: str | Path) -> ContactStore:
        return cls(read_table(path, "customer_id"))

    @classmethod
    def empty(cls) -> ContactStore:
        return cls({})

    def __len__(self) -> int:
        return len(self.rows)

    def language(self, customer_id: str) -> str | None:
        row = self.rows.get(customer_id)
        return row.get("language") if row else None

    def masked_phone(self, customer_id: str) -> str | None:
        phone = self.phone(customer_id)
        return mask_phone(phone) if phone else None

    def phone(self, customer_id: str) -> str | None:
        """The full number: for senders only, never to be written or logged."""
        row = self.rows.get(customer_id)
        phone = row.get("phone") if row else None
        return phone if isinstance(phone, str) and phone else None

    def customer_for_phone(self, phone: str) -> str | None:
        """The customer a reply came from (by the digits of the number), or None."""
        if self._by_digits is None:
            self._by_digits = {
                _digits(str(row.get("phone", ""))): cid for cid, row in self.rows.items()
            }
        return self._by_digits.get(_digits(phone))


class MerchantDirectory:
    """Merchant display names by merchant id (the id itself when unknown)."""

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        self.rows = rows

    @classmethod
    def load(cls, path: str | Path) -> MerchantDirectory:
        return cls(read_table(path, "merchant_id"))

    @classmethod
    def empty(cls) -> MerchantDirectory:
        return cls({})

    def name(self, merchant_id: str | None) -> str | None:
        if not merchant_id:
            return None
        row = self.rows.get(merchant_id)
        return str(row.get("name") or merchant_id) if row else merchant_id
