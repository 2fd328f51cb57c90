"""Senders against a real HTTP gateway on loopback that fails, delays, loses acks and refuses;
the file sender; retries left in the outbox."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from alerts_gateway import FakeGateway
from alerts_helpers import MIN, T0

from riskstream.alerts.config import SenderConfig, SmsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.http import RetryingPoster
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.senders import (
    FileSender,
    Gateway,
    SendResult,
    SmsMessage,
    WebhookSender,
    build_sender,
    register_sender,
)
from riskstream.alerts.store import FileTaskStore
from riskstream.errors import AlertError

pytest_plugins = ("alerts_fixtures",)

MSG = SmsMessage("sms-tx1", "sms-tx1", "cu1", "en", "Did you just pay 4,800.00 EUR at Shop X?")


def webhook(gateway: FakeGateway, contacts: ContactStore, sleeps: list[float] | None = None,
            **kw: float) -> WebhookSender:  # fmt: skip
    options = {"timeout_s": 2.0, "max_attempts": 5, "backoff_base_s": 0.05, "seed": 3} | kw
    sleep = sleeps.append if sleeps is not None else time.sleep
    poster = RetryingPoster(**options, sleep=sleep)  # type: ignore[arg-type]
    return WebhookSender(gateway.url, contacts, poster, token="t0ken")


def test_retries_with_seeded_backoff_until_the_gateway_accepts(
    gateway: FakeGateway, contacts: ContactStore
) -> None:
    gateway.script("fail", "fail", "ok")
    sleeps: list[float] = []
    result = webhook(gateway, contacts, sleeps).send(MSG, T0)
    assert (result.status, result.attempts, result.gateway_id) == ("accepted", 3, "gw-sms-tx1")
    assert gateway.keys_received() == ["sms-tx1"] * 3
    expected = RetryingPoster(backoff_base_s=0.05, seed=3)
    assert sleeps == [expected.backoff(0), expected.backoff(1)]
    assert 0 <= sleeps[0] <= 0.05 and 0 <= sleeps[1] <= 0.1
    delivered = gateway.delivered["sms-tx1"]
    assert delivered["to"] == "+4915000847647"  # only the gateway sees the number
    assert delivered["text"] == MSG.text and delivered["reference"] == "sms-tx1"
    headers = gateway.requests[0]["headers"]
    assert headers["Idempotency-Key"] == "sms-tx1" and headers["Authorization"] == "Bearer t0ken"


def test_real_backoff_sleeps_happen(gateway: FakeGateway, contacts: ContactStore) -> None:
    gateway.script("fail", "fail", "fail")
    started = time.monotonic()
    result = webhook(gateway, contacts, backoff_base_s=0.1, max_attempts=4).send(MSG, T0)
    assert result.status == "accepted" and result.attempts == 4
    times = [r["time"] for r in gateway.requests]
    expected = RetryingPoster(backoff_base_s=0.1, seed=3)
    waits = [expected.backoff(n) for n in range(3)]
    assert time.monotonic() - started >= sum(waits)
    assert all(b - a >= w * 0.9 for a, b, w in zip(times, times[1:], waits, strict=False))


def test_a_slow_gateway_times_out_and_sees_the_message_once(
    gateway: FakeGateway, contacts: ContactStore
) -> None:
    gateway.script("delay:0.8")
    result = webhook(gateway, contacts, timeout_s=0.25).send(MSG, T0)
    assert result.status == "accepted" and result.attempts == 2
    time.sleep(0.8)  # let the delayed request finish on the gateway's side
    assert gateway.keys_received() == ["sms-tx1", "sms-tx1"]
    assert list(gateway.delivered) == ["sms-tx1"]


def test_a_lost_acknowledgement_is_retried_and_deduplicated(
    gateway: FakeGateway, contacts: ContactStore
) -> None:
    gateway.script("lose_ack")
    result = webhook(gateway, contacts).send(MSG, T0)
    assert result.status == "accepted" and result.attempts == 2
    assert len(gateway.requests) == 2 and len(gateway.delivered) == 1


def test_a_refusal_is_final_and_not_retried(gateway: FakeGateway, contacts: ContactStore) -> None:
    gateway.script("refuse")
    result = webhook(gateway, contacts).send(MSG, T0)
    assert (result.status, result.attempts, result.detail) == ("refused", 1, "HTTP 400")
    assert gateway.delivered == {}


def test_a_refused_sms_fails_its_task(
    gateway: FakeGateway, contacts: ContactStore, tmp_path: Path
) -> None:
    store = FileTaskStore(tmp_path / "s", time_mode="event")
    m = SmsTaskManager(
        store, SmsConfig(), contacts, MerchantDirectory.empty(), webhook(gateway, contacts)
    )
    m.challenge("tx1", "cu1", 10.0, "EUR", None, None, T0, T0)
    gateway.script("refuse")
    assert m.dispatch(T0)["refused"] == 1
    assert store.get("sms-tx1").state.value == "failed" and store.outbox() == []


def test_exhausted_retries_leave_the_sms_in_the_outbox(
    gateway: FakeGateway, contacts: ContactStore, tmp_path: Path
) -> None:
    store = FileTaskStore(tmp_path / "s", time_mode="event")
    sender = webhook(gateway, contacts, [], max_attempts=2)
    m = SmsTaskManager(store, SmsConfig(), contacts, MerchantDirectory.empty(), sender)
    m.challenge("tx1", "cu1", 10.0, "EUR", None, None, T0, T0)
    gateway.script("fail", "fail")
    assert m.dispatch(T0) == {"sent": 0, "refused": 0, "retry": 1, "skipped": 0}
    assert [e.key for e in store.outbox()] == ["sms-tx1"]
    assert store.get("sms-tx1").history[-1]["event"] == "send_retry"
    assert m.dispatch(T0 + MIN)["sent"] == 1 and store.outbox() == []
    task = store.get("sms-tx1")
    assert task.sms["attempts"] == 3 and list(gateway.delivered) == ["sms-tx1"]


def test_an_unreachable_gateway_is_a_retry_not_a_crash(contacts: ContactStore) -> None:
    poster = RetryingPoster(timeout_s=0.5, max_attempts=2, sleep=lambda s: None)
    sender = WebhookSender("http://127.0.0.1:9/send", contacts, poster)
    result = sender.send(MSG, T0)
    assert result.status == "retry" and result.attempts == 2


def test_the_file_sender_writes_once_per_key_with_the_number_masked(
    tmp_path: Path, contacts: ContactStore
) -> None:

    path = tmp_path / "sms_sent.jsonl"
    FileSender(path, contacts).send(MSG, T0)
    FileSender(path, contacts).send(MSG, T0 + 1)  # a restarted sender still knows the key
    [line] = path.read_bytes().splitlines()
    record = orjson.loads(line)
    assert record["to"] == "+49*********47" and "15000847647" not in line.decode()


def test_senders_are_pluggable(tmp_path: Path, contacts: ContactStore) -> None:
    class Recorder(Gateway):
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send(self, message: SmsMessage, now: int) -> SendResult:
            self.sent.append(message.key)
            return SendResult("accepted")

    recorder = Recorder()
    register_sender("recorder", lambda *_: recorder)
    assert build_sender(SenderConfig(kind="recorder"), contacts, None) is recorder
    assert build_sender(SenderConfig(kind="none"), contacts, None) is None
    with pytest.raises(AlertError, match="unknown SMS sender kind"):
        build_sender(SenderConfig(kind="pigeon"), contacts, None)
    with pytest.raises(AlertError, match="url is required"):
        build_sender(SenderConfig(kind="webhook"), contacts, None)
