from __future__ import annotations

import numpy as np
import orjson


def make_transactions(n: int, seed: int = 0, customers: int = 20) -> list[bytes]:
    """Plausible, valid, time-ordered transactions (no simulator needed)."""
    rng = np.random.default_rng(seed)
    start = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    times = start + np.cumsum(rng.integers(1_000, 600_000, n))
    lines = []
    for i in range(n):
        record = {
            "tx_id": f"tx{i:07d}",
            "customer_id": f"cu{int(rng.integers(customers)):04d}",
            "amount": round(float(rng.lognormal(3.5, 1.2)), 2),
            "currency": "EUR",
            "timestamp": int(times[i]),
            "card_id": f"card{i % 7}",
            "channel": "pos",
        }
        lines.append(orjson.dumps(record))
    return lines
