"""bench_detection: how well the engine's default configuration catches the simulator's fraud.

Simulates a bank (default 2,000 customers x 60 days, the simulator's label delays), replays it
through the Engine in time order with the labels released at their ``label_time`` (the default
config: features, rules, Half-Space Trees, feedback learner, decision policy), and scores the
last 7 days against the truth: ROC AUC, average precision, precision of the 100 highest-scored
cards per day (card = card_id, or the customer for card-less transactions; a card counts as
fraudulent that day if one of its transactions was), and the share of the fraud amount (EUR)
caught when the 0.5 % highest-scored transactions of the test week are alerted.

Side by side: offline baselines trained once, at the start of the test week, on the same
features (the feedback learner's inputs, as the Engine computed them, without the anomaly
rank) and the same label-delayed data (a transaction is fraud if its fraud label had arrived
by then): scikit-learn logistic regression, a random forest and histogram gradient boosting,
each on two training sets: the learner's (an unlabelled transaction counts as genuine once it
is as old as the learner requires at that time) and the textbook one (every transaction
before the test week, unlabelled = genuine).

Run: ``.venv/bin/python bench/bench_detection.py [--customers 2000 --days 60 --seeds 7 8 9]``
(one table per simulated bank, then the mean average precision over them and the verdict)
(``--model YAML`` merges into the model section for experiments: the figures are then not
the default configuration's, and the header says so.)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from riskstream.config import load_config, merge
from riskstream.decisions import DECISION_NAMES
from riskstream.engine import Engine, LabelFeed
from riskstream.simulate import simulate
from riskstream.stream.decode import Decoder, parse_event_times
from riskstream.stream.sources import read_line_batches

DAY_MS = 86_400_000
ALERT_RATE = 0.005
ENGINE_RISK = "engine: model risk"  # the scorer the verdict compares with the baselines


def read_truth(sim_dir: Path) -> dict[str, np.ndarray]:
    """labels.jsonl as columns: tx_id, is_fraud, fraud_type, label_time (epoch ms)."""
    records = [orjson.loads(line) for line in (sim_dir / "labels.jsonl").read_bytes().split()]
    times, _ = parse_event_times([r["label_time"] for r in records])
    return {
        "tx_id": np.array([r["tx_id"] for r in records], dtype=object),
        "is_fraud": np.array([r["is_fraud"] for r in records], dtype=bool),
        "fraud_type": np.array([r.get("fraud_type") or "" for r in records], dtype=object),
        "label_time": times,
    }


def replay(
    sim_dir: Path, truth: Mapping[str, np.ndarray], model_override: str | None
) -> tuple[dict[str, np.ndarray], Engine, float]:
    """Run the Engine over the simulated stream; per row: ids, scores, learner inputs."""
    config = load_config()  # the shipped default configuration
    if model_override:
        config = merge(config, {"model": yaml.safe_load(model_override)})
        print(f"  config: NOT the default: model section merged with {model_override}")
    else:
        print(f"  config: the shipped default (model.kind {config['model'].get('kind')})")
    labels = LabelFeed(truth["tx_id"], truth["is_fraud"], truth["label_time"])
    engine = Engine(config, labels)
    stage = engine.model
    encoder = getattr(stage, "learner_encoder", None)
    parts: dict[str, list[np.ndarray]] = {}

    def keep(**columns: np.ndarray) -> None:
        for key, value in columns.items():
            parts.setdefault(key, []).append(np.asarray(value))

    model_score = stage.score

    def score_and_keep(frame: Mapping[str, np.ndarray], **kwargs: Any) -> Any:
        scores = model_score(frame, **kwargs)
        keep(risk=scores.risk)
        if encoder is not None:
            keep(X=encoder.encode(frame).astype(np.float32))
        return scores

    stage.score = score_and_keep  # a bench hook: the stage itself is untouched
    decoder = Decoder()
    batch_size = int(config["engine"]["batch_size"])
    started = time.process_time()
    for lines in read_line_batches(sim_dir / "transactions.jsonl", batch_size):
        batch, _ = decoder.decode(lines.lines, lines.offsets)
        for db in engine.score(batch).decisions:
            b = db.batch
            keep(
                tx_id=b.tx_id,
                ts=b.timestamp,
                card=np.where(np.equal(b.card_id, None), b.customer_id, b.card_id),
                amount=b.amount,
                currency=b.currency,
                score=db.score,
                anomaly=db.model_score,
                fraud_probability=db.fraud_probability,
                decision=db.decision,
            )
    seconds = time.process_time() - started
    return {key: np.concatenate(value) for key, value in parts.items()}, engine, seconds


def card_precision_at_k(
    day: np.ndarray, card: np.ndarray, score: np.ndarray, y: np.ndarray, k: int
) -> float:
    """Mean over days of the share of frauded cards among the k highest-scored cards."""
    precisions = []
    for d in np.unique(day):
        sel = day == d
        keys, inverse = np.unique(card[sel], return_inverse=True)
        best = np.full(len(keys), -np.inf)
        np.maximum.at(best, inverse, score[sel])
        bad = np.zeros(len(keys), dtype=bool)
        np.logical_or.at(bad, inverse, y[sel])
        top = np.argsort(-best, kind="stable")[:k]
        precisions.append(bad[top].mean())
    return float(np.mean(precisions))


def metrics(
    y: np.ndarray, score: np.ndarray, day: np.ndarray, card: np.ndarray, eur: np.ndarray
) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = np.nan_to_num(score, nan=-1.0)
    alerted = np.argsort(-s, kind="stable")[: round(ALERT_RATE * len(s))]
    caught = eur[alerted][y[alerted]].sum()
    return {
        "auc": roc_auc_score(y, s),
        "ap": average_precision_score(y, s),
        "cp100": card_precision_at_k(day, card, s, y, 100),
        "caught": caught / eur[y].sum(),
        "caught_eur": caught,
    }


def train_rows(
    ts: np.ndarray,
    tx: np.ndarray,
    truth: Mapping[str, np.ndarray],
    t0: int,
    negative_after_ms: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows before t0 usable at t0, and their label as known at t0."""
    known = truth["label_time"] <= t0
    fraud_known = set(truth["tx_id"][known & truth["is_fraud"]].tolist())
    genuine_known = set(truth["tx_id"][known & ~truth["is_fraud"]].tolist())
    y = np.fromiter((t in fraud_known for t in tx.tolist()), dtype=bool, count=len(tx))
    labelled = y | np.fromiter((t in genuine_known for t in tx.tolist()), bool, count=len(tx))
    usable = (ts < t0) & (labelled | (ts <= t0 - negative_after_ms))
    return np.flatnonzero(usable), y


def baselines(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    models = {
        "logistic regression": make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(class_weight="balanced", max_iter=2000, C=0.1),
        ),
        "random forest": RandomForestClassifier(
            n_estimators=300,
            min_samples_leaf=2,
            max_features="sqrt",
            class_weight="balanced_subsample",
            max_samples=0.25,
            n_jobs=2,
            random_state=0,
        ),
        "hist gradient boosting": HistGradientBoostingClassifier(
            max_iter=300, learning_rate=0.05, random_state=0
        ),
    }
    scores: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name, model in models.items():
        started = time.process_time()
        model.fit(X_train, y_train)
        scores[name] = model.predict_proba(X_test)[:, 1]
        seconds[name] = time.process_time() - started
    return scores, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument(
        "--sims", type=Path, default=None, help="keep (or reuse) the simulations in DIR/seed-N"
    )
    parser.add_argument("--model", default=None, help="YAML merged into the config's model")
    args = parser.parse_args()

    print(
        f"bench_detection: {args.customers} customers x {args.days} days, seeds "
        f"{' '.join(map(str, args.seeds))}, nproc {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    per_seed = [bench_one(args, seed) for seed in args.seeds]
    if len(per_seed) > 1:
        summarize(per_seed, args.seeds)


def summarize(per_seed: list[dict[str, dict[str, float]]], seeds: list[int]) -> None:
    """Average precision and ROC AUC per simulated bank, their means, and the verdict."""
    print(f"\nsummary over {len(seeds)} simulated banks (seeds {' '.join(map(str, seeds))})")
    header = " ".join(f"{'AP ' + str(s):>8s}" for s in seeds)
    print(f"  {'scorer':45s} {header} {'mean AP':>8s} {'mean AUC':>8s}")
    for name in per_seed[0]:
        aps = [figures[name]["ap"] for figures in per_seed]
        aucs = [figures[name]["auc"] for figures in per_seed]
        cells = " ".join(f"{v:8.4f}" for v in aps)
        print(f"  {name:45s} {cells} {np.mean(aps):8.4f} {np.mean(aucs):8.4f}")
    mean_ap = {name: np.mean([f[name]["ap"] for f in per_seed]) for name in per_seed[0]}
    engine = mean_ap[ENGINE_RISK]
    for kind in ("logistic regression", "random forest", "hist gradient boosting"):
        best = max(v for k, v in mean_ap.items() if k.startswith(f"offline: {kind}"))
        verdict = "beats" if engine > best else "does NOT beat"
        print(
            f"  engine model risk (mean AP {engine:.4f}) {verdict} the better {kind} "
            f"(mean AP {best:.4f})"
        )


def bench_one(args: argparse.Namespace, seed: int) -> dict[str, dict[str, float]]:
    """One simulated bank: replay, baselines, the table; returns the figures per scorer."""
    print(f"\nseed {seed}")
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
        sim_dir = (args.sims or Path(tmp)) / f"seed-{seed}"
        if not (sim_dir / "manifest.json").exists():
            simulate(args.customers, args.days, seed, sim_dir)
        manifest = orjson.loads((sim_dir / "manifest.json").read_bytes())
        truth = read_truth(sim_dir)
        rows, engine, engine_cpu = replay(sim_dir, truth, args.model)

    tx, ts = rows["tx_id"], rows["ts"]
    frauds = truth["is_fraud"]
    fraud_type = dict(
        zip(truth["tx_id"][frauds].tolist(), truth["fraud_type"][frauds].tolist(), strict=True)
    )
    y_all = np.fromiter((t in fraud_type for t in tx.tolist()), dtype=bool, count=len(tx))
    start_ms = int(ts.min()) // DAY_MS * DAY_MS
    t0 = start_ms + (args.days - args.test_days) * DAY_MS
    test = ts >= t0
    rates = manifest["eur_to"]
    eur = rows["amount"] / np.array([rates.get(c, 1.0) for c in rows["currency"].tolist()])
    day = (ts - start_ms) // DAY_MS

    learner = getattr(engine.model, "learner", None)
    negative_age = learner.negative_age(t0) if learner is not None else 0
    X = rows["X"]
    # Two training sets at t0: the learner's (unlabelled rows count as genuine once as old as
    # the learner requires then) and the textbook one (every row, unlabelled = genuine).
    train_idx, y_known = train_rows(ts, tx, truth, t0, negative_age)
    naive_idx, _ = train_rows(ts, tx, truth, t0, 0)
    base_scores: dict[str, np.ndarray] = {}
    base_cpu: dict[str, float] = {}
    for tag, idx in (("learner's set", train_idx), ("textbook set", naive_idx)):
        scores, cpu = baselines(X[idx], y_known[idx], X[test])
        base_scores |= {f"{name}, {tag}": v for name, v in scores.items()}
        base_cpu |= {f"{name}, {tag}": v for name, v in cpu.items()}

    y, d, c, e = y_all[test], day[test], rows["card"][test], eur[test]
    table = {
        "engine: decision score (rules + risk)": rows["score"][test],
        ENGINE_RISK: rows["risk"][test],
        "  fraud probability (learner)": rows["fraud_probability"][test],
        "  anomaly score (HST)": rows["anomaly"][test],
    }
    table |= {f"offline: {name}": s for name, s in base_scores.items()}

    print(
        f"  transactions {len(tx):,} ({y_all.mean():.3%} fraud); test = last {args.test_days} "
        f"days: {test.sum():,} transactions, {y.sum():,} fraudulent, {e[y].sum():,.0f} EUR"
    )
    print(
        f"  baselines: {X.shape[1]} features, {y_known[train_idx].sum():,} frauds labelled by "
        f"the test week; learner's set {len(train_idx):,} rows (unlabelled rows "
        f"{negative_age / DAY_MS:.1f} days old count as genuine), textbook set "
        f"{len(naive_idx):,} rows ({(y_all[naive_idx] & ~y_known[naive_idx]).sum():,} frauds "
        "in it still unlabelled, counted as genuine)"
    )
    print("  baseline fit CPU: " + ", ".join(f"{k} {v:.0f} s" for k, v in base_cpu.items()))
    print(f"  engine replay: {engine_cpu:.0f} s CPU ({engine_cpu / len(tx) * 1e6:.0f} us a tx)")
    if learner is not None:
        store = learner.store
        print(
            f"  feedback learner: {learner.refits} refits, {learner.n_positives} positives in "
            f"the last; labels applied {store.labels_applied:,}, missed {store.labels_missed:,}"
        )
    ceiling = card_precision_at_k(d, c, y.astype(float), y, 100)
    print(f"  card P@100 of a perfect scorer: {ceiling:.4f} (few frauded cards a day)")
    print()
    print(
        f"  {'scorer':45s} {'ROC AUC':>8s} {'avg prec':>8s} {'card P@100':>10s} "
        f"{'caught@0.5%':>11s} {'EUR caught':>11s}"
    )
    figures = {}
    for name, score in table.items():
        m = figures[name] = metrics(y, score, d, c, e)
        print(
            f"  {name:45s} {m['auc']:8.4f} {m['ap']:8.4f} {m['cp100']:10.4f} "
            f"{m['caught']:11.1%} {m['caught_eur']:11,.0f}"
        )
    print()
    print("  test days: share of transactions by decision (review, challenge, block)")
    codes = rows["decision"][test]
    for k in np.unique(d):
        sel = d == k
        shares = [(codes[sel] == DECISION_NAMES.index(n)).mean() for n in DECISION_NAMES[1:]]
        flagged = [(rows["risk"][test][sel] >= t).mean() for t in (0.5, 0.7, 0.9)]
        print(
            f"    day {k}: {sel.sum():6,} tx, {y[sel].sum():3} fraud; decisions "
            + " ".join(f"{s:6.2%}" for s in shares)
            + "; model risk >= 0.5/0.7/0.9: "
            + " ".join(f"{s:6.2%}" for s in flagged)
        )
    print()
    print("  recall at the 0.5 % alert rate by scenario (engine decision score | model risk)")
    types = np.array([fraud_type.get(t, "") for t in tx[test].tolist()], dtype=object)
    for name, score in (("score", rows["score"][test]), ("risk", rows["risk"][test])):
        top = np.zeros(len(score), dtype=bool)
        top[
            np.argsort(-np.nan_to_num(score, nan=-1.0), kind="stable")[
                : round(ALERT_RATE * len(score))
            ]
        ] = True
        recalls = {
            kind: (top & (types == kind)).sum() / (types == kind).sum()
            for kind in sorted(set(types.tolist()) - {""})
        }
        print(f"    {name:5s} " + ", ".join(f"{k} {v:.0%}" for k, v in recalls.items()))
    return figures


if __name__ == "__main__":
    main()
