"""What the demo shows: the task overview, and a reply on a pending or restored task."""

from __future__ import annotations

from pathlib import Path

from alerts_helpers import CONTACTS, MIN, T0

from riskstream.alerts.config import SmsConfig
from riskstream.alerts.directory import ContactStore, MerchantDirectory
from riskstream.alerts.manager import SmsTaskManager
from riskstream.alerts.senders import FileSender
from riskstream.alerts.showcase import example_reply, task_overview
from riskstream.alerts.store import FileTaskStore


def make_store(path: Path, expire: bool) -> None:
    store = FileTaskStore(path, fresh=True, time_mode="event")
    contacts = ContactStore(CONTACTS)
    sender = FileSender(path / "sms_sent.jsonl", contacts)
    m = SmsTaskManager(store, SmsConfig(), contacts, MerchantDirectory.empty(), sender)
    m.challenge("tx1", "cu1", 4800.0, "EUR", None, "card_a", T0, T0)
    m.challenge("tx2", "cu1", 20.0, "EUR", None, "card_b", T0 + MIN, T0 + MIN)
    m.challenge("tx3", "cu2", 30.0, "CNY", None, None, T0 + MIN, T0 + MIN)
    m.dispatch(T0 + MIN)
    if expire:
        m.expire_due(T0 + 60 * MIN)
    store.close()


def test_overview_counts_and_examples(tmp_path: Path) -> None:
    make_store(tmp_path / "run", expire=True)
    overview = task_overview(tmp_path / "run")
    assert (overview.tasks, overview.sms, overview.joined) == (3, 2, 1)
    assert overview.states == {"expired": 3}
    assert [e["language"] for e in overview.examples] == ["en", "zh"]
    assert all("*" in e["to"] for e in overview.examples)


def test_reply_on_a_restored_task_leaves_the_run_alone(tmp_path: Path) -> None:
    make_store(tmp_path / "run", expire=True)
    before = (tmp_path / "run" / "sms_tasks.jsonl").read_bytes()
    reply = example_reply(tmp_path / "run", tmp_path / "live")
    assert reply is not None and reply.restored and reply.store == tmp_path / "live"
    assert reply.lines[0] == "sms-tx1: pending -> denied at 2026-01-01T00:01:30.000Z"
    assert reply.lines[1].startswith("sms-tx2: pending -> denied")
    assert sum(x.startswith("label: ") for x in reply.lines) == 2
    assert sum(x.startswith("blocked: ") for x in reply.lines) == 2
    assert (tmp_path / "run" / "sms_tasks.jsonl").read_bytes() == before


def test_reply_on_a_pending_task_happens_in_the_run_store(tmp_path: Path) -> None:
    make_store(tmp_path / "run", expire=False)
    reply = example_reply(tmp_path / "run", tmp_path / "live", answer="yes")
    assert reply is not None and not reply.restored and reply.store == tmp_path / "run"
    assert "pending -> confirmed" in reply.lines[0]
    assert not (tmp_path / "live").exists()
