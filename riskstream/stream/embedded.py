"""The embedded driver (`riskstream run`): a file or stdin in, decision files out, in-process.

Reads micro-batches of lines, decodes them (bad lines -> dead letters), calls
`Engine.score`, and writes ``decisions.jsonl``, ``alerts.jsonl``, ``sms_tasks.jsonl``,
``dead_letters.jsonl`` and ``summary.json``. With ``out="-"`` decisions stream to stdout,
flushed per micro-batch, and dead letters go to stderr as JSON lines.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from riskstream.alerts.embedded import RunAlerts
from riskstream.batch import DeadLetter
from riskstream.decisions import DECISION_NAMES
from riskstream.engine import DecisionBatch, Engine
from riskstream.errors import InputError
from riskstream.replay.audit import ChainedWriter, sidecar_path
from riskstream.stream.decode import Decoder
from riskstream.stream.records import dead_letter_lines
from riskstream.stream.sink import DecisionSink
from riskstream.stream.sources import LineBatch, read_line_batches

__all__ = ["RunSummary", "run_embedded"]


@dataclass
class RunSummary:
    """The figures of one run, written to ``summary.json``."""

    lines_in: int = 0
    decisions: Counter = field(default_factory=Counter)
    dead_letters: Counter = field(default_factory=Counter)
    alerts: int = 0
    sms_tasks: int = 0
    labels_loaded: int = 0
    labels_rejected: int = 0
    rule_hits: Counter = field(default_factory=Counter)
    shadow_hits: Counter = field(default_factory=Counter)
    rule_reloads: int = 0
    seconds: float = 0.0
    latencies_us: list[np.ndarray] = field(default_factory=list, repr=False)
    ruleset_hash: str = ""
    model_snapshot: str = ""

    @property
    def decided(self) -> int:
        return sum(self.decisions.values())

    def to_json_dict(self) -> dict[str, Any]:
        lat = np.concatenate(self.latencies_us) if self.latencies_us else np.zeros(1, np.int64)
        return {
            "lines_in": self.lines_in,
            "decisions_out": self.decided,
            "dead_letters_out": sum(self.dead_letters.values()),
            "decisions": {name: self.decisions.get(name, 0) for name in DECISION_NAMES},
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "alerts": self.alerts,
            "sms_tasks": self.sms_tasks,
            "labels_loaded": self.labels_loaded,
            "labels_rejected": self.labels_rejected,
            "top_rules": dict(self.rule_hits.most_common(10)),
            "top_shadow_rules": dict(self.shadow_hits.most_common(10)),
            "rule_reloads": self.rule_reloads,
            "seconds": round(self.seconds, 3),
            "throughput_tx_per_s": round(self.lines_in / self.seconds) if self.seconds else 0,
            "latency_us": {
                "p50": int(np.percentile(lat, 50)),
                "p99": int(np.percentile(lat, 99)),
            },
            "ruleset_hash": self.ruleset_hash,
            "model_snapshot": self.model_snapshot,
        }


class _Outputs:
    """The files of a run; decisions can go to stdout instead (``out == "-"``)."""

    def __init__(self, stack: ExitStack, out: str) -> None:
        self.to_stdout = out == "-"
        if self.to_stdout:
            self.decisions = ChainedWriter(sys.stdout.buffer)  # hash chain: replay/audit.py
            self.dead: IO[bytes] = sys.stderr.buffer
            self.dir = None
            return
        self.dir = Path(out)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            opened = [
                stack.enter_context(open(self.dir / name, "wb"))  # noqa: SIM115
                for name in ("decisions.jsonl", "dead_letters.jsonl")
            ]
        except OSError as exc:
            raise InputError(f"cannot write to {out}: {exc.strerror}") from exc
        decisions, self.dead = opened
        self.decisions = ChainedWriter(decisions, sidecar=sidecar_path(decisions.name))
        stack.callback(self.decisions.close, False)  # head into the sidecar, before the close


def run_embedded(
    source: str | Path,
    out: str,
    engine: Engine,
    labels_rejected: int = 0,
    on_progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Score every line of ``source`` with ``engine``, writing the outputs to ``out``."""
    batch_size = int(engine.config["engine"]["batch_size"])
    max_wait = float(engine.config["engine"]["max_wait_ms"])
    decoder = Decoder(
        int(engine.config["input"]["max_line_bytes"]),
        int(engine.config["input"]["max_id_length"]),
    )
    summary = RunSummary(labels_loaded=engine.labels.pending, labels_rejected=labels_rejected)
    started = time.perf_counter()
    with ExitStack() as stack:
        outputs = _Outputs(stack, out)
        alerts = RunAlerts(engine.config.get("alerts", {}), outputs.dir, source)
        stack.callback(alerts.close)
        # decisions and alerts on a second thread; the writer is closed by `outputs`
        sink = DecisionSink(outputs.decisions, alerts, flush=outputs.to_stdout, close_writer=False)
        stack.callback(sink.close)  # on an error; a no-op after the close below
        for lines in read_line_batches(source, batch_size, max_wait):
            summary.rule_reloads += engine.poll_rules()
            _process(lines, decoder, engine, outputs, summary, sink)
            if on_progress is not None:
                on_progress(sum(map(len, lines.lines)) + len(lines.lines))
        engine.flush()
        sink.close()
        summary.alerts, summary.sms_tasks = sink.alerted, sink.tasks
    summary.seconds = time.perf_counter() - started
    summary.ruleset_hash = engine.ruleset_hash
    summary.model_snapshot = engine.model_snapshot
    if outputs.dir is not None:
        (outputs.dir / "summary.json").write_bytes(
            orjson.dumps(summary.to_json_dict(), option=orjson.OPT_INDENT_2)
        )
    return summary


def _process(
    lines: LineBatch,
    decoder: Decoder,
    engine: Engine,
    outputs: _Outputs,
    summary: RunSummary,
    sink: DecisionSink,
) -> None:
    ingest_ns = time.monotonic_ns()
    summary.lines_in += len(lines.lines)
    batch, dead = decoder.decode(lines.lines, lines.offsets, ingest_ns)
    result = engine.score(batch)
    dead.extend(_with_raw(result.dead_letters, lines))
    for db in result.decisions:
        _stamp_latency(db)
        sink.submit(db)
        _count(db, summary)
    if dead:
        outputs.dead.writelines(dead_letter_lines(dead))
        summary.dead_letters.update(d.reason for d in dead)
    sink.end_batch()


def _with_raw(dead: list[DeadLetter], lines: LineBatch) -> list[DeadLetter]:
    """Attach the original bytes to dead letters found after decoding (duplicates)."""
    if not dead:
        return dead
    by_offset = dict(zip(lines.offsets, lines.lines, strict=True))
    for letter in dead:
        letter.raw = by_offset.get(letter.offset, letter.raw)
    return dead


def _stamp_latency(db: DecisionBatch) -> None:
    elapsed_us = (time.monotonic_ns() - db.batch.ingest_ns) // 1000
    db.latency_us = np.full(len(db), elapsed_us, dtype=np.int64)


def _count(db: DecisionBatch, summary: RunSummary) -> None:
    counts = np.bincount(db.decision, minlength=len(DECISION_NAMES))
    for code, name in enumerate(DECISION_NAMES):
        summary.decisions[name] += int(counts[code])
    for why in db.explanations.values():
        summary.rule_hits.update(why["rule_hits"])
        summary.shadow_hits.update(why["shadow_hits"])
    summary.latencies_us.append(db.latency_us)


def input_size(source: str | Path) -> int | None:
    """Bytes in a regular input file (for a progress bar), None for stdin or a pipe."""
    if str(source) == "-":
        return None
    try:
        return os.path.getsize(source)
    except OSError:
        return None
