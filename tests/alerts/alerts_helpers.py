"""Shared constants of the alert tests (a module of its own: conftest names clash)."""

from __future__ import annotations

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MIN = 60_000

CONTACTS = {
    "cu1": {"customer_id": "cu1", "phone": "+4915000847647", "language": "en"},
    "cu2": {"customer_id": "cu2", "phone": "+8613800138000", "language": "zh"},
    "cu3": {"customer_id": "cu3", "phone": "+31608501968", "language": "en"},
}
MERCHANTS = {"me1": {"merchant_id": "me1", "name": "Shop X"}}
