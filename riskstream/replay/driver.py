"""The replay driver (`riskstream replay`): history in, the outputs of `run` out, fast.

It feeds event-time ordered `TxBatch` chunks (`riskstream.replay.inputs`) to the same
`Engine.score` as `run`, in large batches (labels do not cut them: the Engine's stages see
each label from the row at which it is due, so the decisions equal `run`'s whatever the batch
size), and writes ``decisions.jsonl`` (hash-chained, see
`riskstream.replay.audit`), ``alerts.jsonl`` and the SMS task files (through the run's
`RunAlerts`), ``dead_letters.jsonl`` and ``summary.json``. Decision lines are formatted by a
numba kernel (`riskstream.replay._format`, byte-identical to `decision_lines`), chained and
written on a second thread while the Engine scores the next batch; both kernels release the
GIL, so a second core does the output. Optional collectors build the backtest report and the
rule-set comparison on the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskstream.alerts.embedded import RunAlerts
from riskstream.batch import DeadLetter, TxBatch
from riskstream.decisions import DECISION_NAMES
from riskstream.engine import DecisionBatch, Engine, ScoreResult
from riskstream.errors import InputError
from riskstream.replay.audit import ChainedWriter
from riskstream.replay.compare import Comparison, TeePolicy
from riskstream.replay.inputs import History
from riskstream.rules import RuleSet
from riskstream.stream.embedded import RunSummary
from riskstream.stream.records import dead_letter_lines
from riskstream.stream.sink import DecisionSink

__all__ = ["ReplaySummary", "replay_history", "score_in_order"]


@dataclass
class ReplaySummary(RunSummary):
    """`RunSummary` plus what a replay adds: input format, order, stage times."""

    input_format: str = ""
    input_rows: int = 0
    sorted_input: bool = True
    batch_size: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        out = super().to_json_dict()
        out["lines_in"] = self.input_rows
        out["throughput_tx_per_s"] = round(self.input_rows / self.seconds) if self.seconds else 0
        out["input"] = {
            "format": self.input_format,
            "rows": self.input_rows,
            "in_event_time_order": self.sorted_input,
            "sorted_by_replay": not self.sorted_input,
        }
        out["batch_size"] = self.batch_size
        out["stage_seconds"] = {k: round(v, 3) for k, v in self.stage_seconds.items()}
        return out


Collector = Callable[[DecisionBatch], None]


def replay_history(
    history: History,
    out: str | Path,
    engine: Engine,
    labels_rejected: int = 0,
    collectors: tuple[Collector, ...] = (),
    compare: RuleSet | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[ReplaySummary, Comparison | None]:
    """Score every transaction of ``history`` with ``engine``, writing `run`'s outputs to ``out``.

    ``collectors`` are called with every decision batch (the report's); with ``compare`` (the
    old rule set) the engine's rule set is compared with it on the same frames.
    """
    out_dir = Path(out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror}") from exc
    summary = ReplaySummary(
        labels_loaded=engine.labels.pending,
        labels_rejected=labels_rejected,
        input_format=history.format,
        input_rows=history.rows,
        sorted_input=history.sorted_input,
    )
    comparison = Comparison(compare, engine.rules) if compare is not None else None
    tee = TeePolicy(engine.policy, compare) if compare is not None else None
    if tee is not None:
        engine.policy = tee  # type: ignore[assignment]
    stages = dict.fromkeys(("input", "engine", "outputs", "write (thread)"), 0.0)
    # outputs: what the main thread spends on them; write (thread): decisions formatted,
    # chained and written, alerts and SMS tasks, on the second thread (overlapping the rest)
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            dead_file = stack.enter_context(open(out_dir / "dead_letters.jsonl", "wb"))
            alerts = RunAlerts(engine.config.get("alerts", {}), out_dir, history.path)
            stack.callback(alerts.close)
            sink = DecisionSink(ChainedWriter.open(out_dir / "decisions.jsonl"), alerts)
            stack.callback(sink.close)  # on an error (before alerts.close); no-op after close
            written_dead = 0
            chunks = iter(history.chunks)
            while True:
                t0 = time.perf_counter()
                batch = next(chunks, None)
                t1 = time.perf_counter()
                stages["input"] += t1 - t0
                if batch is None:
                    break
                summary.batch_size = max(summary.batch_size, len(batch))
                batch.ingest_ns = time.monotonic_ns()
                result = score_in_order(engine, batch)
                t2 = time.perf_counter()
                stages["engine"] += t2 - t1
                old = tee.take() if tee is not None else []  # one per Engine.score call
                row = 0
                for db in result.decisions:
                    db.latency_us = np.full(
                        len(db), (time.monotonic_ns() - batch.ingest_ns) // 1000, np.int64
                    )
                    sink.submit(db)
                    _count(db, summary)
                    for collect in collectors:
                        collect(db)
                    if comparison is not None:
                        comparison.add(db, old[0], row)
                    row += len(db)
                dead = _with_rows(result.dead_letters, batch)
                dead.extend(history.dead[written_dead:])
                written_dead = len(history.dead)
                if dead:
                    dead_file.writelines(dead_letter_lines(dead))
                    summary.dead_letters.update(d.reason for d in dead)
                sink.end_batch()
                stages["outputs"] += time.perf_counter() - t2
                if on_progress is not None:
                    on_progress(len(batch))
            rest = history.dead[written_dead:]
            if rest:
                dead_file.writelines(dead_letter_lines(rest))
                summary.dead_letters.update(d.reason for d in rest)
            t3 = time.perf_counter()
            engine.flush()
            sink.close()
            stages["outputs"] += time.perf_counter() - t3
            stages["write (thread)"] = sink.seconds
            summary.alerts, summary.sms_tasks = sink.alerted, sink.tasks
    finally:
        if tee is not None:
            engine.policy = tee.policy
    summary.seconds = time.perf_counter() - started
    summary.stage_seconds = stages
    summary.ruleset_hash = engine.ruleset_hash
    summary.model_snapshot = engine.model_snapshot
    (out_dir / "summary.json").write_bytes(
        orjson.dumps(summary.to_json_dict(), option=orjson.OPT_INDENT_2)
    )
    return summary, comparison


def score_in_order(engine: Engine, batch: TxBatch) -> ScoreResult:
    """`Engine.score` on ``batch``: it cuts the batch where the model rotates its snapshot and
    hands each stage the labels due inside a part row by row, so one call does it all (kept as
    the replay's one entry point into the Engine)."""
    return engine.score(batch)


def _count(db: DecisionBatch, summary: RunSummary) -> None:
    counts = np.bincount(db.decision, minlength=len(DECISION_NAMES))
    for code, name in enumerate(DECISION_NAMES):
        summary.decisions[name] += int(counts[code])
    for why in db.explanations.values():
        summary.rule_hits.update(why["rule_hits"])
        summary.shadow_hits.update(why["shadow_hits"])
    summary.latencies_us.append(db.latency_us[:1])


def _with_rows(dead: list[DeadLetter], batch: TxBatch) -> list[DeadLetter]:
    """Duplicates found by the Engine carry no bytes: give them the row as JSON."""
    if not dead:
        return []
    position = {int(o): i for i, o in enumerate(batch.offset.tolist())}
    for letter in dead:
        i = position.get(letter.offset)
        if i is not None and not letter.raw:
            letter.raw = orjson.dumps(_row(batch, i))
    return dead


def _row(batch: TxBatch, i: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, col in batch.columns().items():
        if name == "offset":
            continue
        value = col[i]
        if isinstance(value, np.floating):
            value = None if np.isnan(value) else float(value)
        elif isinstance(value, np.integer):
            value = int(value)
        if value is not None:
            row[name] = value
    return row
