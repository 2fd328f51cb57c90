"""The backtest report: ``report.json`` (every number) and ``report.html`` (self-contained).

Ground truth is the label file: a transaction is fraud when a label says ``is_fraud: true``
(whatever its ``label_time``: the report judges with hindsight, the replay itself never
peeks); a transaction without a label counts as genuine (the simulator's convention, and
what a bank's chargeback data gives).

Per rule, active and shadow (and per allow/deny list): hits, precision, recall, fraud amount
caught (sum of ``amount`` in the transactions' own currencies), false positives per true
positive, alert rate (hits / transactions). The same per decision (review, challenge, block,
and any alert = review or stronger). For the decision score: ROC AUC, average precision,
precision at k cards per day (each day the k cards with the highest score, a transaction
without a card counting under its customer), the precision-recall curve, the score
distribution of fraud and genuine transactions and the daily alert volume, as inline SVG.

Flags: ``no_hits`` for a rule that never hit; ``low_precision`` for a rule whose precision is
below a fifth of the median precision of the rules that hit (with at least two such rules).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskstream.decisions import DECISION_NAMES, REVIEW
from riskstream.engine import DecisionBatch
from riskstream.replay.metrics import (
    average_precision,
    group_metrics,
    pr_curve,
    precision_at_k_per_day,
    roc_auc,
)
from riskstream.rules import RuleSet
from riskstream.stream.labels import read_labels

__all__ = ["Backtest", "build_report", "load_truth", "render_html", "write_report"]

_MS_PER_DAY = 86_400_000
LOW_PRECISION_FACTOR = 0.2


def load_truth(path: str | Path) -> dict[str, bool]:
    """tx_id -> is_fraud from a label file (fraud if any of its labels says so)."""
    feed, _ = read_labels(path)
    labels = feed.release(np.iinfo(np.int64).max)
    truth: dict[str, bool] = {}
    for tx_id, fraud in zip(labels.tx_id.tolist(), labels.is_fraud.tolist(), strict=True):
        truth[tx_id] = truth.get(tx_id, False) or bool(fraud)
    return truth


class Backtest:
    """Collects what the report needs from each decision batch (columns, and hit rows only)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self._cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("tx_id", "entity", "amount", "timestamp", "decision", "score")
        }
        self._hits: dict[str, list[int]] = {}
        self._shadow: dict[str, list[int]] = {}
        self.rows = 0

    def add(self, db: DecisionBatch) -> None:
        batch = db.batch
        entity = batch.card_id.copy()
        missing = np.equal(entity, None)
        if missing.any():
            entity[missing] = batch.customer_id[missing]
        for name, col in (
            ("tx_id", batch.tx_id),
            ("entity", entity),
            ("amount", batch.amount),
            ("timestamp", batch.timestamp),
            ("decision", db.decision),
            ("score", db.score),
        ):
            self._cols[name].append(col)
        for row, why in db.explanations.items():
            for rule in why["rule_hits"]:
                self._hits.setdefault(rule, []).append(self.rows + row)
            for rule in why["shadow_hits"]:
                self._shadow.setdefault(rule, []).append(self.rows + row)
        self.rows += len(db)

    def column(self, name: str) -> np.ndarray:
        parts = self._cols[name]
        return np.concatenate(parts) if parts else np.empty(0)

    def hit_rows(self, rule_id: str, shadow: bool) -> np.ndarray:
        rows = (self._shadow if shadow else self._hits).get(rule_id, [])
        return np.asarray(rows, dtype=np.int64)


def build_report(
    backtest: Backtest, truth: Mapping[str, bool], ks: Sequence[int] = (10, 50, 100)
) -> dict[str, Any]:
    """Every number of the report, JSON-ready."""
    tx = backtest.column("tx_id")
    n = len(tx)
    is_fraud = np.fromiter((truth.get(t, False) for t in tx.tolist()), dtype=bool, count=n)
    amount = backtest.column("amount").astype(np.float64)
    decision = backtest.column("decision").astype(np.int8)
    score = backtest.column("score").astype(np.float64)
    ts = backtest.column("timestamp").astype(np.int64)
    total_fraud = int(is_fraud.sum())

    def mask_of(rows: np.ndarray) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        return mask

    rules = []
    for rule in backtest.rules.rules:
        shadow = not rule.active
        entry = {"id": rule.id, "mode": rule.mode, "action": rule.action}
        entry.update(group_metrics(mask_of(backtest.hit_rows(rule.id, shadow)), is_fraud,
                                   amount, total_fraud))  # fmt: skip
        rules.append(entry)
    for acc in backtest.rules.access_lists:
        entry = {"id": acc.label, "mode": "active", "action": acc.kind}
        entry.update(group_metrics(mask_of(backtest.hit_rows(acc.label, False)), is_fraud,
                                   amount, total_fraud))  # fmt: skip
        rules.append(entry)
    _flag_rules(rules)
    decisions = {}
    for code, name in enumerate(DECISION_NAMES):
        decisions[name] = group_metrics(decision == code, is_fraud, amount, total_fraud)
    decisions["alert (review or stronger)"] = group_metrics(
        decision >= REVIEW, is_fraud, amount, total_fraud
    )
    precision, recall, thresholds = pr_curve(is_fraud, score)
    day = ts // _MS_PER_DAY
    entity = backtest.column("entity")
    alerts_by_day = {}
    for d in np.unique(day).tolist():
        on_day = decision[day == d]
        alerts_by_day[_iso_day(d)] = {
            name: int((on_day == code).sum())
            for code, name in enumerate(DECISION_NAMES)
            if code >= REVIEW
        }
    return {
        "transactions": n,
        "fraud_transactions": total_fraud,
        "fraud_amount": round(float(amount[is_fraud].sum()), 2),
        "ruleset": {"source": backtest.rules.source, "hash": backtest.rules.hash},
        "rules": rules,
        "flagged_rules": [{"id": r["id"], "flags": r["flags"]} for r in rules if r["flags"]],
        "decisions": decisions,
        "score": {
            "roc_auc": roc_auc(is_fraud, score),
            "average_precision": average_precision(is_fraud, score),
            "precision_at_k_cards_per_day": [
                precision_at_k_per_day(day, entity, score, is_fraud, k) for k in ks
            ],
            "pr_curve": _thin_curve(precision, recall, thresholds),
            "distribution": _histograms(score, is_fraud),
        },
        "daily_alerts": alerts_by_day,
    }


def _flag_rules(rules: list[dict[str, Any]]) -> None:
    precisions = [r["precision"] for r in rules if r["hits"]]
    median = float(np.median(precisions)) if len(precisions) >= 2 else None
    for r in rules:
        flags = []
        if r["hits"] == 0:
            flags.append("no_hits")
        elif median is not None and r["precision"] < LOW_PRECISION_FACTOR * median:
            flags.append("low_precision")
        r["flags"] = flags


def _iso_day(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _thin_curve(
    precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray, points: int = 200
) -> dict[str, list[float]]:
    """At most ``points`` points of the curve (evenly by index, the ends kept)."""
    if len(precision) > points:
        keep = np.unique(np.linspace(0, len(precision) - 1, points).round().astype(np.int64))
        precision, recall, thresholds = precision[keep], recall[keep], thresholds[keep]
    return {
        "precision": [round(float(v), 6) for v in precision],
        "recall": [round(float(v), 6) for v in recall],
        "threshold": [round(float(v), 6) for v in thresholds],
    }


def _histograms(score: np.ndarray, is_fraud: np.ndarray, bins: int = 20) -> dict[str, Any]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    clipped = np.clip(score, 0.0, 1.0)
    return {
        "bin_edges": [round(float(e), 4) for e in edges],
        "fraud": np.histogram(clipped[is_fraud], edges)[0].tolist(),
        "genuine": np.histogram(clipped[~is_fraud], edges)[0].tolist(),
    }


# --- HTML -----------------------------------------------------------------------------------


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _figures(report: Mapping[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "riskstream", "font.size": 9})
    out: dict[str, str] = {}
    curve = report["score"]["pr_curve"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(curve["recall"], curve["precision"], drawstyle="steps-post", color="#1f5fa8")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title="Precision-recall of the decision score")  # fmt: skip
    ax.grid(alpha=0.3)
    out["pr_curve"] = _svg(fig)
    plt.close(fig)
    dist = report["score"]["distribution"]
    edges = np.asarray(dist["bin_edges"])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name, color in (("genuine", "#7a8b99"), ("fraud", "#c0392b")):
        counts = np.asarray(dist[name], dtype=np.float64)
        share = counts / counts.sum() if counts.sum() else counts
        ax.stairs(share, edges, label=f"{name} ({int(counts.sum()):,})", color=color, lw=1.5)
    ax.set(xlabel="decision score", ylabel="share of transactions", yscale="log",
           title="Score distribution")  # fmt: skip
    ax.legend()
    ax.grid(alpha=0.3)
    out["score_distribution"] = _svg(fig)
    plt.close(fig)
    daily = report["daily_alerts"]
    days = list(daily)
    fig, ax = plt.subplots(figsize=(max(5, min(12, 0.2 * len(days) + 3)), 3.6))
    bottom = np.zeros(len(days))
    colors = {"review": "#f0b429", "challenge": "#e67e22", "block": "#c0392b"}
    for name, color in colors.items():
        values = np.array([daily[d].get(name, 0) for d in days], dtype=np.float64)
        ax.bar(range(len(days)), values, bottom=bottom, color=color, label=name)
        bottom += values
    step = max(1, len(days) // 10)
    ax.set_xticks(range(0, len(days), step), [days[i] for i in range(0, len(days), step)],
                  rotation=30, ha="right")  # fmt: skip
    ax.set(ylabel="alerts", title="Daily alert volume")
    ax.legend()
    out["daily_alerts"] = _svg(fig)
    plt.close(fig)
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


_COLUMNS = (
    ("hits", "hits"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("fraud_amount_caught", "fraud amount caught"),
    ("false_positives_per_true_positive", "FP per TP"),
    ("alert_rate", "alert rate"),
)

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}tr.flag td{background:#fdecea}
.flag-label{color:#c0392b;font-weight:600}.figs{display:flex;flex-wrap:wrap;gap:1em}
.figure svg{max-width:100%;height:auto}code{font-size:.9em}.muted{color:#777}
"""


def render_html(report: Mapping[str, Any], comparison: Mapping[str, Any] | None = None) -> str:
    """The report as one self-contained HTML page (inline SVG plots, no scripts, no links)."""
    figures = _figures(report)
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>riskstream backtest report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Backtest report</h1>",
        f"<p>{report['transactions']:,} transactions, {report['fraud_transactions']:,} fraud "
        f"(amount {report['fraud_amount']:,.2f}); rule set <code>{esc(report['ruleset']['source'])}"
        f"</code> <span class='muted'>{esc(report['ruleset']['hash'][:16])}</span></p>",
    ]
    score = report["score"]
    parts.append("<h2>Decision score</h2><table><tr><th>metric</th><th>value</th></tr>")
    parts.append(f"<tr><td>ROC AUC</td><td>{_fmt(score['roc_auc'])}</td></tr>")
    parts.append(f"<tr><td>average precision</td><td>{_fmt(score['average_precision'])}</td></tr>")
    for p in score["precision_at_k_cards_per_day"]:
        parts.append(
            f"<tr><td>precision at {p['k']} cards per day (mean over {p['days']} days)</td>"
            f"<td>{_fmt(p['mean_over_days'])}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<div class='figs'>")
    for key in ("pr_curve", "score_distribution", "daily_alerts"):
        parts.append(f"<div class='figure' id='fig-{key}'>{figures[key]}</div>")
    parts.append("</div>")
    header = "".join(f"<th>{label}</th>" for _, label in _COLUMNS)
    parts.append(f"<h2>Decisions</h2><table><tr><th>decision</th>{header}</tr>")
    for name, m in report["decisions"].items():
        cells = "".join(f"<td>{_fmt(m[k])}</td>" for k, _ in _COLUMNS)
        parts.append(f"<tr><td>{esc(name)}</td>{cells}</tr>")
    parts.append("</table>")
    parts.append(
        f"<h2>Rules</h2><table id='rules'><tr><th>rule</th><th>mode</th><th>action</th>"
        f"{header}<th>flags</th></tr>"
    )
    for r in report["rules"]:
        cells = "".join(f"<td>{_fmt(r[k])}</td>" for k, _ in _COLUMNS)
        flags = ", ".join(r["flags"])
        row_class = " class='flag'" if flags else ""
        parts.append(
            f"<tr{row_class}><td>{esc(r['id'])}</td><td>{esc(r['mode'])}</td>"
            f"<td>{esc(r['action'])}</td>{cells}"
            f"<td class='flag-label'>{esc(flags)}</td></tr>"
        )
    parts.append("</table>")
    if comparison is not None:
        parts.append(_comparison_html(comparison))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _comparison_html(c: Mapping[str, Any]) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{v:,}</td></tr>" for k, v in c["changed_by_transition"].items()
    )
    out = [
        "<h2>Rule-set comparison</h2>",
        f"<p>old <code>{esc(c['old_ruleset']['source'])}</code> → new "
        f"<code>{esc(c['new_ruleset']['source'])}</code>: {c['changed']:,} of "
        f"{c['transactions']:,} decisions changed; {c['customers_newly_challenged']:,} "
        "customers newly challenged.</p>",
        f"<table><tr><th>old → new</th><th>transactions</th></tr>{rows}</table>",
    ]
    fraud = c.get("fraud")
    if fraud:
        out.append("<table><tr><th></th><th>fraud caught</th><th>missed</th><th>alerts</th></tr>")
        for side in ("old", "new"):
            f = fraud[side]
            out.append(
                f"<tr><td>{side}</td><td>{f['caught']:,}</td><td>{f['missed']:,}</td>"
                f"<td>{f['alerts']:,}</td></tr>"
            )
        out.append("</table>")
    return "\n".join(out)


def write_report(
    out_dir: Path,
    backtest: Backtest,
    truth: Mapping[str, bool],
    ks: Sequence[int],
    summary: Mapping[str, Any] | None = None,
    comparison: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; returns the report."""
    report = build_report(backtest, truth, ks)
    if summary is not None:
        report["run"] = {
            k: summary[k]
            for k in ("decisions_out", "dead_letters_out", "seconds", "throughput_tx_per_s")
            if k in summary
        }
    if comparison is not None:
        report["comparison"] = comparison
    (out_dir / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    (out_dir / "report.html").write_text(render_html(report, comparison), encoding="utf-8")
    return report
