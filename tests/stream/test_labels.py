"""Labels: parsed from files, released to the stages only once their label_time has passed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from stream_helpers import make_transactions

from riskstream.engine import Engine, LabelFeed
from riskstream.features.stage import LabelBatch
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
    """Records, in order, each label release and each segment the feature stage scores."""

    def __init__(self, engine: Engine) -> None:
        self.events: list[tuple[str, object]] = []
        compute, apply_labels = engine.features.compute, engine.features.apply_labels

        def record_compute(batch):  # type: ignore[no-untyped-def]
            self.events.append(("score", batch.timestamp.copy()))
            return compute(batch)

        def record_labels(labels: LabelBatch) -> None:
            self.events.append(("labels", labels.label_time.copy()))
            apply_labels(labels)

        engine.features.compute = record_compute  # type: ignore[method-assign]
        engine.features.apply_labels = record_labels  # type: ignore[method-assign]


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
    visible: list[int] = []
    segments = 0
    for kind, values in timeline.events:
        if kind == "labels":
            visible.extend(values.tolist())  # type: ignore[union-attr]
            continue
        segments += 1
        first_row_time = int(values[0])  # type: ignore[index]
        assert all(t <= first_row_time for t in visible)  # never early
        assert sorted(visible) == sorted(t for t in label_times if t <= first_row_time)  # on time
    assert segments > 400 // 64 + 1  # batches really were cut at release points
