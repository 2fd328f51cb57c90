"""The backtest report against numbers computed by hand on the small labelled history."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from replay_data import ROWS

from riskstream.replay.cli import replay
from riskstream.replay.metrics import average_precision, precision_at_k_per_day, roc_auc


@pytest.fixture
def report_dir(case: dict[str, Path], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    args = ["--input", str(case["tx"]), "--labels", str(case["labels"]), "--rules",
            str(case["rules"]), "--config", str(case["config"]), "--out", str(out), "--report",
            "--k", "1,2", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(replay, args)
    assert result.exit_code == 0, result.output
    return out


def _rule(report: dict, rule_id: str) -> dict:
    return next(r for r in report["rules"] if r["id"] == rule_id)


def test_rule_metrics_match_the_hand_count(report_dir: Path) -> None:
    report = orjson.loads((report_dir / "report.json").read_bytes())
    assert report["transactions"] == 10 and report["fraud_transactions"] == 3
    assert report["fraud_amount"] == 2130.0  # t3 2000 + t5 120 + t8 10
    big = _rule(report, "big")  # amount > 100: t1 t3 t5 t7 t9; fraud t3 t5
    assert (big["hits"], big["true_positives"], big["false_positives"]) == (5, 2, 3)
    assert big["precision"] == pytest.approx(0.4) and big["recall"] == pytest.approx(2 / 3)
    assert big["fraud_amount_caught"] == 2120.0
    assert big["false_positives_per_true_positive"] == pytest.approx(1.5)
    assert big["alert_rate"] == pytest.approx(0.5)
    huge = _rule(report, "huge")  # t3 (fraud) t9
    assert (huge["hits"], huge["precision"], huge["fraud_amount_caught"]) == (2, 0.5, 2000.0)
    assert huge["false_positives_per_true_positive"] == 1.0
    shadow = _rule(report, "shadow_mid")  # amount > 50: t1 t2 t3 t5 t6 t7 t9
    assert shadow["mode"] == "shadow" and shadow["hits"] == 7
    assert shadow["precision"] == pytest.approx(2 / 7)
    tiny = _rule(report, "tiny_fp")  # t1 only, genuine
    assert tiny["hits"] == 1 and tiny["precision"] == 0.0
    assert tiny["false_positives_per_true_positive"] is None
    assert _rule(report, "never")["hits"] == 0
    flagged = {r["id"]: r["flags"] for r in report["flagged_rules"]}
    assert flagged == {"never": ["no_hits"], "tiny_fp": ["low_precision"]}


def test_decision_metrics_match_the_hand_count(report_dir: Path) -> None:
    report = orjson.loads((report_dir / "report.json").read_bytes())
    d = report["decisions"]
    assert d["block"]["hits"] == 2 and d["block"]["true_positives"] == 1  # t3, t9
    assert d["review"]["hits"] == 3 and d["review"]["true_positives"] == 1  # t1, t5, t7
    alert = d["alert (review or stronger)"]
    assert alert["hits"] == 5 and alert["recall"] == pytest.approx(2 / 3)
    assert alert["fraud_amount_caught"] == 2120.0
    assert d["allow"]["hits"] == 5 and d["challenge"]["hits"] == 0
    assert report["daily_alerts"] == {
        "2026-01-01": {"review": 1, "challenge": 0, "block": 1},
        "2026-01-02": {"review": 2, "challenge": 0, "block": 1},
    }


def test_score_metrics_match_brute_force(report_dir: Path) -> None:
    report = orjson.loads((report_dir / "report.json").read_bytes())
    decisions = [
        orjson.loads(x) for x in (report_dir / "decisions.jsonl").read_bytes().split(b"\n") if x
    ]
    fraud = {tx: bool(f) for tx, *_, f in ROWS}
    scores = {d["tx_id"]: d["score"] for d in decisions}
    pos = [scores[t] for t in scores if fraud[t]]
    neg = [scores[t] for t in scores if not fraud[t]]
    pairs = [1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg)]
    assert report["score"]["roc_auc"] == pytest.approx(sum(pairs) / len(pairs))
    # average precision: at each fraud (by descending score, ties as one threshold)
    ranked = sorted(scores.values(), reverse=True)
    ap = 0.0
    for threshold in sorted(set(ranked), reverse=True):
        alerted = [t for t in scores if scores[t] >= threshold]
        new_frauds = [t for t in alerted if fraud[t] and scores[t] == threshold]
        precision = sum(fraud[t] for t in alerted) / len(alerted)
        ap += len(new_frauds) / 3 * precision
    assert report["score"]["average_precision"] == pytest.approx(ap)
    # precision at k cards per day, by hand: per day the cards with the highest score
    by_day: dict[int, dict[str, tuple[float, bool]]] = {}
    for tx, _cu, card, _amount, day, _hour, _f in ROWS:
        best, hit = by_day.setdefault(day, {}).get(card, (-1.0, False))
        by_day[day][card] = (max(best, scores[tx]), hit or fraud[tx])
    for entry in report["score"]["precision_at_k_cards_per_day"]:
        k = entry["k"]
        per_day = []
        for cards in by_day.values():
            top = sorted(cards.values(), key=lambda v: -v[0])[:k]
            per_day.append(sum(f for _, f in top) / len(top))
        assert entry["mean_over_days"] == pytest.approx(np.mean(per_day)) and entry["days"] == 2
    curve = report["score"]["pr_curve"]
    assert curve["recall"][-1] == 1.0 and len(curve["precision"]) == len(set(ranked))
    dist = report["score"]["distribution"]
    assert sum(dist["fraud"]) == 3 and sum(dist["genuine"]) == 7


def test_metric_functions_on_tiny_inputs() -> None:
    y = np.array([True, False, True, False])
    s = np.array([0.9, 0.8, 0.4, 0.1])
    assert roc_auc(y, s) == 0.75
    assert average_precision(y, s) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert roc_auc(np.array([True, True]), np.array([0.1, 0.2])) is None
    assert roc_auc(np.array([True, False]), np.array([0.5, 0.5])) == 0.5
    day = np.array([0, 0, 0, 0, 1, 1])
    card = np.array(["a", "b", "a", "c", "a", "b"], dtype=object)
    score = np.array([0.9, 0.5, 0.1, 0.7, 0.2, 0.3])
    fraud = np.array([0, 1, 0, 0, 1, 0], dtype=bool)
    at2 = precision_at_k_per_day(day, card, score, fraud, 2)
    assert at2["mean_over_days"] == 0.25 and at2["pooled"] == 0.25


def test_report_needs_labels(case: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        replay, ["--input", str(case["tx"]), "--out", str(tmp_path / "o"), "--report"]
    )
    assert result.exit_code != 0 and "--labels" in result.output
