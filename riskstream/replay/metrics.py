"""Backtest metrics over labelled decisions: ROC AUC, average precision, the precision-recall
curve, precision at k entities per day, and the per-group counts (precision, recall, amount).

Plain numpy, exact definitions (ties handled as scikit-learn does), so a report can be checked
by hand on a small file.

Examples
--------
>>> y = np.array([True, False, True, False])
>>> s = np.array([0.9, 0.8, 0.4, 0.1])
>>> roc_auc(y, s), average_precision(y, s)
(0.75, 0.8333333333333333)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "average_precision",
    "group_metrics",
    "pr_curve",
    "precision_at_k_per_day",
    "roc_auc",
]


def roc_auc(is_fraud: np.ndarray, score: np.ndarray) -> float | None:
    """Probability that a fraud scores above a genuine transaction (ties count half);
    None without both classes."""
    y = np.asarray(is_fraud, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="stable")
    sorted_scores = np.asarray(score)[order]
    ranks = np.empty(len(y), dtype=np.float64)
    # average rank (1-based) of each run of equal scores
    edges = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(y)]))
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def pr_curve(is_fraud: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, threshold) at each distinct score, from the highest threshold down:
    alerting on ``score >= threshold``."""
    y = np.asarray(is_fraud, dtype=bool)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    s, t = np.asarray(score)[order], y[order]
    last = np.concatenate((np.flatnonzero(np.diff(s)), [len(s) - 1])) if len(s) else np.empty(0)
    last = last.astype(np.int64)
    tp = np.cumsum(t)[last]
    alerted = last + 1
    total = max(int(y.sum()), 1)
    return tp / alerted, tp / total, s[last]


def average_precision(is_fraud: np.ndarray, score: np.ndarray) -> float | None:
    """Sum over thresholds of (recall gain) x precision; None without any fraud."""
    y = np.asarray(is_fraud, dtype=bool)
    if not y.any():
        return None
    precision, recall, _ = pr_curve(y, score)
    gains = np.diff(np.concatenate(([0.0], recall)))
    return float((gains * precision).sum())


def precision_at_k_per_day(
    day: np.ndarray, entity: np.ndarray, score: np.ndarray, is_fraud: np.ndarray, k: int
) -> dict[str, Any]:
    """Each day, the ``k`` entities (cards) with the highest score of the day are reviewed;
    precision = share of them with a fraud that day. Ties go to the entity seen first.

    Returns the mean over days with at least one entity, the pooled precision (all reviewed
    entities together) and the number of days.
    """
    if len(day) == 0:
        return {"k": k, "mean_over_days": None, "pooled": None, "days": 0}
    _, day_code = np.unique(np.asarray(day), return_inverse=True)
    entities, entity_code = np.unique(np.asarray(entity, dtype=object), return_inverse=True)
    keys = day_code.astype(np.int64) * max(len(entities), 1) + entity_code
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    best = np.full(len(uniq), -np.inf)
    np.maximum.at(best, inverse, np.asarray(score, dtype=np.float64))
    fraud = np.zeros(len(uniq), dtype=bool)
    np.logical_or.at(fraud, inverse, np.asarray(is_fraud, dtype=bool))
    group_day = np.asarray(day)[first]
    precisions, hits, reviewed = [], 0, 0
    for d in np.unique(group_day):
        members = np.flatnonzero(group_day == d)
        order = np.lexsort((first[members], -best[members]))
        top = members[order[:k]]
        precisions.append(float(fraud[top].mean()))
        hits += int(fraud[top].sum())
        reviewed += len(top)
    return {
        "k": k,
        "mean_over_days": float(np.mean(precisions)),
        "pooled": hits / reviewed if reviewed else None,
        "days": len(precisions),
    }


def group_metrics(
    mask: np.ndarray, is_fraud: np.ndarray, amount: np.ndarray, total_fraud: int
) -> dict[str, Any]:
    """Hits, precision, recall, fraud amount caught, false positives per true positive and
    alert rate of the transactions selected by ``mask``."""
    hits = int(mask.sum())
    tp = int((mask & is_fraud).sum())
    fp = hits - tp
    n = len(mask)
    return {
        "hits": hits,
        "true_positives": tp,
        "false_positives": fp,
        "precision": tp / hits if hits else None,
        "recall": tp / total_fraud if total_fraud else None,
        "fraud_amount_caught": round(float(amount[mask & is_fraud].sum()), 2),
        "false_positives_per_true_positive": fp / tp if tp else None,
        "alert_rate": hits / n if n else None,
    }
