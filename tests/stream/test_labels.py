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


class _Recorder:
    """Records, for each label released, the event-time watermark at that moment."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, int, int]] = []
        inner = engine.features.compute
        self.engine = engine
        self.max_ts = np.iinfo(np.int64).min

        def compute(batch):  # type: ignore[no-untyped-def]
            self.max_ts = max(self.max_ts, int(batch.timestamp.max()))
            return inner(batch)

        def apply_labels(labels: LabelBatch) -> None:
            for tx_id, t in zip(labels.tx_id, labels.label_time, strict=True):
                self.seen.append((tx_id, int(t), self.max_ts))

        engine.features.compute = compute  # type: ignore[method-assign]
        engine.features.apply_labels = apply_labels  # type: ignore[method-assign]


def test_no_stage_sees_a_label_before_its_label_time() -> None:
    lines = make_transactions(400)
    times = [orjson.loads(x)["timestamp"] for x in lines]
    rng = np.random.default_rng(3)
    label_times = rng.integers(times[0], times[-1], 60)
    feed = LabelFeed(
        np.array([f"tx{i:07d}" for i in range(60)], dtype=object),
        np.ones(60, dtype=bool),
        label_times,
    )
    engine = Engine(labels=feed)
    recorder = _Recorder(engine)
    decoder = Decoder()
    for start in range(0, 400, 64):  # batches span many label times
        batch, _ = decoder.decode(lines[start : start + 64])
        engine.score(batch)
    assert len(recorder.seen) == sum(t <= times[-1] for t in label_times)
    for _tx, label_time, scored_before in recorder.seen:
        # every transaction scored before the release was earlier than the label's time
        assert scored_before < label_time
