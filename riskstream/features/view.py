"""The 360° view of a profile: a stored record turned into human terms (and into JSON).

`describe` reads one record (any entity) and returns a plain mapping: identity and age,
habits (typical amount, usual hours, home area), recent activity per window as of the
profile's latest event time, calendar-month deposits, label-fed fraud figures and flags.
`render` lays that mapping out as text for ``riskstream profile show``. Window values are
computed exactly as the kernels compute them (same tiles, same spans).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from riskstream.features.schema import KINDS, NEVER, NO_MONTH
from riskstream.features.windows import WINDOWS

__all__ = ["describe", "render"]

_TAU_30D_MS = 30.0 * 86_400_000.0


def _iso(ms: int) -> str | None:
    if ms == NEVER:
        return None
    moment = _dt.datetime.fromtimestamp(ms / 1000.0, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _month_name(index: int) -> str:
    year, month = divmod(index, 12)
    return f"{1970 + year:04d}-{month + 1:02d}"


def _ring(record: np.void, field: str, window: str, now: int, reduce: str = "sum") -> float:
    """A window's value at ``now`` from a record's tile ring (mirrors windows.span)."""
    spec = WINDOWS[window]
    last = int(record["last_ts"])
    tiles = record[field]
    if last == NEVER:
        return 0.0
    head = last // spec.width_ms
    lo = max(now // spec.width_ms - spec.tiles + 1, head - spec.tiles + 1)
    values = [float(tiles[t % spec.tiles]) for t in range(lo, head + 1)]
    if reduce == "max":
        return max(values, default=0.0)
    return float(sum(values))


def _windows(record: np.void, now: int) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    names = record.dtype.names
    for window in WINDOWS:
        prefix = f"w{window}_"
        if f"{prefix}n" not in names:
            continue
        n = _ring(record, f"{prefix}n", window, now)
        entry: dict[str, float | None] = {"count": n}
        if f"{prefix}s" in names:
            total = _ring(record, f"{prefix}s", window, now) / 100.0
            entry["sum"] = round(total, 2)
            entry["mean"] = round(total / n, 2) if n else None
            if f"{prefix}q" in names and n >= 2:
                squares = _ring(record, f"{prefix}q", window, now)
                entry["std"] = round(float(np.sqrt(max(squares / n - (total / n) ** 2, 0.0))), 2)
            if f"{prefix}x" in names and n:
                top = _ring(record, f"{prefix}x", window, now, "max")
                entry["max"] = round(
                    top / 100.0 if record.dtype[f"{prefix}x"].base.kind == "u" else top, 2
                )
        if f"{prefix}small" in names:
            entry["small_count"] = _ring(record, f"{prefix}small", window, now)
        out[window] = entry
    return out


def _seen_table(table: np.ndarray, now: int) -> dict[str, int]:
    used = [int(e) for e in table.tolist() if e]
    ages = [(now // 1000 - (e >> 32)) / 86400.0 for e in used]
    return {
        "remembered": len(used),
        "seen_last_24h": sum(a <= 1 for a in ages),
        "seen_last_7d": sum(a <= 7 for a in ages),
        "seen_last_30d": sum(a <= 30 for a in ages),
    }


def describe(kind: str, entity_id: str, record: np.void | np.ndarray) -> dict[str, Any]:
    """A profile in human terms, as a JSON-ready mapping.

    Examples
    --------
    >>> from riskstream.features.schema import fresh_records
    >>> rec = fresh_records("payee", 1)[0]
    >>> describe("payee", "p1", rec)["transactions"]
    0
    """
    if kind not in KINDS:
        raise ValueError(f"unknown entity kind {kind!r}")
    r = record if isinstance(record, np.void) else record[()]
    names = r.dtype.names
    last = int(r["last_ts"])
    first = int(r["first_ts"])
    view: dict[str, Any] = {
        "entity": kind,
        "id": entity_id,
        "schema_version": int(r["version"]),
        "record_bytes": r.dtype.itemsize,
        "transactions": int(r["n_tx"]),
        "first_seen": _iso(first),
        "last_seen": _iso(last),
        "days_active": round((last - first) / 86_400_000.0, 1) if first != NEVER else None,
    }
    if last == NEVER:
        return view
    view["activity"] = _windows(r, last)
    habits: dict[str, Any] = {}
    if "amount_mean" in names and int(r["n_spend"]):
        habits["typical_amount"] = round(float(r["amount_mean"]), 2)
        habits["amount_spread_log"] = round(float(np.sqrt(max(float(r["log_var"]), 0.0))), 3)
        habits["spend_transactions"] = int(r["n_spend"])
    if "hours" in names:
        hours = r["hours"].astype(np.float64)
        if hours.sum() > 0:
            share = hours / hours.sum()
            top = np.argsort(-share, kind="stable")[:3]
            habits["usual_hours_utc"] = {f"{int(h):02d}h": round(float(share[h]), 3) for h in top}
    if "home_w" in names and float(r["home_w"].max()) > 0:
        j = 0 if r["home_w"][0] >= r["home_w"][1] else 1
        habits["home_area"] = {
            "lat": round(float(r["home_lat"][j]), 4),
            "lon": round(float(r["home_lon"][j]), 4),
            "weight": round(float(r["home_w"][j]), 1),
        }
    if "log_mean" in names and "n_amount" in names and int(r["n_amount"]):
        habits["typical_amount"] = round(float(np.expm1(r["log_mean"])), 2)
    if habits:
        view["habits"] = habits
    if "prev_loc_ts" in names and int(r["prev_loc_ts"]) != NEVER:
        view["last_location"] = {
            "lat": round(float(r["prev_lat"]), 4),
            "lon": round(float(r["prev_lon"]), 4),
            "at": _iso(int(r["prev_loc_ts"])),
        }
    tables = {
        name: _seen_table(r[name], last)
        for name in ("devices", "countries", "payees", "customers", "cards")
        if name in names
    }
    if "merchants" in names:
        if r["merchants"].dtype == np.uint64:
            tables["merchants"] = _seen_table(r["merchants"], last)
        else:
            tables["merchants"] = {"remembered": int(np.count_nonzero(r["merchants"]))}
    if tables:
        view["relations"] = tables
    if "deposits" in names and int(r["month"]) != NO_MONTH:
        month = int(r["month"])
        view["deposits_by_month"] = {
            _month_name(month - k): round(int(r["deposits"][k]) / 100.0, 2) for k in range(3)
        }
    if "fraud_ew" in names:
        fraud = float(r["fraud_ew"])
        if int(r["fraud_ts"]) != NEVER:
            fraud *= float(np.exp(-max(last - int(r["fraud_ts"]), 0) / _TAU_30D_MS))
        txs = float(r["tx_ew"])
        view["fraud"] = {
            "fraud_labels_decayed": round(fraud, 3),
            "fraud_rate": round(min(fraud / txs, 1.0), 4) if txs > 1e-9 else None,
            "last_fraud_label": _iso(int(r["fraud_ts"])),
        }
    view["flags"] = _flags(view)
    view["idempotency"] = {
        "recent_tx_remembered": int(np.count_nonzero(r["ring"])),
        "applied_up_to": _iso(int(r["floor"])),
    }
    return view


def _flags(view: dict[str, Any]) -> list[str]:
    flags = []
    months = view.get("deposits_by_month")
    if months and all(v > 20_000 for v in months.values()):
        flags.append("deposits above 20,000 in each of the last 3 calendar months")
    if view.get("days_active") is not None and view["days_active"] < 7:
        flags.append("new: less than 7 days of history")
    fraud = view.get("fraud")
    if fraud and fraud["fraud_labels_decayed"] >= 0.5:
        flags.append("recent fraud labels")
    relations = view.get("relations", {})
    if relations.get("customers", {}).get("seen_last_24h", 0) >= 3:
        flags.append("shared by several customers in the last 24 hours")
    return flags


def render(view: dict[str, Any]) -> str:
    """Text lines for a terminal, from `describe`'s mapping."""
    lines = [
        f"{view['entity']} {view['id']}  (schema v{view['schema_version']}, "
        f"{view['record_bytes']} bytes)",
        f"  transactions: {view['transactions']}   first seen: {view['first_seen'] or '-'}   "
        f"last seen: {view['last_seen'] or '-'}",
    ]
    if view.get("flags"):
        lines.append("  flags: " + "; ".join(view["flags"]))
    habits = view.get("habits")
    if habits:
        lines.append("habits")
        if "typical_amount" in habits:
            lines.append(f"  typical amount: {habits['typical_amount']:,.2f}")
        if "usual_hours_utc" in habits:
            hours = ", ".join(f"{h} ({s:.0%})" for h, s in habits["usual_hours_utc"].items())
            lines.append(f"  usual hours (UTC): {hours}")
        if "home_area" in habits:
            home = habits["home_area"]
            lines.append(f"  home area: {home['lat']}, {home['lon']}")
    activity = view.get("activity")
    if activity:
        lines.append("recent activity (as of last seen)")
        for window, entry in activity.items():
            parts = [f"{int(entry['count'])} tx"]
            if "sum" in entry:
                parts.append(f"sum {entry['sum']:,.2f}")
            if entry.get("mean") is not None:
                parts.append(f"mean {entry['mean']:,.2f}")
            if entry.get("max") is not None:
                parts.append(f"max {entry['max']:,.2f}")
            if entry.get("std") is not None:
                parts.append(f"std {entry['std']:,.2f}")
            if "small_count" in entry:
                parts.append(f"{int(entry['small_count'])} below 5")
            lines.append(f"  {window:>4}: " + ", ".join(parts))
    if view.get("last_location"):
        loc = view["last_location"]
        lines.append(f"last location: {loc['lat']}, {loc['lon']} at {loc['at']}")
    relations = view.get("relations")
    if relations:
        lines.append("relations (recently seen)")
        for name, table in relations.items():
            details = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in table.items())
            lines.append(f"  {name}: {details}")
    months = view.get("deposits_by_month")
    if months:
        lines.append("deposits by calendar month")
        for month, total in months.items():
            lines.append(f"  {month}: {total:,.2f}")
    fraud = view.get("fraud")
    if fraud:
        rate = "-" if fraud["fraud_rate"] is None else f"{fraud['fraud_rate']:.2%}"
        lines.append(f"fraud labels (decayed): {fraud['fraud_labels_decayed']}, rate {rate}")
    return "\n".join(lines)
