"""Alerts and SMS tasks in the embedded run: determinism (same input, same task files, whatever
the batch size), the cooldown and event-time expiry over a simulated bank, the alert records."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from riskstream.alerts.tasks import parse_time
from riskstream.config import load_config
from riskstream.engine import Engine
from riskstream.simulate import simulate
from riskstream.stream.embedded import run_embedded

TASK_FILES = ("sms_tasks.jsonl", "sms_sent.jsonl", "alerts.jsonl", "card_blocks.jsonl")


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("bank")
    simulate(customers=150, days=4, seed=5, out_dir=data)
    return data


def run(bank: Path, out: Path, batch_size: int = 2048, **alerts: object) -> dict:
    config = load_config(engine={"batch_size": batch_size}, alerts=alerts)
    summary = run_embedded(bank / "transactions.jsonl", str(out), Engine(config))
    return summary.to_json_dict()


@pytest.fixture(scope="module")
def baseline(bank: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run") / "a"
    return out, run(bank, out)


def test_same_input_same_task_files(bank: Path, baseline, tmp_path: Path) -> None:
    first, _ = baseline
    run(bank, tmp_path / "b")
    for name in (*TASK_FILES, "sms_journal.jsonl", "sms_labels.jsonl", "sms_meta.json"):
        assert (first / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_batch_sizes_do_not_change_the_tasks(bank: Path, baseline, tmp_path: Path) -> None:
    first, _ = baseline
    run(bank, tmp_path / "small", batch_size=37)
    for name in TASK_FILES:
        assert (first / name).read_bytes() == (tmp_path / "small" / name).read_bytes(), name


def test_one_task_per_challenge_one_alert_per_flag(baseline) -> None:
    out, summary = baseline
    decisions = read(out / "decisions.jsonl")
    challenged = [d["tx_id"] for d in decisions if d["decision"] == "challenge"]
    tasks = read(out / "sms_tasks.jsonl")
    assert [t["tx_id"] for t in tasks] == challenged and summary["sms_tasks"] == len(challenged)
    assert len(tasks) >= 10, "the simulated bank should challenge something"
    assert all(t["task_id"] == "sms-" + t["tx_id"] for t in tasks)
    alerts = read(out / "alerts.jsonl")
    flagged = [d for d in decisions if d["decision"] != "allow"]
    assert [a["tx_id"] for a in alerts] == [d["tx_id"] for d in flagged]
    assert summary["alerts"] == len(alerts)
    for alert, decision in zip(alerts, flagged, strict=True):
        assert alert["decision"] == decision["decision"]
        assert alert["rule_hits"] == decision["rule_hits"]
        assert alert["features"] == decision["features"]
        assert ("sms_task_id" in alert) == (alert["decision"] == "challenge")


def test_cooldown_and_event_time_expiry_over_a_whole_run(baseline) -> None:
    out, _ = baseline
    tasks = read(out / "sms_tasks.jsonl")
    sent = read(out / "sms_sent.jsonl")
    leads = [t for t in tasks if t["lead"] == t["task_id"]]
    assert [s["key"] for s in sent] == [t["task_id"] for t in leads]  # every lead sent, once
    assert len(leads) < len(tasks), "some challenges should have joined an open task"
    cooldown = 30 * 60_000
    by_customer: dict[str, list[int]] = defaultdict(list)
    for s, lead in zip(sent, leads, strict=True):
        by_customer[lead["customer_id"]].append(parse_time(s["sent_at"]))
    for times in by_customer.values():
        assert all(b - a >= cooldown for a, b in itertools.pairwise(times))
    watermark = orjson.loads((out / "sms_meta.json").read_bytes())["watermark"]
    by_id = {t["task_id"]: t for t in tasks}
    for task in tasks:
        expires = parse_time(task["expires_at"])
        if task["state"] == "expired":
            assert task["history"][-1]["at"] == task["expires_at"] and expires <= watermark
        else:
            assert task["state"] == "pending" and expires > watermark
        if task["lead"] != task["task_id"]:
            lead = by_id[task["lead"]]
            assert task["task_id"] in lead["members"] and task["state"] == lead["state"]
            assert parse_time(task["event_time"]) < parse_time(lead["sms"]["send_after"]) + cooldown


def test_alerts_can_be_routed_by_decision(bank: Path, tmp_path: Path) -> None:
    sinks = [
        {"kind": "file", "path": "blocks.jsonl", "decisions": ["block"]},
        {"kind": "file", "path": "all.jsonl"},
    ]
    summary = run(bank, tmp_path / "r", sinks=sinks, sms={"sender": {"kind": "none"}})
    blocks, every = read(tmp_path / "r" / "blocks.jsonl"), read(tmp_path / "r" / "all.jsonl")
    assert {a["decision"] for a in blocks} == {"block"}
    assert len(every) == summary["alerts"] > len(blocks) > 0
    assert not (tmp_path / "r" / "alerts.jsonl").exists()
    assert not (tmp_path / "r" / "sms_sent.jsonl").exists()  # sender none: all in the outbox
    journal = read(tmp_path / "r" / "sms_journal.jsonl")
    assert sum(1 for r in journal if r["t"] == "outbox") > 0
