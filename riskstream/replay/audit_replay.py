"""`riskstream audit replay`: recompute every recorded decision and report every difference.

The log's chain is verified first. Each record names the rule set (``ruleset_hash``) and model
snapshot it was decided with; rule files are found by hash among the candidates given
(``--rules``, files or folders) and the shipped default. The history is then replayed from
the start through a fresh Engine built from the run's config (the policy thresholds are not
covered by the rule-set hash: give the run's ``--config``), with the labels it had, switching
rule sets exactly where the log does (a hot reload during the run). Every recomputed record is
compared with the recorded one, field by field, apart from ``latency_us`` and the chain
fields; numbers are equal when they agree to the 6 decimals recorded. The model snapshot is
checked as a field: a replay from the same history and config rebuilds the same content-hashed
snapshots, so the recorded id must come out again (a snapshot store is not needed). A record
written from a batch that spanned a snapshot rotation names all the batch's snapshots
(comma-separated); the replay cuts batches at rotations, and the one snapshot it finds for the
row must be among them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.errors import ReplayError, RuleError
from riskstream.replay.audit import VerifyResult, verify_log
from riskstream.replay.driver import score_in_order
from riskstream.replay.inputs import read_history
from riskstream.rules import RuleSet, default_ruleset_path, load_ruleset
from riskstream.stream.labels import read_labels
from riskstream.stream.records import decision_lines

__all__ = ["AuditResult", "audit_decisions", "find_rulesets"]

_IGNORED = frozenset({"latency_us", "seq", "prev_hash"})
_TOLERANCE = 1.000001e-6


@dataclass
class Mismatch:
    """One difference: 1-based log line (0 when the transaction is not in the log)."""

    line: int
    tx_id: str
    what: str


@dataclass
class AuditResult:
    chain: VerifyResult
    recorded: int = 0
    recomputed: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    rulesets: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.mismatches

    def lines(self, show: int = 20) -> list[str]:
        out = [f"chain: {self.chain}"]
        for digest, source in self.rulesets.items():
            out.append(f"rule set {digest[:16]}: {source}")
        out.append(
            f"{self.recorded} decisions recorded, {self.recomputed} recomputed, "
            f"{len(self.mismatches)} mismatches"
        )
        for m in self.mismatches[:show]:
            where = f"line {m.line}" if m.line else "not in the log"
            out.append(f"  {where}: tx {m.tx_id}: {m.what}")
        if len(self.mismatches) > show:
            out.append(f"  ... and {len(self.mismatches) - show} more")
        out.append("OK: every decision recomputes exactly" if self.ok else "FAILED")
        return out


def find_rulesets(candidates: Sequence[str | Path], catalog: Any) -> dict[str, RuleSet]:
    """hash -> compiled rule set for every rule file among ``candidates`` (files or folders,
    searched for ``*.yaml``/``*.yml``) and the shipped default; files that do not compile are
    skipped."""
    paths: list[Path] = [Path(default_ruleset_path())]
    for item in candidates:
        p = Path(item)
        if p.is_dir():
            paths.extend(sorted([*p.rglob("*.yaml"), *p.rglob("*.yml")]))
        else:
            paths.append(p)
    found: dict[str, RuleSet] = {}
    for path in paths:
        try:
            ruleset = load_ruleset(path, catalog)
        except (RuleError, OSError):
            continue
        found.setdefault(ruleset.hash, ruleset)
    return found


def _read_log(path: str | Path) -> tuple[list[dict[str, Any]], list[Mismatch]]:
    records: list[dict[str, Any]] = []
    bad: list[Mismatch] = []
    for number, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad.append(Mismatch(number, "?", "not a JSON record"))
            continue
        if type(record) is not dict or type(record.get("tx_id")) is not str:
            bad.append(Mismatch(number, "?", "not a decision record"))
            continue
        record["__line__"] = number
        records.append(record)
    return records, bad


def audit_decisions(
    decisions_path: str | Path,
    source: str | Path,
    labels_path: str | Path | None = None,
    rule_candidates: Sequence[str | Path] = (),
    config_path: str | Path | None = None,
    fmt: str | None = None,
    mapping: Mapping[str, str] | None = None,
    batch_size: int = 65_536,
) -> AuditResult:
    """Verify the chain of ``decisions_path`` and recompute its decisions from ``source``."""
    result = AuditResult(chain=verify_log(decisions_path))
    records, bad = _read_log(decisions_path)
    result.mismatches.extend(bad)
    result.recorded = len(records)
    by_tx = {r["tx_id"]: r for r in records}
    config = load_config(config_path)
    config["rules"]["path"] = None
    labels = read_labels(labels_path)[0] if labels_path else None
    engine = Engine(config, labels=labels)
    rulesets = find_rulesets(rule_candidates, engine.catalog)
    needed = list(dict.fromkeys(str(r.get("ruleset_hash")) for r in records))
    missing = [h for h in needed if h not in rulesets]
    if missing:
        raise ReplayError(
            "no candidate rule file has the recorded rule-set hash "
            + ", ".join(h[:16] for h in missing)
            + " (give the rule files with --rules FILE_OR_FOLDER)"
        )
    result.rulesets = {h: rulesets[h].source for h in needed}
    if needed:
        engine.rules = rulesets[needed[0]]
    history = read_history(
        source,
        fmt,
        mapping,
        batch_size,
        int(config["input"]["max_line_bytes"]),
        int(config["input"]["max_id_length"]),
    )
    seen: set[str] = set()
    for batch in history.chunks:
        hashes = [str(by_tx[t]["ruleset_hash"]) if t in by_tx else "" for t in batch.tx_id.tolist()]
        current = engine.rules.hash
        bounds = [0]
        for i, h in enumerate(hashes):
            if h and h != current:
                bounds.append(i)
                current = h
        bounds.append(len(batch))
        for start, stop in itertools.pairwise(bounds):
            if start == stop:
                continue
            h = hashes[start]
            if h and h != engine.rules.hash:
                engine.rules = rulesets[h]
            part = batch if (start, stop) == (0, len(batch)) else batch.take(slice(start, stop))
            for db in score_in_order(engine, part).decisions:
                ids = db.batch.tx_id.tolist()
                db.latency_us = np.array(
                    [int(by_tx[t].get("latency_us", 0)) if t in by_tx else 0 for t in ids],
                    dtype=np.int64,
                )
                for tx_id, line in zip(ids, decision_lines(db), strict=True):
                    result.recomputed += 1
                    seen.add(tx_id)
                    recorded = by_tx.get(tx_id)
                    if recorded is None:
                        result.mismatches.append(Mismatch(0, tx_id, "decided, but not recorded"))
                        continue
                    what = _differences(recorded, orjson.loads(line))
                    if what:
                        result.mismatches.append(Mismatch(recorded["__line__"], tx_id, what))
    for record in records:
        if record["tx_id"] not in seen:
            result.mismatches.append(
                Mismatch(record["__line__"], record["tx_id"], "recorded, but not in the input")
            )
    result.mismatches.sort(key=lambda m: (m.line == 0, m.line))
    return result


def _differences(recorded: Mapping[str, Any], recomputed: Mapping[str, Any]) -> str:
    keys = [k for k in dict.fromkeys([*recorded, *recomputed]) if k not in _IGNORED]
    diffs = []
    for key in keys:
        if key == "__line__":
            continue
        a, b = recorded.get(key), recomputed.get(key)
        # a batch that spanned a snapshot rotation names every snapshot it used; the replay
        # cuts there, so it names the one this row was scored with
        if key == "model_snapshot" and _one_of(b, a):
            continue
        if not _same(a, b):
            diffs.append(f"{key}: recorded {_short(a)}, recomputed {_short(b)}")
    return "; ".join(diffs)


def _one_of(recomputed: Any, recorded: Any) -> bool:
    if not isinstance(recomputed, str) or not isinstance(recorded, str):
        return False
    return set(recomputed.split(",")) <= set(recorded.split(","))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return abs(float(a) - float(b)) <= _TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."
