"""Same seed, same bytes; another seed, other data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from riskstream.simulate import FILES, generate, simulate


def _files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in FILES.values()}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    simulate(120, 10, 42, tmp_path / "a")
    simulate(120, 10, 42, tmp_path / "b")
    simulate(120, 10, 43, tmp_path / "c")
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert a["transactions.jsonl"] != c["transactions.jsonl"]
    assert a["labels.jsonl"] != c["labels.jsonl"]


def test_generate_is_pure() -> None:
    one, two = generate(80, 5, seed=1), generate(80, 5, seed=1)
    for name, col in one.transactions.columns().items():
        assert np.array_equal(col, getattr(two.transactions, name)), name
    assert np.array_equal(one.labels.label_time, two.labels.label_time)


def test_global_numpy_state_untouched() -> None:
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    generate(30, 3, seed=2)
    assert np.random.random() == before


def test_output_does_not_depend_on_threads_or_chunks(tmp_path: Path, monkeypatch) -> None:
    from riskstream.simulate import writer

    sim = generate(60, 5, seed=8)
    monkeypatch.setattr(writer, "CHUNK_ROWS", 257)  # many chunks, a short last one
    writer.write_transactions(tmp_path / "one.jsonl", sim.transactions, sim.world, workers=1)
    writer.write_transactions(tmp_path / "two.jsonl", sim.transactions, sim.world, workers=2)
    monkeypatch.setattr(writer, "CHUNK_ROWS", 1 << 15)
    writer.write_transactions(tmp_path / "big.jsonl", sim.transactions, sim.world, workers=2)
    one = (tmp_path / "one.jsonl").read_bytes()
    assert one == (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "big.jsonl").read_bytes()
    assert one.count(b"\n") == len(sim.transactions)
