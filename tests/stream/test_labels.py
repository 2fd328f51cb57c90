"""Labels: parsed from files, released to the stages only once their label_time has passed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from stream_helpers import make_transactions

from riskstream.engine import Engine, LabelFeed
from riskstream.features.stage import DueLabels
from riskstream.stream.decode import Decoder
from riskstream.stream.labels import read_labels


def test_label_file_is_parsed_and_bad_lines_are_set_apart(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"tx_id":"a","is_fraud":true,"fraud_type":"card_testing","label_time":"2026-01-02T00:00:00Z"}\n'
        '{"tx_id":"b","is_fraud":false,"label_time":1767225600000}\n'
        "\n"
        '{"tx_id":"c","is_fraud":"yes","label_time":"2026-01-02T00:00:00Z"}\n'
        '{"tx_id":"d","is_fraud":true,"label_time":"tomorrow"}\n'
        "not json\n"
    )
    feed, rejected = read_labels(path)
    assert feed.pending == 2
    assert [(r.offset, r.reason) for r in rejected] == [
        (3, "invalid_value:is_fraud"),
        (4, "invalid_value:label_time"),
        (5, "invalid_json"),
    ]
    released = feed.release(1767225600000)
    assert released.tx_id.tolist() == ["b"] and released.is_fraud.tolist() == [False]


class _Timeline:
    """Records each batch the feature stage computes, with the labels handed over with it."""

    def __init__(self, engine: Engine) -> None:
        self.calls: list[tuple[np.ndarray, DueLabels | None]] = []
        compute = engine.features.compute

        def record_compute(batch, labels=None):  # type: ignore[no-untyped-def]
            self.calls.append((batch.timestamp.copy(), labels))
            return compute(batch, labels=labels)

        engine.features.compute = record_compute  # type: ignore[method-assign]


def test_labels_are_released_exactly_when_their_time_comes() -> None:
    """Every label a row can see is due at that row; every label due at a row is visible."""
    lines = make_transactions(400)
    times = np.array([orjson.loads(x)["timestamp"] for x in lines])
    rng = np.random.default_rng(3)
    label_times = rng.integers(times[0], times[-1], 60)
    feed = LabelFeed(
        np.array([f"tx{i:07d}" for i in range(60)], dtype=object),
        np.ones(60, dtype=bool),
        label_times,
    )
    engine = Engine(labels=feed)
    timeline = _Timeline(engine)
    decoder = Decoder()
    for start in range(0, 400, 64):  # every batch spans several label times
        batch, _ = decoder.decode(lines[start : start + 64])
        engine.score(batch)
    released: list[int] = []  # handed over with earlier batches
    watermark = np.iinfo(np.int64).min
    for row_times, due in timeline.calls:
        handed = due.labels.label_time.tolist() if due is not None else []
        for i, t in enumerate(row_times.tolist()):
            watermark = max(watermark, t)
            visible = released + handed[: int(due.due[i])] if due is not None else released
            assert all(v <= watermark for v in visible)  # never early
            assert sorted(visible) == sorted(v for v in label_times if v <= watermark)  # on time
        released.extend(handed)
    assert len(released) == 60
    assert len(timeline.calls) < 60  # labels did not cut the batches
