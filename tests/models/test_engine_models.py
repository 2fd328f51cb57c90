"""The model stage inside the Engine, on simulated data: calibration, late labels, snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from model_helpers import DAY, small

from riskstream.config import load_config
from riskstream.engine import Engine, LabelFeed
from riskstream.models import OnlineModelStage, load_snapshot
from riskstream.simulate import simulate
from riskstream.stream.decode import Decoder
from riskstream.stream.labels import read_labels


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models-sim")
    simulate(300, 12, 5, out / "run")
    return out


def run(sim: Path, model: dict, labels: LabelFeed, batch_size: int = 512) -> dict[str, Any]:
    """Replay the simulated stream; per row: ids, time, decision score, model outputs, frame.

    The shipped config and catalog, but for the model section.
    """
    engine = Engine(load_config(model=model), labels)
    stage = engine.model
    frames: list[dict[str, np.ndarray]] = []
    risks: list[np.ndarray] = []
    score = stage.score

    def keep(frame, labels=None):
        frames.append(frame)
        scores = score(frame, labels=labels)
        risks.append(scores.risk)
        return scores

    stage.score = keep
    decoder = Decoder()
    lines = (sim / "run" / "transactions.jsonl").read_bytes().splitlines()
    out: dict[str, list] = {"ts": [], "score": [], "anomaly": [], "p": [], "snap": []}
    for start in range(0, len(lines), batch_size):
        batch, _ = decoder.decode(lines[start : start + batch_size])
        for db in engine.score(batch).decisions:
            out["ts"].append(db.batch.timestamp)
            out["score"].append(db.score)
            out["anomaly"].append(db.model_score)
            out["p"].append(db.fraud_probability)
            out["snap"].append(np.full(len(db), db.model_snapshot, dtype=object))
    rows: dict[str, Any] = {k: np.concatenate(v) for k, v in out.items()}
    rows["risk"] = np.concatenate(risks)
    rows["frames"] = frames
    rows["stage"] = stage
    return rows


def labels(sim: Path) -> LabelFeed:
    return read_labels(sim / "run" / "labels.jsonl")[0]


def test_the_anomaly_risk_flags_the_same_share_every_day(sim) -> None:
    """A fixed threshold on the calibrated risk flags about the same share of each day."""
    tail = 0.02
    model = small(learner={"kind": "none"}, calibration={"tail": tail, "min_count": 500})
    rows = run(sim, model, LabelFeed.empty())
    assert isinstance(rows["stage"], OnlineModelStage)
    threshold = np.exp(-0.05 / tail)  # risk >= this <=> rank among the top 5 %
    day = (rows["ts"] - rows["ts"].min()) // DAY
    shares = np.array([(rows["risk"][day == d] >= threshold).mean() for d in range(3, 12)])
    assert ((shares >= 0.03) & (shares <= 0.075)).all(), shares  # 5 % +- 3 sigma (900 a day)


def test_the_default_risk_alerts_a_steady_share_of_genuine_payments(sim) -> None:
    """With the learner on, the share of genuine payments above a threshold stays steady.

    (Fraud comes in bursts, so the share of all payments above it moves with the fraud.)
    """
    rows = run(sim, small(), labels(sim))
    truth = read_labels(sim / "run" / "labels.jsonl")[0]
    fraud = set(truth._tx_id[truth._is_fraud].tolist())
    tx = np.concatenate([frame["tx_id"] for frame in rows["frames"]])
    genuine = ~np.fromiter((t in fraud for t in tx.tolist()), dtype=bool, count=len(tx))
    day = (rows["ts"] - rows["ts"].min()) // DAY
    # About 1.5 % of genuine payments reach 0.03 (a dozen a day here: Poisson noise included).
    shares = np.array([(rows["risk"][(day == d) & genuine] >= 0.03).mean() for d in range(3, 12)])
    assert shares.min() > 0 and shares.max() < 3 * shares.min() and shares.max() < 0.05, shares


def test_the_shipped_config_learns_from_the_labels(sim) -> None:
    """The default config is the online stage, and its learner learns (the catalog has tx_id)."""
    assert load_config()["model"]["kind"] == "online"
    rows = run(sim, {}, labels(sim))
    stage = rows["stage"]
    assert isinstance(stage, OnlineModelStage) and stage.learner is not None
    assert stage.learner.refits > 0 and stage.learner.store.labels_missed == 0
    assert "+fb:" in rows["snap"][-1]
    late = rows["ts"] >= rows["ts"].min() + 11 * DAY
    assert not np.isnan(rows["p"][late]).any() and np.isfinite(rows["anomaly"][late]).all()


def test_future_labels_never_change_past_decisions(sim) -> None:
    feed_a = labels(sim)
    tx, fraud, when = feed_a._tx_id, feed_a._is_fraud, feed_a._time
    rows_a = run(sim, small(), LabelFeed(tx, fraud, when), batch_size=700)
    cut = int(rows_a["ts"].min()) + 8 * DAY
    future = when > cut
    rng = np.random.default_rng(3)
    tx_b, fraud_b, when_b = tx.copy(), fraud.copy(), when.copy()
    moved = np.flatnonzero(future)
    tx_b[moved] = tx_b[rng.permutation(moved)]
    fraud_b[moved] = ~fraud_b[moved]
    when_b[moved] = cut + rng.integers(1, 2 * DAY, len(moved))
    rows_b = run(sim, small(), LabelFeed(tx_b, fraud_b, when_b), batch_size=333)
    past = rows_a["ts"] < cut
    for key in ("score", "anomaly", "p"):
        assert np.array_equal(rows_a[key][past], rows_b[key][past], equal_nan=True), key
    assert not np.array_equal(rows_a["p"][~past], rows_b["p"][~past], equal_nan=True)


def test_decisions_replay_from_their_snapshots(sim) -> None:
    model = small(snapshots={"every": "1h", "store": {"memory": True}})
    rows = run(sim, model, labels(sim))
    stage = rows["stage"]
    assert stage.rotations > 11 * 24
    offset = 0
    checked = 0
    for frame in rows["frames"][:: max(1, len(rows["frames"]) // 12)]:
        n = len(frame["timestamp"])
        offset = next(i for i in range(len(rows["ts"])) if rows["ts"][i] == frame["timestamp"][0])
        snaps = rows["snap"][offset : offset + n]
        for snap in dict.fromkeys(snaps.tolist()):  # a batch spanning a rotation used two
            used = snaps == snap
            part = {name: column[used] for name, column in frame.items()}
            replayed = load_snapshot(stage.store, snap).score(part)
            assert np.array_equal(replayed.risk, rows["risk"][offset : offset + n][used])
            assert np.array_equal(
                replayed.anomaly, rows["anomaly"][offset : offset + n][used], True
            )
            checked += 1
    assert checked >= 6
