"""History inputs: JSON lines, CSV and Parquet give the same transactions, dead letters and
decisions; unordered input is sorted by event time; column mapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from riskstream.engine import Engine
from riskstream.errors import InputError
from riskstream.replay.driver import replay_history
from riskstream.replay.inputs import concat_batches, parse_mapping, read_history

START = 1_767_225_600_000

GOOD = {"currency": "EUR", "channel": "pos", "type": "purchase", "card_id": "k1"}
# (changes to a good record, expected dead-letter reason or None)
CASES: list[tuple[dict, str | None]] = [
    ({}, None),
    ({"customer_id": None}, "missing_field:customer_id"),
    ({"amount": -5.0}, "invalid_value:amount"),
    ({"currency": "eur"}, "invalid_value:currency"),
    ({"timestamp": "yesterday"}, "invalid_value:timestamp"),
    ({"mcc": "12a4"}, "invalid_value:mcc"),
    ({"mcc": "5411", "country": "DE"}, None),
    ({"type": "gift"}, "invalid_value:type"),
    ({"lat": 52.5, "lon": None}, "invalid_value:lon"),
    ({"lat": 95.0, "lon": 13.4}, "invalid_value:lat"),
    ({"lat": 52.5, "lon": 13.4}, None),
    ({"card_id": ""}, "invalid_value:card_id"),
    ({"customer_id": "x" * 200}, "invalid_value:customer_id"),
    ({"currency": None, "amount": None}, "missing_field:amount"),
    ({"timestamp": "2026-01-01T05:00:00+01:00"}, None),
]


def _records(n_good: int = 200) -> list[dict]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n_good):
        out.append(
            {"tx_id": f"g{i:04d}", "customer_id": f"c{int(rng.integers(15))}",
             "amount": round(float(rng.lognormal(3, 1.3)), 2),
             "timestamp": _iso(START + i * 60_000 + 30_000), **GOOD}
        )  # fmt: skip
    for j, (change, _) in enumerate(CASES):
        record = {"tx_id": f"x{j:03d}", "customer_id": "c1", "amount": 12.5,
                  "timestamp": _iso(START + j * 600_000), **GOOD}  # fmt: skip
        record.update(change)
        out.insert(j * 13, record)
    return out


def _iso(ms: int) -> str:
    return str(np.datetime64(ms, "ms")) + "Z"


def _write_all(records: list[dict], folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    jsonl = folder / "tx.jsonl"
    jsonl.write_bytes(
        b"".join(orjson.dumps({k: v for k, v in r.items() if v is not None}) + b"\n"
                 for r in records)
    )  # fmt: skip
    names = ["tx_id", "customer_id", "amount", "currency", "timestamp", "card_id", "channel",
             "type", "mcc", "country", "lat", "lon"]  # fmt: skip
    types = {"amount": pa.float64(), "lat": pa.float64(), "lon": pa.float64()}
    table = pa.table(
        {n: pa.array([r.get(n) for r in records], type=types.get(n, pa.string())) for n in names}
    )
    pq.write_table(table, folder / "tx.parquet")
    pacsv.write_csv(table, folder / "tx.csv")
    return {"jsonl": jsonl, "parquet": folder / "tx.parquet", "csv": folder / "tx.csv"}


def _outcome(path: Path) -> tuple[list, list]:
    history = read_history(path)
    batch = concat_batches(list(history.chunks))
    rows = [
        tuple(v if not (isinstance(v, float) and np.isnan(v)) else None for v in row)
        for row in zip(*[c.tolist() for c in batch.columns().values()], strict=True)
    ]
    dead = sorted((d.offset, d.reason) for d in history.dead)
    return rows, dead


def test_the_three_formats_give_the_same_rows_and_dead_letters(tmp_path: Path) -> None:
    records = _records()
    paths = _write_all(records, tmp_path)
    expected_dead = sorted(
        (records.index(next(r for r in records if r["tx_id"] == f"x{j:03d}")), reason)
        for j, (_, reason) in enumerate(CASES)
        if reason is not None
    )
    outcomes = {fmt: _outcome(p) for fmt, p in paths.items()}
    assert outcomes["jsonl"][1] == expected_dead
    assert outcomes["parquet"] == outcomes["jsonl"]
    assert outcomes["csv"] == outcomes["jsonl"]


def test_the_three_formats_give_the_same_decisions(tmp_path: Path) -> None:
    paths = _write_all(_records(), tmp_path)
    decided = {}
    for fmt, path in paths.items():
        out = tmp_path / f"out-{fmt}"
        summary, _ = replay_history(read_history(path), out, Engine())
        lines = (out / "decisions.jsonl").read_bytes().splitlines()
        decided[fmt] = [
            {k: v for k, v in orjson.loads(x).items() if k not in ("latency_us", "prev_hash")}
            for x in lines
        ]
        assert summary.decided + sum(summary.dead_letters.values()) == summary.input_rows
    assert decided["parquet"] == decided["jsonl"] == decided["csv"]


def test_unordered_input_is_sorted_stably_and_said_so(tmp_path: Path) -> None:
    records = [r for r in _records(100) if r["tx_id"].startswith("g")]
    shuffled = list(reversed(records))
    shuffled[10]["timestamp"] = shuffled[11]["timestamp"]  # a tie keeps file order
    for name, rows in (("ordered", sorted(shuffled, key=lambda r: r["timestamp"])),
                       ("shuffled", shuffled)):  # fmt: skip
        paths = _write_all(rows, tmp_path / name)
        for fmt in ("jsonl", "parquet"):
            history = read_history(paths[fmt])
            batch = concat_batches(list(history.chunks))
            assert (np.diff(batch.timestamp) >= 0).all()
            assert history.sorted_input == (name == "ordered")
    out = tmp_path / "out"
    summary, _ = replay_history(read_history(tmp_path / "shuffled" / "tx.parquet"), out, Engine())
    report = orjson.loads((out / "summary.json").read_bytes())
    assert report["input"]["sorted_by_replay"] is True and summary.decided == 100


def test_column_mapping(tmp_path: Path) -> None:
    table = pa.table(
        {"id": ["a", "b"], "cust": ["c1", "c2"], "amt": [10.0, 20.0], "ccy": ["EUR", "EUR"],
         "ts": pa.array([START, START + 1000], type=pa.int64())}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "m.parquet")
    mapping = parse_mapping(["tx_id=id", "customer_id=cust", "amount=amt", "currency=ccy",
                             "timestamp=ts"])  # fmt: skip
    batch = concat_batches(list(read_history(tmp_path / "m.parquet", mapping=mapping).chunks))
    assert batch.tx_id.tolist() == ["a", "b"] and batch.timestamp.tolist() == [START, START + 1000]
    with pytest.raises(InputError, match="--map"):
        read_history(tmp_path / "m.parquet")
    with pytest.raises(InputError):
        parse_mapping(["nonsense"])
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_bytes(b'{"id":"a","cust":"c1","amt":10,"ccy":"EUR","ts":1767225600000}\n')
    batch = concat_batches(list(read_history(jsonl, mapping=mapping).chunks))
    assert batch.tx_id.tolist() == ["a"] and batch.amount.tolist() == [10.0]


def test_arrow_timestamps_and_integer_mcc(tmp_path: Path) -> None:
    table = pa.table(
        {"tx_id": ["a", "b", "c"], "customer_id": ["c1"] * 3, "amount": [1, 2, 3],
         "currency": ["EUR"] * 3,
         "timestamp": pa.array([START * 1000, START * 1000 + 1500, START * 1000 + 2999],
                               type=pa.timestamp("us", tz="UTC")),
         "mcc": pa.array([5411, None, 12000], type=pa.int32())}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "t.parquet")
    history = read_history(tmp_path / "t.parquet")
    batch = concat_batches(list(history.chunks))
    assert batch.timestamp.tolist() == [START, START + 1]
    assert batch.mcc.tolist() == ["5411", None]
    assert [(d.offset, d.reason) for d in history.dead] == [(2, "invalid_value:mcc")]
