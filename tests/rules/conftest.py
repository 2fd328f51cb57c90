"""Fixtures for the rule-language tests: a catalog of our own (so the tests do not change when
the shipped catalog grows) and a helper that turns rows into a frame of columns."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from riskstream.features.catalog import FeatureCatalog, FeatureSpec, FeatureType

N, B, S, T = FeatureType.NUMBER, FeatureType.BOOL, FeatureType.STRING, FeatureType.TIME

SPECS = [
    ("amount", N, "tx"),
    ("hour", N, "tx"),
    ("lat", N, "tx"),
    ("lon", N, "tx"),
    ("timestamp", T, "tx"),
    ("currency", S, "tx"),
    ("channel", S, "tx"),
    ("type", S, "tx"),
    ("mcc", S, "tx"),
    ("country", S, "tx"),
    ("customer_id", S, "tx"),
    ("card_id", S, "tx"),
    ("merchant_id", S, "tx"),
    ("device_id", S, "tx"),
    ("payee_id", S, "tx"),
    ("ip", S, "tx"),
    ("customer.is_new_device", B, "customer"),
    ("customer.tx_count_1h", N, "customer"),
    ("customer.amount_zscore", N, "customer"),
    ("customer.home_lat", N, "customer"),
    ("customer.home_lon", N, "customer"),
    ("customer.home_country", S, "customer"),
    ("customer.last_seen", T, "customer"),
    ("customer.deposit_sum_month_0", N, "customer"),
    ("customer.deposit_sum_month_1", N, "customer"),
    ("customer.deposit_sum_month_2", N, "customer"),
]


def make_catalog() -> FeatureCatalog:
    return FeatureCatalog([FeatureSpec(name, t, entity) for name, t, entity in SPECS])


@pytest.fixture
def catalog() -> FeatureCatalog:
    return make_catalog()


def make_frame(catalog: Mapping[str, FeatureSpec], rows: Sequence[Mapping[str, Any]]) -> dict:
    """Columns for every catalog name; names a row does not give are missing."""
    n = len(rows)
    frame: dict[str, np.ndarray] = {}
    for name, spec in catalog.items():
        values = [row.get(name) for row in rows]
        if spec.type is N:
            frame[name] = np.array([math.nan if v is None else v for v in values], np.float64)
        elif spec.type is B:
            frame[name] = np.array([bool(v) for v in values], dtype=np.bool_)
        elif spec.type is T:
            frame[name] = np.array([0 if v is None else v for v in values], dtype=np.int64)
        else:
            column = np.empty(n, dtype=object)
            column[:] = values
            frame[name] = column
    return frame


def rules_yaml(*rules: str, head: str = "") -> str:
    """A rule file from rule entries written as flow mappings (one a line)."""
    body = "\n".join(f"  - {r}" for r in rules)
    return f"version: 1\n{head}rules:\n{body}\n"
