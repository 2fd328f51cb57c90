"""Fixtures of the simulator tests: a few small runs, generated once per session."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from riskstream.simulate import Simulation, generate, simulate


class Written:
    """A run written to disk, with its files parsed."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.raw = (out / "transactions.jsonl").read_bytes()
        self.lines = self.raw.splitlines()
        self.tx = [orjson.loads(line) for line in self.lines]
        self.labels = [orjson.loads(x) for x in (out / "labels.jsonl").read_bytes().splitlines()]
        self.contacts = [
            orjson.loads(x) for x in (out / "contacts.jsonl").read_bytes().splitlines()
        ]
        self.merchants = [
            orjson.loads(x) for x in (out / "merchants.jsonl").read_bytes().splitlines()
        ]
        self.manifest = orjson.loads((out / "manifest.json").read_bytes())


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """300 customers x 30 days on disk (about 27,000 transactions)."""
    out = tmp_path_factory.mktemp("sim") / "run"
    simulate(300, 30, 11, out)
    return Written(out)


@pytest.fixture(scope="session")
def sim() -> Simulation:
    """1,000 customers x 30 days in memory (about 90,000 transactions, ~450 frauds)."""
    return generate(1000, 30, seed=5)


@pytest.fixture(scope="session")
def sim90() -> Simulation:
    """400 customers x 90 days from 1 January: three full calendar months."""
    return generate(400, 90, seed=9, start="2026-01-01")
