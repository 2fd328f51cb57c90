"""The worker's Prometheus metrics, in a registry of its own (no module-level state).

Counters by decision and dead-letter reason, histograms of end-to-end latency (the record's
Kafka timestamp, set when it was produced, to its decision acknowledged by the brokers), of
each stage's time per micro-batch and of batch sizes, and gauges of consumer lag per
partition. `WorkerMetrics.exposition` renders the text format served on ``/metrics``.

Examples
--------
>>> m = WorkerMetrics()
>>> m.decisions.labels(decision="allow").inc(3)
>>> b"riskstream_decisions_total{decision=\\"allow\\"} 3.0" in m.exposition()[0]
True
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["WorkerMetrics"]

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class WorkerMetrics:
    """Every metric the worker exports; one instance per worker process."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.records_in = Counter(
            "riskstream_records_in", "Input records consumed, by topic", ["topic"], registry=r
        )
        self.decisions = Counter(
            "riskstream_decisions", "Decisions produced, by decision", ["decision"], registry=r
        )
        self.dead_letters = Counter(
            "riskstream_dead_letters", "Dead letters produced, by reason", ["reason"], registry=r
        )
        self.alerts = Counter("riskstream_alerts", "Alerts produced", registry=r)
        self.sms_tasks = Counter("riskstream_sms_tasks", "SMS tasks produced", registry=r)
        self.replays = Counter(
            "riskstream_replays",
            "Transactions seen again after a restart: re-emitted from the store or re-scored",
            ["outcome"],
            registry=r,
        )
        self.labels = Counter("riskstream_labels", "Labels received", ["source"], registry=r)
        self.labels_pending = Gauge(
            "riskstream_labels_pending", "Labels waiting for their label_time", registry=r
        )
        self.rule_reloads = Counter("riskstream_rule_reloads", "Rule sets swapped in", registry=r)
        self.deny_list_entries = Gauge(
            "riskstream_deny_list_entries",
            "Cards blocked and customers held by NO replies, as last read (alerts.deny_list)",
            registry=r,
        )
        self.latency = Histogram(
            "riskstream_end_to_end_latency_seconds",
            "Record produced to Kafka -> its decision acknowledged by Kafka",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.worker_latency = Histogram(
            "riskstream_worker_latency_seconds",
            "Record handed to the agent -> its decision acknowledged by Kafka",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "riskstream_stage_seconds",
            "Time per micro-batch in each stage (decode, score, outputs, store, produce)",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "riskstream_batch_size", "Records per micro-batch", buckets=_BATCH_BUCKETS, registry=r
        )
        self.lag = Gauge(
            "riskstream_consumer_lag",
            "Records behind the partition's end after the last batch",
            ["topic", "partition"],
            registry=r,
        )
        self.ready = Gauge("riskstream_worker_ready", "1 when /readyz answers 200", registry=r)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
