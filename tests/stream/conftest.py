from __future__ import annotations

import pytest
from stream_helpers import make_transactions


@pytest.fixture
def transactions_file(tmp_path):
    path = tmp_path / "transactions.jsonl"
    path.write_bytes(b"\n".join(make_transactions(3000)) + b"\n")
    return path
