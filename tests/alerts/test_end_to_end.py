"""End to end: simulate a bank, add payments with real-looking card numbers, run the engine
(SMS through a webhook gateway on loopback, alerts to a file and a webhook), answer by the
command line and by the signed callback, then grep every output and log file for a phone or
card number in clear. Also: the labels and blocks the replies emit are usable downstream."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from alerts_gateway import FakeGateway

from riskstream.alerts.callback import create_callback_app
from riskstream.alerts.config import SmsConfig
from riskstream.alerts.denylist import DenyList
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.masking import get_logger
from riskstream.alerts.signing import sign_headers
from riskstream.alerts.store import FileTaskStore
from riskstream.alerts.tasks import parse_time
from riskstream.simulate import simulate
from riskstream.stream.labels import read_labels

pytest_plugins = ("alerts_fixtures",)


PANS = ("4111111111111111", "5500 0000 0000 0004", "3400-000000-00009")
RULES = """
version: 1
rules:
  - {id: huge_payment, when: amount > 7000, action: challenge, score: 0.9}
  - {id: big_transfer, when: type == "transfer" and amount > 1500, action: challenge, score: 0.8}
  - {id: tiny_burst, when: amount < 5 and customer.tx_count_1h >= 4, action: block, score: 0.95}
  - {id: large, when: amount > 2500, action: review, score: 0.6}
"""
SECRET = b"e2e-secret"


def cli(*args: str, log: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    code = "import sys; from riskstream.alerts.cli import sms; sms(sys.argv[1:])"
    if args[0] == "run":
        code = "import sys; from riskstream.cli import main; main(sys.argv[1:])"
        args = ("--log-level", "debug", *args)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, env=env, timeout=120
    )
    with open(log, "ab") as handle:
        handle.write(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr.decode()
    return done


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("e2e") / "data"
    simulate(customers=60, days=3, seed=11, out_dir=data)
    return data


def test_no_number_in_clear_anywhere(bank: Path, tmp_path: Path, gateway: FakeGateway) -> None:
    contacts = [orjson.loads(x) for x in (bank / "contacts.jsonl").read_bytes().splitlines()]
    a, b = contacts[1]["customer_id"], contacts[2]["customer_id"]
    source = tmp_path / "transactions.jsonl"
    extra = [
        {"tx_id": "pan-0", "customer_id": a, "amount": 9000.0, "card_id": PANS[0],
         "timestamp": "2026-01-04T12:00:00Z"},
        {"tx_id": "pan-1", "customer_id": a, "amount": 8000.0, "card_id": PANS[1],
         "timestamp": "2026-01-04T12:02:00Z"},
        {"tx_id": "pan-2", "customer_id": b, "amount": 7500.0, "card_id": PANS[2],
         "timestamp": "2026-01-04T12:03:00Z"},
    ]  # fmt: skip
    lines = [
        orjson.dumps({**e, "currency": "EUR", "merchant_id": "me000001", "channel": "ecom"})
        for e in extra
    ]
    source.write_bytes((bank / "transactions.jsonl").read_bytes() + b"\n".join(lines) + b"\n")
    for name in ("contacts.jsonl", "merchants.jsonl"):
        (tmp_path / name).write_bytes((bank / name).read_bytes())
    (tmp_path / "rules.yaml").write_text(RULES)
    alert_url = gateway.url.replace("/send", "/alerts")
    config = {
        "rules": {"path": "rules.yaml"},
        "policy": {"block_threshold": None},  # the model alone never blocks here
        "alerts": {
            "sinks": [{"kind": "file"}, {"kind": "webhook", "url": alert_url}],
            "sms": {"sender": {"kind": "webhook", "url": gateway.url, "backoff_base_s": 0.01}},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    out, log = tmp_path / "run", tmp_path / "logs.txt"
    gateway.script("fail", "lose_ack")  # some retries, so the sender logs

    cli("run", "--input", str(source), "--out", str(out), "--config", str(tmp_path / "config.yaml"),
        log=log)  # fmt: skip
    tasks = [orjson.loads(x) for x in (out / "sms_tasks.jsonl").read_bytes().splitlines()]
    by_id = {t["task_id"]: t for t in tasks}
    assert by_id["sms-pan-1"]["lead"] == "sms-pan-0" and by_id["sms-pan-0"]["state"] == "pending"
    assert by_id["sms-pan-0"]["card"] == "************1111"
    sms_sent = [
        r for r in gateway.requests if r["headers"].get("Idempotency-Key", "")[:4] == "sms-"
    ]
    assert {r["body"]["to"] for r in sms_sent} <= {c["phone"] for c in contacts}  # gateway only

    cli("reply", "--task", "sms-pan-1", "--answer", "no", "--store", str(out), log=log)
    cli("list", "--store", str(out), "--limit", "0", log=log)
    cli("show", "--task", "sms-pan-0", "--store", str(out), log=log)
    _callback_reply(out, contacts, b, log)

    labels = [orjson.loads(x) for x in (out / "sms_labels.jsonl").read_bytes().splitlines()]
    assert [(lab["tx_id"], lab["is_fraud"]) for lab in labels] == [
        ("pan-0", True), ("pan-1", True), ("pan-2", False)
    ]  # fmt: skip
    feed, rejected = read_labels(out / "sms_labels.jsonl")  # usable as `run --labels`
    assert feed.pending == 3 and rejected == []
    deny = DenyList.load(out / "card_blocks.jsonl")
    cards = np.array([PANS[0], PANS[1], PANS[2], None], dtype=object)
    later = np.full(4, parse_time("2026-01-05T00:00:00Z"))
    assert deny.blocked_cards(cards, later).tolist() == [True, True, False, False]
    _later_payments_on_denied_cards_are_blocked(out, tmp_path, a, b, log)

    _assert_masked(out, [log, tmp_path / "callback.log"], contacts, gateway)


def _later_payments_on_denied_cards_are_blocked(
    out: Path, tmp_path: Path, a: str, b: str, log: Path
) -> None:
    """`run --deny-list` with the replies' store: from its block time on, an ordinary payment
    on a denied card is blocked by the shipped rule; before it, and on other cards, it is not."""
    blocks = (out / "card_blocks.jsonl").read_bytes().splitlines()
    blocked_at = min(orjson.loads(line)["blocked_at"] for line in blocks)
    follow = [
        ("before", a, PANS[0], "2026-01-01T08:00:00Z"),
        ("after-0", a, PANS[0], "2026-01-06T10:00:00Z"),
        ("after-1", a, PANS[1], "2026-01-06T10:05:00Z"),
        ("other-card", b, PANS[2], "2026-01-06T10:10:00Z"),
    ]
    assert follow[0][3] < blocked_at < follow[1][3]
    source = tmp_path / "follow.jsonl"
    source.write_bytes(
        b"".join(
            orjson.dumps(
                {"tx_id": tx, "customer_id": customer, "amount": 25.0, "currency": "EUR",
                 "card_id": card, "timestamp": at, "merchant_id": "me000001", "channel": "pos"}
            ) + b"\n"
            for tx, customer, card, at in follow
        )
    )  # fmt: skip
    run2 = tmp_path / "run2"
    cli("run", "--input", str(source), "--out", str(run2), "--deny-list", str(out), log=log)
    decided = {
        d["tx_id"]: d
        for d in map(orjson.loads, (run2 / "decisions.jsonl").read_bytes().splitlines())
    }
    hit = {tx: "sms_denied_card" in d["rule_hits"] for tx, d in decided.items()}
    assert hit == {"before": False, "after-0": True, "after-1": True, "other-card": False}
    assert decided["after-0"]["decision"] == decided["after-1"]["decision"] == "block"
    assert decided["after-0"]["features"]["card.blocked"] is True


def _callback_reply(out: Path, contacts: list[dict], customer: str, log: Path) -> None:
    """A YES from customer ``b``'s phone through the signed callback, logging at DEBUG."""
    handler = logging.FileHandler(log.parent / "callback.log")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        now = parse_time("2026-01-04T12:05:00Z")
        store = FileTaskStore(out)
        phone = next(c["phone"] for c in contacts if c["customer_id"] == customer)
        manager = SmsTaskManager(
            store, SmsConfig(), ContactStore.load(out.parent / "contacts.jsonl"),
            MerchantDirectory.empty(), clock=lambda: now,
        )  # fmt: skip
        get_logger("riskstream.alerts.test").info("reply from %s", phone)
        app = create_callback_app(manager, SECRET)
        body = orjson.dumps({"id": "evt-1", "from": phone, "text": "YES"})

        async def go() -> int:
            async with TestClient(TestServer(app)) as client:
                resp = await client.post(
                    "/reply", data=body, headers=sign_headers(SECRET, now // 1000, body)
                )
                return resp.status

        assert asyncio.run(go()) == 200
        store.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def _assert_masked(out: Path, logs: list[Path], contacts: list[dict], gw: FakeGateway) -> None:
    secrets: list[str] = []
    for c in contacts:
        secrets += [c["phone"], c["phone"].lstrip("+")]
    for pan in PANS:
        secrets += [pan, "".join(ch for ch in pan if ch.isdigit())]
    files = [p for p in out.rglob("*") if p.is_file()] + logs
    assert len(files) >= 12
    texts = {str(p): p.read_bytes().decode("utf-8", "replace") for p in files}
    alert_posts = [
        r for r in gw.requests if r["headers"].get("Idempotency-Key", "")[:7] == "alerts-"
    ]
    assert alert_posts, "the alert webhook got nothing"
    texts["alert webhook bodies"] = orjson.dumps([r["body"] for r in alert_posts]).decode()
    leaks = [(name, s) for name, text in texts.items() for s in secrets if s in text]
    assert leaks == []
    everything = "".join(texts.values())
    assert "************1111" in everything and "+49" in everything  # masks, not absence
    assert "reply from +" in texts[str(logs[1])]  # the log line exists, masked
