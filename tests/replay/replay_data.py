"""Small hand-made histories for the replay tests (numbers chosen so metrics are checkable)."""

from __future__ import annotations

from pathlib import Path

import orjson

DAY1 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000

# (tx_id, customer, card, amount, day, hour, is_fraud or None when unlabelled)
ROWS = [
    ("t0", "c1", "k1", 20.0, 0, 1, None),
    ("t1", "c2", "k2", 150.0, 0, 2, False),
    ("t2", "c1", "k1", 60.0, 0, 3, None),
    ("t3", "c3", "k3", 2000.0, 0, 4, True),
    ("t4", "c2", "k2", 30.0, 0, 5, None),
    ("t5", "c1", "k1", 120.0, 1, 1, True),
    ("t6", "c3", "k3", 55.0, 1, 2, None),
    ("t7", "c2", "k2", 500.0, 1, 3, False),
    ("t8", "c3", "k3", 10.0, 1, 4, True),
    ("t9", "c1", "k4", 1500.0, 1, 5, None),
]

RULES = """
version: 1
rules:
  - {id: big, when: amount > 100, action: review, score: 0.6}
  - {id: huge, when: amount > 1000, action: block, score: 0.9}
  - {id: never, when: amount > 1000000, action: review}
  - {id: tiny_fp, when: amount > 140 and amount < 160, action: review, score: 0.5}
  - {id: shadow_mid, when: amount > 50, action: challenge, mode: shadow}
"""

OLD_RULES = """
version: 1
rules:
  - {id: big, when: amount > 100, action: review, score: 0.6}
"""

NEW_RULES = """
version: 1
rules:
  - {id: big, when: amount > 100, action: review, score: 0.6}
  - {id: huge, when: amount > 1000, action: challenge, score: 0.8}
"""

CONFIG = """
model: {kind: heuristic}
policy: {review_threshold: null, challenge_threshold: null, block_threshold: null}
"""


def records() -> list[dict]:
    out = []
    for tx, customer, card, amount, day, hour, _ in ROWS:
        out.append(
            {
                "tx_id": tx,
                "customer_id": customer,
                "amount": amount,
                "currency": "EUR",
                "timestamp": DAY1 + day * 24 * HOUR + hour * HOUR,
                "card_id": card,
                "channel": "pos",
                "type": "purchase",
            }
        )
    return out


def labels() -> list[dict]:
    out = []
    for tx, *_, day, hour, fraud in ROWS:
        if fraud is not None:
            out.append(
                {"tx_id": tx, "is_fraud": fraud, "label_time": DAY1 + (day * 24 + hour + 1) * HOUR}
            )
    return out


def write_case(folder: Path) -> dict[str, Path]:
    """transactions.jsonl, labels.jsonl, rules.yaml, old.yaml, new.yaml and config.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "tx": folder / "transactions.jsonl",
        "labels": folder / "labels.jsonl",
        "rules": folder / "rules.yaml",
        "old": folder / "old.yaml",
        "new": folder / "new.yaml",
        "config": folder / "config.yaml",
    }
    paths["tx"].write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records()))
    paths["labels"].write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in labels()))
    paths["rules"].write_text(RULES)
    paths["old"].write_text(OLD_RULES)
    paths["new"].write_text(NEW_RULES)
    paths["config"].write_text(CONFIG)
    return paths
