from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stream"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay_data import write_case
from stream_helpers import make_transactions


@pytest.fixture
def transactions_file(tmp_path: Path) -> Path:
    path = tmp_path / "transactions.jsonl"
    path.write_bytes(b"\n".join(make_transactions(3000)) + b"\n")
    return path


@pytest.fixture
def case(tmp_path: Path) -> dict[str, Path]:
    """The small labelled history of replay_data.py, with its rule files and config."""
    return write_case(tmp_path / "case")
