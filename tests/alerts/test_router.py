"""The alert router: records, masking, decision filters, the signed webhook sink against the
loopback server, a custom sink (how the worker adds Kafka), configuration errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from alerts_gateway import FakeGateway

from riskstream.alerts.config import AlertsConfig
from riskstream.alerts.http import RetryingPoster
from riskstream.alerts.router import (
    AlertSink,
    SinkContext,
    WebhookAlertSink,
    alert_records,
    build_router,
    register_sink,
)
from riskstream.alerts.signing import verify
from riskstream.batch import TxBatch
from riskstream.engine import DecisionBatch
from riskstream.errors import AlertError, ConfigError

pytest_plugins = ("alerts_fixtures",)


def decision_batch() -> DecisionBatch:
    batch = TxBatch.empty()
    n = 4
    cols = {f: getattr(batch, f) for f in batch.columns()}
    for name, col in cols.items():
        if col.dtype == object:
            cols[name] = np.array([None] * n, dtype=object)
        elif col.dtype == np.float64:
            cols[name] = np.full(n, np.nan)
        else:
            cols[name] = np.zeros(n, dtype=np.int64)
    cols["tx_id"] = np.array(["t0", "t1", "t2", "t3"], dtype=object)
    cols["customer_id"] = np.array(["cu1"] * n, dtype=object)
    cols["currency"] = np.array(["EUR"] * n, dtype=object)
    cols["amount"] = np.array([10.0, 9000.0, 20.0, 5000.0])
    cols["timestamp"] = np.array([1767225600000 + i for i in range(n)], dtype=np.int64)
    cols["card_id"] = np.array([None, "4111111111111111", "card_x", "card_y"], dtype=object)
    why = {
        "rule_hits": ["r1"],
        "shadow_hits": [],
        "features": {"amount": 9000.0, "note": "call +4915000847647"},
        "tags": ["t"],
    }
    return DecisionBatch(
        batch=TxBatch(**cols),
        decision=np.array([0, 2, 1, 3], dtype=np.int8),
        score=np.array([0.1, 0.9, 0.6, 0.99]),
        model_score=np.array([0.1, 0.5, 0.5, 0.5]),
        fraud_probability=np.full(n, np.nan),
        explanations={1: why, 3: {**why, "rule_hits": ["r9"]}},
        ruleset_hash="h",
        model_snapshot="m",
    )


def test_alert_records_carry_the_decision_rules_and_features_masked() -> None:
    records = alert_records(decision_batch(), frozenset({1, 2, 3}))
    assert [(r["tx_id"], r["decision"]) for r in records] == [
        ("t1", "challenge"), ("t2", "review"), ("t3", "block")
    ]  # fmt: skip
    first = records[0]
    assert first["rule_hits"] == ["r1"] and first["features"]["amount"] == 9000.0
    assert first["features"]["note"] == "call +49*********47"
    assert first["card"] == "************1111" and first["sms_task_id"] == "sms-t1"
    assert records[1]["rule_hits"] == [] and "sms_task_id" not in records[1]
    assert "4111111111111111" not in orjson.dumps(records).decode()


def test_the_webhook_sink_signs_retries_and_fails_loudly(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:

    records = alert_records(decision_batch(), frozenset({1, 2, 3}))
    poster = RetryingPoster(max_attempts=2, sleep=lambda s: None)
    sink = WebhookAlertSink(gateway.url, poster, secret=b"s3cret", clock_s=lambda: 1767225600)
    gateway.script("fail")
    sink.emit(records)
    first, second = gateway.requests
    body = orjson.dumps(first["body"])
    headers = second["headers"]
    assert first["key"] == second["key"] and first["key"].startswith("alerts-")
    assert second["body"]["alerts"] == records
    stamp, sig = headers["X-Riskstream-Timestamp"], headers["X-Riskstream-Signature"]
    assert verify(b"s3cret", stamp, sig, body, 1767225600, 300) == "ok"
    gateway.script("fail", "fail")
    with pytest.raises(AlertError, match="did not take 3 alerts"):
        sink.emit(records)


def test_custom_sinks_plug_in_by_kind(tmp_path: Path) -> None:
    got: list[list[dict[str, Any]]] = []

    class ListSink(AlertSink):
        def __init__(self, spec: Mapping[str, Any], ctx: SinkContext) -> None:
            self.topic = spec["topic"]

        def emit(self, records: Sequence[dict[str, Any]]) -> None:
            got.append([{**r, "topic": self.topic} for r in records])

    register_sink("kafka-test", ListSink)
    config = AlertsConfig.from_mapping(
        {"sinks": [{"kind": "kafka-test", "topic": "alerts", "decisions": ["block", "review"]}]}
    )
    router = build_router(config, tmp_path)
    assert router.route(alert_records(decision_batch(), config.alert_codes)) == 3
    assert [(r["tx_id"], r["topic"]) for r in got[0]] == [("t2", "alerts"), ("t3", "alerts")]
    router.close()


def test_configuration_errors_are_reported() -> None:
    with pytest.raises(ConfigError, match="unknown sink kind"):
        build_router(AlertsConfig.from_mapping({"sinks": [{"kind": "carrier-pigeon"}]}), None)
    with pytest.raises(ConfigError, match="needs a url"):
        build_router(AlertsConfig.from_mapping({"sinks": [{"kind": "webhook"}]}), None)
    with pytest.raises(ConfigError, match="unknown decisions"):
        AlertsConfig.from_mapping({"decisions": ["maybe"]})
    with pytest.raises(ConfigError, match="alerts config"):
        AlertsConfig.from_mapping({"sms": {"cooldwn_minutes": 3}})
    with pytest.raises(ConfigError, match="RISKSTREAM_NOPE"):
        build_router(
            AlertsConfig.from_mapping(
                {"sinks": [{"kind": "webhook", "url": "http://x", "secret_env": "RISKSTREAM_NOPE"}]}
            ),
            None,
        )
    # a file sink without an output directory (decisions on stdout) is simply absent
    assert build_router(AlertsConfig.from_mapping({}), None).routes == []
