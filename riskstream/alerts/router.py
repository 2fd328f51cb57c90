"""Alert records and their routing: every review, challenge and block becomes an alert, sent to
the sinks the configuration names (a file, a webhook; the worker adds a Kafka topic).

An alert carries the decision, its score and model score, the rules hit, the feature values
those rules read, the transaction's amount, currency, merchant and masked card, the rule-set
hash and model snapshot, and the SMS task id of a challenge. Every string in it has been
through `riskstream.alerts.masking.mask_value`. Building alerts touches only the rows whose
decision alerts (review and above), never the allowed ones.

Sinks implement `AlertSink` (``emit(records)``, ``close()``) and are built from the config's
``alerts.sinks`` list, each entry ``{kind: ..., decisions: [...] (optional filter), ...}``:

- ``file``: ``path`` (relative to the run's output directory; default ``alerts.jsonl``);
- ``webhook``: ``url``, optional ``secret_env`` (HMAC-signs each POST, see
  `riskstream.alerts.signing`), ``timeout_s``, ``max_attempts``; a batch that cannot be
  delivered after its retries raises `AlertError` (loudly, never dropped silently);
- anything else registered with `register_sink` (``kafka`` is the worker's).
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from riskstream.alerts.config import AlertsConfig, secret_from_env
from riskstream.alerts.http import RetryingPoster
from riskstream.alerts.masking import mask_card, mask_value
from riskstream.alerts.signing import sign_headers
from riskstream.decisions import CHALLENGE, DECISION_NAMES
from riskstream.engine import DecisionBatch
from riskstream.errors import AlertError, ConfigError

__all__ = [
    "AlertRouter",
    "AlertSink",
    "FileAlertSink",
    "SinkContext",
    "WebhookAlertSink",
    "alert_records",
    "build_router",
    "register_sink",
]

_NO_HITS: dict[str, Any] = {"rule_hits": [], "shadow_hits": [], "features": {}}


def alert_records(
    db: DecisionBatch, alert_codes: frozenset[int], rows: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """An alert for every row of ``db`` whose decision is in ``alert_codes``, in row order."""
    from riskstream.stream.records import iso_times

    batch = db.batch
    codes = db.decision
    if rows is None:
        rows = np.flatnonzero(np.isin(codes, list(alert_codes)))
    if len(rows) == 0:
        return []
    times = iso_times(batch.timestamp[rows])
    fraud_probability = getattr(db, "fraud_probability", None)
    records = []
    for k, i in enumerate(rows.tolist()):
        why = db.explanations.get(i, _NO_HITS)
        card = batch.card_id[i]
        record = {
            "alert_id": f"alert-{batch.tx_id[i]}",
            "tx_id": batch.tx_id[i],
            "customer_id": batch.customer_id[i],
            "decision": DECISION_NAMES[codes[i]],
            "score": round(float(db.score[i]), 6),
            "model_score": round(float(db.model_score[i]), 6),
            "rule_hits": list(why["rule_hits"]),
            "features": mask_value(why["features"]),
            "amount": float(batch.amount[i]),
            "currency": batch.currency[i],
            "merchant_id": batch.merchant_id[i],
            "card": mask_card(card) if card else None,
            "event_time": times[k],
            "ruleset_hash": db.ruleset_hash,
            "model_snapshot": db.model_snapshot,
        }
        if fraud_probability is not None and np.isfinite(fraud_probability[i]):
            record["fraud_probability"] = round(float(fraud_probability[i]), 6)
        if why.get("tags"):
            record["tags"] = list(why["tags"])
        if codes[i] == CHALLENGE:
            record["sms_task_id"] = f"sms-{batch.tx_id[i]}"
        records.append(record)
    return records


class AlertSink(ABC):
    """Where alerts go. ``emit`` gets the records of one micro-batch (masked already)."""

    @abstractmethod
    def emit(self, records: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Flush and release."""


class FileAlertSink(AlertSink):
    """Alerts as JSON lines in a file (truncated when the sink opens: a run rewrites it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._handle: IO[bytes] = open(self.path, "wb")  # noqa: SIM115
        except OSError as exc:
            raise AlertError(f"cannot write alerts to {path}: {exc.strerror}") from exc

    def emit(self, records: Sequence[dict[str, Any]]) -> None:
        self._handle.write(
            b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)
        )
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class WebhookAlertSink(AlertSink):
    """POSTs ``{"alerts": [...]}`` per micro-batch, retried, signed when a secret is set.

    The idempotency key is a hash of the alert ids, so a retried batch is recognisable.
    """

    def __init__(
        self,
        url: str,
        poster: RetryingPoster | None = None,
        secret: bytes | None = None,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.poster = poster or RetryingPoster()
        self.secret = secret
        self.clock_s = clock_s

    def emit(self, records: Sequence[dict[str, Any]]) -> None:
        body = orjson.dumps({"alerts": list(records)})
        ids = "\n".join(r["alert_id"] for r in records).encode("utf-8")
        key = "alerts-" + hashlib.sha256(ids).hexdigest()[:32]
        headers = sign_headers(self.secret, int(self.clock_s()), body) if self.secret else {}
        result = self.poster.post(self.url, body, key, headers)
        if result.outcome != "ok":
            raise AlertError(
                f"alert webhook did not take {len(records)} alerts: {result.detail} "
                f"after {result.attempts} attempt(s)"
            )


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory may need: the run's output directory (None when streaming)."""

    out_dir: Path | None


_FACTORIES: dict[str, Callable[[Mapping[str, Any], SinkContext], AlertSink | None]] = {}


def register_sink(
    kind: str, factory: Callable[[Mapping[str, Any], SinkContext], AlertSink | None]
) -> None:
    """Make ``alerts.sinks: [{kind: KIND, ...}]`` build ``factory(spec, context)``.

    A factory may return None when the sink does not apply (a file sink without an output
    directory). The worker registers ``kafka`` this way.
    """
    _FACTORIES[kind] = factory


def _file_sink(spec: Mapping[str, Any], ctx: SinkContext) -> AlertSink | None:
    path = Path(str(spec.get("path", "alerts.jsonl")))
    if not path.is_absolute():
        if ctx.out_dir is None:
            return None
        path = ctx.out_dir / path
    return FileAlertSink(path)


def _webhook_sink(spec: Mapping[str, Any], ctx: SinkContext) -> AlertSink:
    if not spec.get("url"):
        raise ConfigError("alerts.sinks: a webhook sink needs a url")
    poster = RetryingPoster(
        float(spec.get("timeout_s", 5.0)),
        int(spec.get("max_attempts", 5)),
        float(spec.get("backoff_base_s", 0.2)),
        float(spec.get("backoff_max_s", 10.0)),
        int(spec.get("seed", 0)),
    )
    secret_env = spec.get("secret_env")
    secret = secret_from_env(secret_env, "alert webhook") if secret_env else None
    return WebhookAlertSink(str(spec["url"]), poster, secret)


register_sink("file", _file_sink)
register_sink("webhook", _webhook_sink)


class AlertRouter:
    """Sends each batch of alerts to every sink whose decision filter lets it through.

    Parameters
    ----------
    routes
        ``(sink, decisions)`` pairs; ``decisions`` None means every alert.
    """

    def __init__(self, routes: Sequence[tuple[AlertSink, frozenset[str] | None]]) -> None:
        self.routes = list(routes)

    def route(self, records: Sequence[dict[str, Any]]) -> int:
        """Emit ``records``; returns how many there were."""
        if not records:
            return 0
        for sink, decisions in self.routes:
            chosen = (
                records if decisions is None else [r for r in records if r["decision"] in decisions]
            )
            if chosen:
                sink.emit(chosen)
        return len(records)

    def close(self) -> None:
        for sink, _ in self.routes:
            sink.close()


def build_router(config: AlertsConfig, out_dir: Path | None) -> AlertRouter:
    """The router of ``config.sinks``; unknown kinds are a `ConfigError`."""
    ctx = SinkContext(out_dir)
    routes: list[tuple[AlertSink, frozenset[str] | None]] = []
    for spec in config.sinks:
        kind = spec.get("kind")
        factory = _FACTORIES.get(str(kind))
        if factory is None:
            known = ", ".join(sorted(_FACTORIES))
            raise ConfigError(f"alerts.sinks: unknown sink kind {kind!r} (known: {known})")
        sink = factory(spec, ctx)
        if sink is not None:
            wanted = spec.get("decisions")
            routes.append((sink, frozenset(wanted) if wanted else None))
    return AlertRouter(routes)
